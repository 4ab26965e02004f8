"""Framework-neutral problem definitions: `get_problem(name, **options)`.

Each problem is a frozen dataclass implementing `Problem` (`problems/core.py`): its options, its
parameter layout (`network`), its data, a float64 reference (`reference(params)`), its accuracy
contract (`tolerance(strategy, dtype, params)`, `compare`) and, through its `kind`, the catalogue of
strategies that apply to it. A problem module registers itself; this package imports the modules
named in PROBLEM_MODULES (the one line a new problem adds) and offers a flat namespace.
"""

from __future__ import annotations

import importlib

from problems.core import (
    CATALOGUES,
    DTYPES,
    PROBLEMS,
    Catalogue,
    Problem,
    Strategy,
    catalogue,
    get_problem,
    problem_options,
    register_problem,
)
from problems.errors import BenchInputError
from problems.models import MODEL_KINDS, ModelSpec, model_from_options, register_model
from problems.network import (
    SEED_NETWORK,
    MLPSpec,
    init_params,
    load_params,
    save_params,
    validate_params,
)

PROBLEM_MODULES = ("penalty", "lv_ude", "derivative_order", "pinn")
"""Modules of this package that define problems; backends implement a module of the same name."""

for _module in PROBLEM_MODULES:
    importlib.import_module(f"{__name__}.{_module}")

from problems.derivative_order import DerivativeOrderProblem  # noqa: E402
from problems.lv_ude import LVUDEProblem  # noqa: E402
from problems.penalty import PenaltyProblem  # noqa: E402
from problems.pinn import BiharmonicProblem, PoissonProblem  # noqa: E402

__all__ = [
    "CATALOGUES",
    "DTYPES",
    "PROBLEMS",
    "PROBLEM_MODULES",
    "SEED_NETWORK",
    "BenchInputError",
    "BiharmonicProblem",
    "Catalogue",
    "DerivativeOrderProblem",
    "LVUDEProblem",
    "MLPSpec",
    "MODEL_KINDS",
    "ModelSpec",
    "PenaltyProblem",
    "PoissonProblem",
    "Problem",
    "Strategy",
    "catalogue",
    "get_problem",
    "init_params",
    "load_params",
    "model_from_options",
    "problem_options",
    "register_model",
    "register_problem",
    "save_params",
    "validate_params",
]
