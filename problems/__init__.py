"""Framework-neutral problem definitions: `get_problem(name, **options)`.

Each problem is a frozen dataclass holding its data, its parameter layout (`network`), a float64
reference (`reference(params)`) and its accuracy contract (`tolerance(strategy, dtype, params)`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from problems.errors import BenchInputError, unknown_name
from problems.network import (
    SEED_NETWORK,
    MLPSpec,
    init_params,
    load_params,
    save_params,
    validate_params,
)
from problems.penalty import DTYPES, PenaltyProblem

PROBLEMS: dict[str, Callable] = {
    "penalty": PenaltyProblem,
}


def get_problem(name: str, **options):
    """Build a registered problem; unknown names or options raise a BenchInputError."""
    if name not in PROBLEMS:
        raise unknown_name("problem", name, PROBLEMS)
    factory = PROBLEMS[name]
    valid = [p for p in inspect.signature(factory).parameters if p not in ("name", "kind")]
    bad = sorted(set(options) - set(valid))
    if bad:
        raise BenchInputError(
            f"problem {name!r} has no option(s) {', '.join(bad)}; valid options: {', '.join(valid)}"
        )
    return factory(**options)


__all__ = [
    "DTYPES",
    "PROBLEMS",
    "SEED_NETWORK",
    "BenchInputError",
    "MLPSpec",
    "PenaltyProblem",
    "get_problem",
    "init_params",
    "load_params",
    "save_params",
    "validate_params",
]

from problems.lv_ude import LVUDEProblem  # noqa: E402

PROBLEMS["lv-ude"] = LVUDEProblem
__all__ += ["LVUDEProblem"]

from problems.derivative_order import DerivativeOrderProblem  # noqa: E402

PROBLEMS["derivative-order"] = DerivativeOrderProblem
__all__ += ["DerivativeOrderProblem"]

from problems.pinn import BiharmonicProblem, PoissonProblem  # noqa: E402

PROBLEMS["poisson"] = PoissonProblem
PROBLEMS["biharmonic"] = BiharmonicProblem
__all__ += ["BiharmonicProblem", "PoissonProblem"]
