"""The torch backend's strategy registry; each problem module registers its strategies here."""

from backends.base import StrategyRegistry

registry = StrategyRegistry("torch")
