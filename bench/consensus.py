"""The float64 consensus: the reference of a model no independent reference can evaluate.

A user's own module (`problems/user_models.py`) has no hand-written Taylor propagation, so its
cases are checked against its own framework, in float64 on the CPU, made trustworthy by two
checks that share nothing above the framework's primitives:

1. Two exact strategies agree: nested reverse (`rev-over-rev`, `nested-rev`), and Taylor mode
   or forward mode (`taylor`, else `rev-over-fwd` / `nested-fwd`), within the derived rounding
   bound of an exact float64 strategy (`exact_bound`).
2. A central difference of the loss along three random weight directions w agrees with g·w
   within its derived error: truncation (h²/6)|L'''|, with L''' estimated along w from a wider
   stencil (nodes ±H, ±2H), plus the rounding of the loss evaluations amplified by 1/h.

If either check fails the case is recorded as `failed` with the reason: no case is checked
against a consensus that does not hold. `ConsensusReference` has the problems' interface
(`compare`, `tolerance_parts`), so `bench.measure.check` uses it in place of the problem's own.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from backends import get_backend
from backends.base import UnsupportedStrategy
from problems.core import Tolerance, freeze, machine_epsilon, thaw
from problems.errors import BenchInputError
from problems.reference import relative_error
from problems.tolerances import EXACT_FLOAT64_TOLERANCE, accumulation_bound, rounding_bound

INDEPENDENT = "independent float64 (Taylor + complex step)"
"""The `reference` recorded for a case on a built-in model kind."""

PAIRS = {
    "penalty": ("rev-over-rev", ("taylor", "rev-over-fwd")),
    "derivative-order": ("nested-rev", ("taylor", "nested-fwd")),
    "laplacian": ("nested-rev", ("taylor", "nested-fwd")),
    "biharmonic": ("nested-rev", ("taylor", "nested-fwd")),
}
"""Per problem kind: the nested-reverse strategy, and the Taylor / forward strategies tried in
order for the second (the first that the framework builds and runs on the model)."""

DIRECTIONS = 3
DIRECTION_SEED = 1234
STEP = machine_epsilon("float64") ** (1 / 3)
"""h of the central difference: truncation h²|L'''|/6 and rounding δ/h balance at h ∝ ε^(1/3)."""
WIDE_STEP = machine_epsilon("float64") ** (1 / 5)
"""H of the third-derivative stencil (L(2H) − 2L(H) + 2L(−H) − L(−2H))/2H³: its truncation
H²|L⁽⁵⁾|/4 and rounding 3δ/H³ balance at H ∝ ε^(1/5)."""
MAX_USEFUL_ERROR = 0.5
"""A directional check whose bound exceeds this fraction of |g·w| could not tell a wrong gradient."""


class ConsensusFailed(BenchInputError):
    """The two exact strategies, or the gradient and the directional differences, disagree."""


def operator_order(problem) -> int:
    """The order of the input derivative in the loss (penalty 1, a PINN's Δ 2 and Δ² 4, order k)."""
    return int(getattr(problem, "order", getattr(problem, "OPERATOR_ORDER", 1)))


def exact_bound(problem, dtype: str) -> float:
    """The rounding bound of an exact strategy on a user model: λ·√n·ε + γ_N (`problems.tolerances`)
    with n = (order + 2) passes of the model's `path_operations` (bounded by its parameter count)
    and N the points; the sum's condition number is taken as 1 (these losses sum squares, terms of
    one sign); in float64 never below the problem's contract for exact strategies."""
    operations = (operator_order(problem) + 2) * problem.network.path_operations()
    bound = rounding_bound(operations, dtype) + accumulation_bound(problem.points, dtype)
    if dtype == "float64":
        module = sys.modules[type(problem).__module__]
        bound = max(bound, getattr(module, "EXACT_FLOAT64_TOLERANCE", EXACT_FLOAT64_TOLERANCE))
    return bound


@dataclass(frozen=True)
class Consensus:
    """The float64 consensus at one parameter vector and how well it holds."""

    nested: str
    other: str
    value: float
    grads: dict
    agreement: float
    """max(value, gradient) relative difference of the two exact strategies."""
    agreement_bound: float
    directional_errors: tuple[float, ...]
    """|CD − g·w| / its bound, per direction (≤ 1: the check holds)."""

    @property
    def label(self) -> str:
        return (
            f"float64 consensus: {self.nested} vs {self.other} + {DIRECTIONS} directional central differences"
        )


def _run(backend, problem, strategy: str, params):
    compiled = backend.value_and_grad(problem, strategy, "float64", "cpu")
    return compiled, compiled(params)


def _second(backend, problem, params, candidates) -> tuple[str, tuple]:
    """The first Taylor/forward strategy that builds and runs, or ConsensusFailed with why none did."""
    failures = []
    for name in candidates:
        try:
            return name, _run(backend, problem, name, params)[1]
        except Exception as exc:  # noqa: BLE001 - a strategy the model defeats: try the next
            failures.append(f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    raise ConsensusFailed("float64 consensus impossible: no Taylor or forward-mode strategy runs on this "
                          "model (" + "; ".join(failures) + ")")  # fmt: skip


def _flat(grads: dict, names) -> np.ndarray:
    return np.concatenate([np.ravel(np.asarray(grads[k], np.float64)) for k in names])


def directional_check(problem, loss, params, grads, grad_bound: float) -> tuple[float, ...]:
    """|CD − g·w| / bound along DIRECTIONS seeded Gaussian directions w (scaled to the weights' RMS).

    `loss(params) -> float` evaluates L in float64. The bound: 2·(h²/6)·(|D3| + 3δ/H³) (truncation
    with L''' from the wide stencil D3 and its rounding; the factor 2 covers the O(h⁴) remainder and
    D3's own truncation) + δ/h (rounding of the two evaluations) + the gradient's own error
    (grad_bound·max|g|·‖w‖₁), where δ bounds the rounding of one evaluation of L: the chain of
    (order + 1) passes and the sum over the points (`exact_bound`'s parts) times |L|, plus the
    rounding of θ + t·w itself, ε·Σ|gᵢ|(|θᵢ| + 2H|wᵢ|)."""
    names = problem.network.param_names
    shapes = problem.network.param_shapes()
    theta = _flat(params, names)
    g = _flat(grads, names)
    eps = machine_epsilon("float64")
    rng = np.random.default_rng(DIRECTION_SEED)
    scale = max(float(np.sqrt(np.mean(theta**2))), 1e-3)

    def at(t, w):
        p, offset = {}, 0
        for k in names:
            size = int(np.prod(shapes[k]))
            p[k] = (theta[offset : offset + size] + t * w[offset : offset + size]).reshape(shapes[k])
            offset += size
        return float(loss(p))

    operations = (operator_order(problem) + 1) * problem.network.path_operations()
    relative = rounding_bound(operations, "float64") + accumulation_bound(problem.points, "float64")
    h, H = STEP, WIDE_STEP
    ratios = []
    for _ in range(DIRECTIONS):
        w = scale * rng.standard_normal(theta.size)
        values = {t: at(t, w) for t in (h, -h, H, -H, 2 * H, -2 * H)}
        delta = relative * max(abs(v) for v in values.values()) + eps * float(
            np.abs(g) @ (np.abs(theta) + 2 * H * np.abs(w))
        )
        cd = (values[h] - values[-h]) / (2 * h)
        d3 = (values[2 * H] - 2 * values[H] + 2 * values[-H] - values[-2 * H]) / (2 * H**3)
        slope = float(g @ w)
        bound = 2 * h**2 / 6 * (abs(d3) + 3 * delta / H**3) + delta / h
        bound += grad_bound * float(np.max(np.abs(g))) * float(np.sum(np.abs(w)))
        if bound > MAX_USEFUL_ERROR * abs(slope):
            raise ConsensusFailed(
                f"float64 consensus cannot check the gradient: the central difference's error bound "
                f"{bound:.2e} exceeds half of |g·w| = {abs(slope):.2e}"
            )
        ratios.append(abs(cd - slope) / bound)
    return tuple(ratios)


@lru_cache(maxsize=8)
def consensus(problem, frozen_params) -> Consensus:
    """The float64 consensus at `frozen_params` (cached: every case of a run shares it)."""
    params = {k: v.copy() for k, v in thaw(frozen_params).items()}  # writable: torch warns on read-only
    framework = problem.network.framework
    backend = get_backend(framework)
    nested, candidates = PAIRS.get(problem.kind, (None, ()))
    if nested is None:
        raise UnsupportedStrategy(f"no float64 consensus is defined for {problem.kind} (a user model's "
                                  f"problems: {', '.join(PAIRS)})")  # fmt: skip
    compiled, (value, grads) = _run(backend, problem, nested, params)
    other, (value_b, grads_b) = _second(backend, problem, params, candidates)
    names = problem.network.param_names
    a, b = _flat(grads, names), _flat(grads_b, names)
    agreement = max(float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), 1e-300)),
                    abs(value - value_b) / max(abs(value), 1e-300))  # fmt: skip
    bound = 2 * exact_bound(problem, "float64")
    if not agreement <= bound:
        raise ConsensusFailed(
            f"float64 consensus failed: {nested} and {other} differ by {agreement:.2e} > their rounding "
            f"bound {bound:.2e} ({framework} on {problem.network.source})"
        )

    def loss(p):
        return compiled.parts["loss"](compiled.prepare(p))

    ratios = directional_check(problem, loss, params, grads, bound)
    if not max(ratios) <= 1.0:
        raise ConsensusFailed(
            f"float64 consensus failed: central differences of the loss along {DIRECTIONS} random weight "
            f"directions disagree with {nested}'s gradient (error / bound: "
            + ", ".join(f"{r:.2g}" for r in ratios)
            + ")"
        )
    return Consensus(nested, other, value, grads, agreement, bound, ratios)


@dataclass(frozen=True)
class ConsensusReference:
    """`compare` and `tolerance_parts` of a problem on a user model, against its float64 consensus."""

    problem: object

    def consensus(self, params) -> Consensus:
        return consensus(self.problem, freeze(params))

    def label(self, params) -> str:
        return self.consensus(params).label

    def compare(self, params, value, grads) -> tuple[float, float, float]:
        """(value_err, grad_err, reference value) against the consensus (nested reverse's result)."""
        c = self.consensus(params)
        return (*relative_error(value, grads, c.value, c.grads), c.value)

    def tolerance_parts(self, strategy: str, dtype: str, params, measured_rounding=None) -> Tolerance:
        """An exact strategy: `exact_bound` in `dtype` plus the consensus's own spread (its two
        strategies' difference). A finite-difference or stochastic strategy needs a predicted
        truncation or variance from the independent reference's higher derivatives, which a user
        model lacks: declared unsupported (with the reason) rather than held to a guess."""
        model = self.problem.error_model(strategy)
        if model != "exact":
            raise UnsupportedStrategy(
                f"{strategy} ({model}) is not checked on a user model: its error bound is predicted from "
                "the independent reference's higher derivatives, which a user's module does not have"
            )
        return Tolerance(exact_bound(self.problem, dtype) + self.consensus(params).agreement)

    def record(self, params) -> dict:
        c = self.consensus(params)
        return {
            "reference": c.label,
            "consensus_agreement": c.agreement,
            "consensus_agreement_bound": c.agreement_bound,
            "consensus_directional": max(c.directional_errors),
        }


def reference_for(problem):
    """The object that checks `problem`'s cases: the problem itself (independent reference), or
    its float64 consensus for a model without one."""
    if getattr(problem.network, "has_reference", True):
        return problem
    return ConsensusReference(problem)


def reference_record(problem, checker, params) -> dict:
    """The record fields that say which reference checked a case."""
    if checker is problem:
        return {"reference": INDEPENDENT}
    return checker.record(params)
