"""Your PDE: the PINN loss of a residual in any partial derivatives of the network's outputs.

L(θ) = mean_n Σ_c r_c(xₙ)², where each residual component r_c is an expression in the inputs,
the outputs and their partial derivatives (`problems.residual`). Equations, inputs in this order:

* `burgers`       (t, x):  u_t + u·u_x − (0.01/π)·u_xx;             t ∈ [0, 1], x ∈ [−1, 1]
* `heat`          (t, x1…xd): u_t − Δu (Δ over x);                  t, xᵢ ∈ [0, 1]; option `dim`
* `allen-cahn`    (x1…xd): Δu + u − u³ (STDE's form, no forcing);   xᵢ ∈ [−1, 1]; option `dim`
* `kdv`           (t, x):  u_t + u·u_x + 0.0025·u_xxx;              t ∈ [0, 1], x ∈ [−1, 1]
* `navier-stokes` (t, x, y) -> (u, v, p), Re = 100:                 t, x, y ∈ [0, 1]
  u_t + u·u_x + v·u_y + p_x − Δu/Re;  v_t + u·v_x + v·v_y + p_y − Δv/Re;  u_x + v_y
  (Δ = ∂ₓ² + ∂ᵧ², written `lap` so the Laplacian strategies see the sum)
* your own: `residual="u_t + u*u_x - 0.01*u_xx"` with `input_names` (default "t,x") and
  `output_names` (default "u"); `;` separates components; inputs other than t lie in [−1, 1].

`points` collocation points are uniform in the domain from a fixed seed. The network is a tanh
MLP with the equation's input and output widths (`width` 64, `depth` 4 by default, or `layers`
and `activation`), or any model kind (`model=...` and its options, `problems.models`). The
float64 reference uses no AD framework: every partial derivative the residual needs comes
from hand-written Taylor propagation along the integer directions of `problems.partials`
(pure ones along eᵢ, mixed ones by interpolation), the weight gradient by the complex step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property, lru_cache

import numpy as np

from problems.core import (
    Catalogue,
    Problem,
    Strategy,
    Tolerance,
    check_choice,
    check_dtype,
    check_int_option,
    freeze,
    register_catalogue,
    register_problem,
    spellings,
    thaw,
)
from problems.errors import BenchInputError
from problems.models import ModelSpec, problem_model, settle_model
from problems.network import flatten, unflatten
from problems.partials import DerivativePlan, unit
from problems.reference import (
    COMPLEX_STEP,
    ComplexStepReference,
    batched,
    check_directions,
    complex_step_batch,
    taylor_coefficients,
)
from problems.residual import TIME, Residual, parse_residual
from problems.stencils import central_stencil, stencil_step
from problems.tolerances import (
    EXACT_FLOAT64_TOLERANCE,
    exact_rounding,
    stencil_tolerance,
    truncation_bound,
    usable_bound,
)

POINT_SEED = 11
MAX_DIM = 1000
REYNOLDS = 100


@dataclass(frozen=True)
class Equation:
    """A built-in equation: its residual text (over inputs named by `input_names(dim)`) and domain."""

    residual: str
    outputs: tuple[str, ...] = ("u",)
    inputs: tuple[str, ...] | None = None
    """Fixed inputs; None: t (if `time`) then x1…x_dim."""
    time: bool = True
    space: tuple[float, float] = (-1.0, 1.0)
    dimensional: bool = False

    def input_names(self, dim: int) -> tuple[str, ...]:
        if self.inputs is not None:
            return self.inputs
        return ((TIME,) if self.time else ()) + tuple(f"x{i}" for i in range(1, dim + 1))


EQUATIONS = {
    "burgers": Equation("u_t + u*u_x - (0.01/pi)*u_xx", inputs=("t", "x")),
    "heat": Equation("u_t - lap(u)", space=(0.0, 1.0), dimensional=True),
    "allen-cahn": Equation("lap(u) + u - u**3", time=False, dimensional=True),
    "kdv": Equation("u_t + u*u_x + 0.0025*u_xxx", inputs=("t", "x")),
    "navier-stokes": Equation(
        f"u_t + u*u_x + v*u_y + p_x - lap(u)/{REYNOLDS}; v_t + u*v_x + v*v_y + p_y - lap(v)/{REYNOLDS}; "
        "u_x + v_y",
        outputs=("u", "v", "p"), inputs=("t", "x", "y"), space=(0.0, 1.0),
    ),
}  # fmt: skip
CUSTOM = "custom"


def _needs_order_at_most(limit: int):
    def applies(problem) -> str | None:
        k = problem.parsed_residual.plan.max_order
        return None if k <= limit else f"the residual needs derivatives of order {k} (at most {limit} here)"

    return applies


def _laplacian_only(problem) -> str | None:
    """forward-laplacian: a Δ term, every other derivative of first order (folx's Jacobian)."""
    plan = problem.parsed_residual.plan
    if not plan.laplacian:
        return "the residual has no Laplacian term lap(·): the forward Laplacian propagates only Δ"
    higher = [a for a in plan.multi_indices if sum(a) > 1]
    if higher:
        return (
            "the residual has derivatives of order ≥ 2 outside its Laplacian, which folx does not propagate"
        )
    return None


def _estimable(problem) -> str | None:
    """hutchinson / stde: a Laplacian term the residual is affine in (so the estimate's error
    enters the loss as the derived bias and variance, `estimator_error_bound`)."""
    residual = problem.parsed_residual
    if not residual.plan.laplacian:
        return "the residual has no Laplacian term lap(·) to estimate"
    if not residual.affine_in_laplacian:
        return "the residual is not affine in its Laplacian terms (the estimator's error bound assumes it)"
    return None


def _has_laplacian(problem) -> str | None:
    if problem.parsed_residual.plan.laplacian:
        return None
    return "the residual has no Laplacian term lap(·): collapsed Taylor mode would be standard taylor"


FD_MAX_NODE_EVALUATIONS = 200_000
"""fd-stencil's tolerance evaluates the float64 reference (complex, 16 probes) at every point ×
stencil node × output (`stencil_rounding_model`); above this count it takes minutes, so the case
is declared, not run (heat and allen-cahn at d = 100 have 2d + 3 nodes per point)."""


def _stencil_fits(problem) -> str | None:
    nodes = len(problem.stencil("float64")[0])
    evaluations = problem.points * nodes * len(problem.parsed_residual.outputs)
    if evaluations <= FD_MAX_NODE_EVALUATIONS:
        return None
    return (f"its derived tolerance evaluates the float64 reference at every point × node × output "
            f"({evaluations:,} > {FD_MAX_NODE_EVALUATIONS:,}: {nodes} nodes per point); "
            "use fewer points")  # fmt: skip


_STRATEGIES = [
    Strategy("nested-rev", "reverse over reverse, one coordinate per nesting level: each level's jacrev "
             "gives every child of every needed multi-index at once"),
    Strategy("nested-fwd", "forward over forward: one jvp along eᵢ per level and distinct coordinate, "
             "shared by every parent"),
    Strategy("fwd-over-rev", "first derivatives by reverse mode, second by jvp over it (Hessian columns "
             "only for the coordinates needed)", applies=_needs_order_at_most(2)),
    Strategy("taylor", "standard Taylor mode: one jet along eᵢ of the highest order needed (pure "
             "derivatives); mixed ones by interpolation of jets along integer directions"),
    Strategy("forward-laplacian", "folx's forward Laplacian for Δ (with the value and Jacobian), first "
             "derivatives along t by jvp", applies=_laplacian_only),
    Strategy("collapsed-taylor", "jet-for-pytorch's collapsed laplacian for Δ, standard jets for the "
             "other terms", applies=_has_laplacian),
    Strategy("hutchinson", "stochastic Δ: mean of D²_v u over `samples` Rademacher v on the Laplacian's "
             "coordinates per point (Taylor mode); the other terms exact", error="stochastic",
             applies=_estimable),
    Strategy("stde", "stochastic Taylor derivative estimator (Shi et al. 2024): Δ as |S|·mean of ∂ⱼ²u over "
             "`samples` coordinates j drawn uniformly per point, one sparse jet each; the other terms exact",
             error="stochastic", applies=_estimable),
    Strategy("fd-stencil", "central finite differences: each distinct multi-index by the product of 1-D "
             "central stencils along its coordinates (Δ: the discrete Laplacian), every point × node in "
             "one batch, then reverse mode; error predicted", error="finite-difference",
             applies=_stencil_fits),
]  # fmt: skip
_INTERPRETED = "PyTorch: jet-for-pytorch's interpreter at every call (graph not captured)"
STRATEGIES = register_catalogue(Catalogue("pde", _STRATEGIES + [
    entry for strategy in _STRATEGIES if strategy.name in ("taylor", "collapsed-taylor", "hutchinson", "stde")
    for entry in spellings(strategy, ("interpreted", _INTERPRETED, ("torch",)))
], "nested-rev"))  # fmt: skip

ESTIMATORS = ("hutchinson", "stde")
DIRECTION_SEED = 20_241_203
STATISTICAL_Z = 5.0
"""Standard deviations allowed to a stochastic estimator (two-sided normal tail 6e-7)."""


@register_problem
@dataclass(frozen=True)
class PDEProblem(ComplexStepReference, Problem):
    """mean_n Σ_c r_c(xₙ)² for a built-in `equation` or a user `residual` (see the module)."""

    equation: str | None = None
    residual: str | None = None
    input_names: str | None = None
    output_names: str | None = None
    dim: int | None = None
    points: int = 1000
    samples: int = 16
    width: int | None = None
    depth: int | None = None
    layers: str | None = None
    activation: str = "tanh"
    model: str = "mlp"
    features: int | None = None
    scale: float | None = None
    n_blocks: int | None = None
    alpha: float | None = None
    input_precision: str | None = None

    name = "pde"
    kind = "pde"
    point_reduction = "mean"
    network_options = ("width", "depth")

    def __post_init__(self):
        if self.residual is not None:
            if self.equation not in (None, CUSTOM):
                raise BenchInputError(f"give either equation={self.equation!r} or residual=..., not both")
            if self.dim is not None:
                raise BenchInputError("dim is an option of heat and allen-cahn; a residual names its inputs")
            object.__setattr__(self, "equation", CUSTOM)
            object.__setattr__(self, "input_names", self.input_names or "t,x")
            object.__setattr__(self, "output_names", self.output_names or "u")
        else:
            equation = check_choice("equation", self.equation or "burgers", list(EQUATIONS))
            definition = EQUATIONS[equation]
            if self.input_names is not None or self.output_names is not None:
                raise BenchInputError("input_names and output_names are options of a residual=...; "
                                      f"{equation} fixes its own")  # fmt: skip
            if definition.dimensional:
                dim = 2 if self.dim is None else self.dim
                check_int_option("dim", dim, f"an integer in 1 … {MAX_DIM}", allowed=range(1, MAX_DIM + 1))
                object.__setattr__(self, "dim", int(dim))
            elif self.dim is not None:
                raise BenchInputError(f"dim is an option of heat and allen-cahn, not {equation}")
            object.__setattr__(self, "equation", equation)
        check_int_option("points", self.points, "an integer ≥ 1")
        check_int_option(
            "samples", self.samples, "an integer ≥ 2 (hutchinson/stde samples per point)", minimum=2
        )
        residual = self.parsed_residual  # parses: a bad residual fails here, with its one line
        n_in, n_out = len(residual.inputs), len(residual.outputs)
        spec = settle_model(self, width=self.width, depth=self.depth, inputs=n_in, outputs=n_out,
                            shorthand=(n_in, 64, 4, n_out))  # fmt: skip
        object.__setattr__(self, "width", spec.hidden_width)
        object.__setattr__(self, "depth", spec.n_layers)

    # -- the residual ---------------------------------------------------------------------------
    @cached_property
    def parsed_residual(self) -> Residual:
        if self.equation == CUSTOM:
            names = lambda text: tuple(n.strip() for n in str(text).split(","))
            return parse_residual(self.residual, names(self.input_names), names(self.output_names))
        definition = EQUATIONS[self.equation]
        return parse_residual(definition.residual, definition.input_names(self.dim or 1), definition.outputs)

    @cached_property
    def network(self) -> ModelSpec:
        return problem_model(self)

    def domain(self) -> np.ndarray:
        """(d_in, 2) lower and upper bounds: t in [0, 1], the other inputs in the equation's space."""
        space = EQUATIONS[self.equation].space if self.equation != CUSTOM else (-1.0, 1.0)
        return np.array([(0.0, 1.0) if n == TIME else space for n in self.parsed_residual.inputs])

    def grid(self) -> np.ndarray:
        """Collocation points (points, d_in), uniform in the domain from a fixed seed."""
        bounds = self.domain()
        unit_points = np.random.default_rng(POINT_SEED).uniform(size=(self.points, len(bounds)))
        return self.inputs(bounds[:, 0] + unit_points * (bounds[:, 1] - bounds[:, 0]))

    # -- the reference ------------------------------------------------------------------------
    def derivative_values(self, params, plan: DerivativePlan | None = None) -> dict:
        """Every value the residual reads (or `plan` names), float64 (or complex), by Taylor
        propagation: zeros -> u, each multi-index α -> ∂^α u, "lap" -> Δu; arrays (B, N, d_out)
        for batched params."""
        plan, spec, X = plan or self.parsed_residual.plan, self.network, self.grid()
        values = {(0,) * X.shape[1]: taylor_coefficients(params, spec, X, np.zeros_like(X), 0)[0]}
        directional = {}  # position in plan.directions -> [D¹, …, D^K], each (B, N, d_out)
        for K in sorted({k for _, k in plan.directions}):
            positions = [r for r, (_, k) in enumerate(plan.directions) if k == K]
            V = np.array([plan.directions[r][0] for r in positions], dtype=float)
            coeffs = taylor_coefficients(params, spec, X[:, None, :], V[None], K)
            for j, r in enumerate(positions):
                directional[r] = [coeffs[k][..., j, :] * math.factorial(k) for k in range(1, K + 1)]
        for alpha, combination in plan.combinations.items():
            k = sum(alpha)
            values[alpha] = sum(c * directional[r][k - 1] for r, c in combination)
        if plan.laplacian:
            values["lap"] = sum(directional[r][1] for r in plan.laplacian_directions)
        return values

    # -- stochastic estimators of the Laplacian ------------------------------------------------
    def estimator_directions(self, strategy: str) -> np.ndarray:
        """`samples` directions per point, (points, samples, d_in), fixed by DIRECTION_SEED, with
        E[D²_v u] = Δu: Rademacher on the Laplacian's coordinates S (hutchinson), or √|S|·eⱼ with j
        uniform in S (stde: D² along it is |S|·∂ⱼ²u, a sparse jet)."""
        V = np.zeros((self.points, self.samples, len(self.parsed_residual.inputs)))
        if strategy == "hutchinson":
            coordinates = np.array(self.parsed_residual.plan.laplacian)
            rng = np.random.default_rng(DIRECTION_SEED)
            V[..., coordinates] = rng.choice([-1.0, 1.0], size=(self.points, self.samples, len(coordinates)))
        else:
            np.put_along_axis(V, self.estimator_coordinates()[..., None], self.stde_scale(), axis=-1)
        return V

    def estimator_coordinates(self) -> np.ndarray:
        """stde's sparse directions: the input index j of each sampled √|S|·eⱼ, (points, samples),
        j uniform in the Laplacian's coordinates S, fixed by DIRECTION_SEED. A backend builds the
        one-hot jets from these indices, never from a dense (points, samples, d_in) array."""
        coordinates = np.array(self.parsed_residual.plan.laplacian)
        rng = np.random.default_rng(DIRECTION_SEED)
        return coordinates[rng.integers(len(coordinates), size=(self.points, self.samples))]

    def stde_scale(self) -> float:
        """√|S|: stde's directions are √|S|·eⱼ, so D² along one is |S|·∂ⱼ²u (unbiased for Δu)."""
        return math.sqrt(len(self.parsed_residual.plan.laplacian))

    def laplacian_samples(self, params, V: np.ndarray) -> np.ndarray:
        """D²_v u along each point's directions, (B, N, S, d_out): the per-sample estimates of Δu."""
        X = self.grid()
        return taylor_coefficients(params, self.network, X[:, None, :], V, 2)[2] * 2.0

    def estimator_loss(self, params, V: np.ndarray) -> np.ndarray:
        """The loss with Δu replaced by the sample mean along V, shape (B,)."""
        values = self.derivative_values(params)
        values["lap"] = self.laplacian_samples(params, V).mean(axis=-2)
        components = self.parsed_residual.evaluate(values, self.grid(), np)
        return sum(r**2 for r in components).mean(axis=-1)

    def estimator_statistics(self, strategy: str, params) -> dict[str, float]:
        """Recorded with a stochastic case: samples per point, the relative standard deviation of
        the per-point Δ estimate (over the S samples, / S, relative to the RMS of Δu) and the
        estimated loss's relative error at the fixed directions."""
        V = self.estimator_directions(strategy)
        q = self.laplacian_samples(batched(params), V)[0]  # (N, S, m)
        exact = self.derivative_values(batched(params))["lap"][0]
        loss = float(self.loss(batched(params))[0])
        estimate = float(self.estimator_loss(batched(params), V)[0])
        return {
            "estimator_samples": self.samples,
            "estimator_rel_std": float(np.sqrt(np.mean(q.var(axis=1, ddof=1) / self.samples))
                                       / np.sqrt(np.mean(exact**2))),
            "estimator_loss_rel_err": abs(estimate - loss) / abs(loss),
        }  # fmt: skip

    # -- finite differences -------------------------------------------------------------------
    @cached_property
    def stencil_keys(self) -> tuple:
        """What the stencil's columns give, in order: zeros (u, the centre node), each needed
        multi-index, and "lap" if the residual has a Laplacian."""
        plan = self.parsed_residual.plan
        return ((0,) * plan.n_inputs, *plan.multi_indices, *(("lap",) if plan.laplacian else ()))

    def stencil_step(self, order: int, dtype: str) -> float:
        """h of the stencils of order `order`: derivative-order's `stencil_step` (ε^(1/(k+2)), a power
        of two). For Δ, truncation Σᵢ h²∂ᵢ⁴u/12 and rounding ε·4|S|/h² both grow with |S|, so
        the balance is that of one ∂ᵢ²."""
        return stencil_step(order, self.input_precision or dtype)

    def stencil(self, dtype: str) -> tuple[np.ndarray, np.ndarray]:
        """(offsets (M, d_in), weights (M, T)): Σ_m weights[m, t]·U(x + offsets[m]) is the t-th of
        `stencil_keys` (u exactly: weight 1 at the centre). ∂^α is the product of the 1-D central
        stencils of order αᵢ along each coordinate of its support (`central_stencil`, one step
        h for the order |α|), Δ the sum of the ∂ᵢ² stencils; every distinct node appears once."""
        offsets, weights = _stencil(self, dtype)
        return offsets.copy(), weights.copy()

    def _stencil(self, dtype: str) -> tuple[np.ndarray, np.ndarray]:
        columns = [self._stencil_column(key, dtype) for key in self.stencil_keys]
        offsets = sorted(set().union(*columns))
        row = {o: r for r, o in enumerate(offsets)}
        weights = np.zeros((len(offsets), len(columns)))
        for t, column in enumerate(columns):
            for o, w in column.items():
                weights[row[o], t] += w
        return self.inputs(np.array(offsets, dtype=np.float64)), self.inputs(weights)

    def _stencil_column(self, key, dtype: str) -> dict[tuple[float, ...], float]:
        plan = self.parsed_residual.plan
        if key == "lap":
            column: dict[tuple[float, ...], float] = {}
            for i in plan.laplacian:
                for o, w in self._stencil_column(unit(plan.n_inputs, i, 2), dtype).items():
                    column[o] = column.get(o, 0.0) + w
            return column
        k = sum(key)
        h = self.stencil_step(max(k, 1), dtype)
        column = {(0.0,) * plan.n_inputs: Fraction(1)}
        for i, a in enumerate(key):
            if a:
                nodes, coefficients, _ = central_stencil(a)
                column = {o[:i] + (o[i] + j * h,) + o[i + 1 :]: w * c for o, w in column.items()
                          for j, c in zip(nodes, coefficients) if c}  # fmt: skip
        return {o: float(w) / h**k for o, w in column.items()}

    def stencil_rows(self, dtype: str, params) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The stencils as rows of `stencil_rounding_model`, one per point and output: nodes
        (N·d_out, M, d_in), weights Σ_t |∂L/∂D_t|·|w_t| (N·d_out, M) (the model takes every term
        in absolute value, so one row sums the columns), coefficients 1, and each row's output."""
        offsets, weights = self.stencil(dtype)
        X = self.grid()
        sensitivity = np.abs(self._value_sensitivity(params))  # (T, N, d_out)
        n_out = sensitivity.shape[-1]
        rows = np.einsum("tno,mt->nom", sensitivity, np.abs(weights)).reshape(-1, len(offsets))
        nodes = np.repeat(X[:, None, :] + offsets[None], n_out, axis=0)
        outputs = np.tile(np.arange(n_out), len(X))
        return nodes, rows, np.ones(len(rows)), outputs

    def _value_sensitivity(self, params) -> np.ndarray:
        """∂L/∂(each stencil key's value at each point and output), (T, N, d_out), by the complex
        step in the values (the residual is complex-analytic)."""
        values = {k: np.real(v[0]) for k, v in self.derivative_values(batched(params)).items()}
        X, residual, step = self.grid(), self.parsed_residual, 1e-20
        out = np.zeros((len(self.stencil_keys), *values[self.stencil_keys[0]].shape))
        for t, key in enumerate(self.stencil_keys):
            for o in range(out.shape[-1]):
                shifted = dict(values)
                shifted[key] = values[key].astype(complex)
                shifted[key][:, o] += 1j * step
                point = sum(r**2 for r in residual.evaluate(shifted, X, np))
                out[t, :, o] = np.imag(point) / step / len(X)
        return out

    def stencil_amplification(self, dtype: str) -> float:
        """max|w|: how much the stencil amplifies the rounding of a network evaluation."""
        return float(np.max(np.abs(self.stencil(dtype)[1])))

    def point_losses(self, params) -> np.ndarray:
        """Σ_c r_c² at each point, shape (B, N) (complex-safe)."""
        components = self.parsed_residual.evaluate(self.derivative_values(params), self.grid(), np)
        return sum(r**2 for r in components)

    def loss(self, params) -> np.ndarray:
        return self.point_losses(params).mean(axis=-1)

    def tolerance_parts(self, strategy: str, dtype: str, params, measured_rounding=None) -> Tolerance:
        """Exact strategies: `exact_rounding` with K + 2 passes per point (K the highest order, the
        reverse pass) plus one operation per directional derivative the residual combines, never
        below EXACT_FLOAT64_TOLERANCE in float64."""
        check_dtype(dtype)
        plan = self.parsed_residual.plan
        condition = self.summation_condition(params)
        stochastic = self.error_model(strategy) == "stochastic"
        terms = len(plan.directions) + (self.samples if stochastic else 0)
        rounding = exact_rounding(self.network, plan.max_order + 2, self.points, condition, dtype,
                                  EXACT_FLOAT64_TOLERANCE, extra_operations=terms)  # fmt: skip
        if self.error_model(strategy) == "finite-difference":
            truncation = fd_truncation(self, dtype, freeze(params))
            return stencil_tolerance(rounding, truncation, measured_rounding, strategy, self, dtype, params,
                                     "use float64 or an exact strategy" if dtype == "float32"
                                     else "use an exact strategy")  # fmt: skip
        if stochastic:
            bound = estimator_error_bound(self, strategy, freeze(params))
            return Tolerance(rounding, statistical=usable_bound(bound, strategy, self, dtype,
                                                                "raise samples or points"))  # fmt: skip
        return Tolerance(rounding)


@lru_cache(maxsize=32)
def _stencil(problem: PDEProblem, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """`PDEProblem.stencil`, built once per problem and dtype (its callers get copies)."""
    return problem._stencil(dtype)


def _sample_variance(a: np.ndarray, axis: int) -> np.ndarray:
    """Unbiased variance along `axis`, complex-analytic (numpy's var takes |·|² of complex data)."""
    centred = a - a.mean(axis=axis, keepdims=True)
    return (centred**2).sum(axis=axis) / (a.shape[axis] - 1)


@lru_cache(maxsize=16)
def estimator_error_bound(problem: PDEProblem, strategy: str, frozen_params: tuple) -> float:
    """Statistical bound on the estimated loss's relative error: |bias| + STATISTICAL_Z·σ, for the
    value and along the check directions w (the larger, as `compare` measures).

    With Δu estimated by the mean of S independent samples Q_s (per point, all outputs), a residual
    affine in Δ changes by a_c·δ (a_c = ∂r_c/∂Δ, δ = Q̄ − Δu), so L̂ − L = mean_n Σ_c (2 r_c a_c·δ +
    (a_c·δ)²). The linear term has mean 0 and variance Var_s(ℓ)/S per point, ℓ_s = Σ_c 2 r_c a_c·Q_s;
    the quadratic one is the bias b = mean_n Σ_c Var_s(a_c·Q)/S. Their derivatives along w (ℓ and b
    are analytic in θ) come from one complex step per check direction: σ_w from Var_s(∂_w ℓ), the
    bias ∂_w b. Valid when N·S is large enough for the central limit theorem.
    """
    params = thaw(frozen_params)
    spec, residual = problem.network, problem.parsed_residual
    N, S = problem.points, problem.samples
    w = check_directions(spec)
    batch = unflatten(flatten(params, spec)[None, :] + 1j * COMPLEX_STEP * w, spec)
    X = problem.grid()
    with complex_step_batch():
        values = problem.derivative_values(batch)
        Q = problem.laplacian_samples(batch, problem.estimator_directions(strategy))  # (W, N, S, m)
    r = residual.evaluate(values, X, np)
    a = residual.laplacian_coefficients(values, X, np)  # [c][o] -> (W, N) or scalar
    lap_outputs = residual.laplacian_outputs
    aQ = [sum(np.asarray(a[c][o])[..., None] * Q[..., o] for o in lap_outputs) for c in range(len(r))]
    ell = sum(2.0 * np.asarray(r[c])[..., None] * aQ[c] for c in range(len(r)))  # (W, N, S)
    bias = sum(_sample_variance(x, axis=-1) for x in aQ).mean(axis=-1) / S  # (W,)
    loss = sum(np.real(x[0]) ** 2 for x in r).mean()
    value_sd = math.sqrt(np.sum(_sample_variance(np.real(ell[0]), axis=-1)) / S) / N
    value_rel = (abs(np.real(bias[0])) + STATISTICAL_Z * value_sd) / loss
    d_ell, d_bias = np.imag(ell) / COMPLEX_STEP, np.imag(bias) / COMPLEX_STEP
    grad_sd = np.sqrt(np.sum(_sample_variance(d_ell, axis=-1), axis=-1) / S) / N  # (W,)
    d_loss = np.imag(sum(x**2 for x in r).mean(axis=-1)) / COMPLEX_STEP
    grad_rel = np.max(np.abs(d_bias) + STATISTICAL_Z * grad_sd) / max(np.max(np.abs(d_loss)), 1e-300)
    return float(max(value_rel, grad_rel))


@lru_cache(maxsize=16)
def fd_truncation(problem: PDEProblem, dtype: str, frozen_params: tuple) -> float:
    """Predicted relative error of the stencil loss from its truncation (`truncation_bound`). The
    product stencil of ∂^α is ∂^α u + h² Σ_{i ∈ supp α} μ(αᵢ)·∂^{α+2eᵢ}u + O(h⁴) (μ the 1-D stencil's
    error constant, h its step), the discrete Laplacian Δu + h² Σᵢ μ(2)·∂ᵢ⁴u + O(h⁴); the loss's
    first-order error E is its change when every value moves by its leading term, from the
    reference's higher derivatives (the O(h⁴) and squared remainders are covered by the factor 2)."""
    plan = problem.parsed_residual.plan
    leading: dict = {}
    for key in problem.stencil_keys[1:]:
        alphas = [unit(plan.n_inputs, i, 2) for i in plan.laplacian] if key == "lap" else [key]
        h = problem.stencil_step(2 if key == "lap" else sum(key), dtype)
        leading[key] = [
            (tuple(a + 2 * (j == i) for j, a in enumerate(alpha)), float(central_stencil(alpha[i])[2]) * h**2)
            for alpha in alphas
            for i in range(plan.n_inputs)
            if alpha[i]
        ]
    higher = DerivativePlan(plan.n_inputs, tuple(sorted({b for terms in leading.values() for b, _ in terms})))
    X, residual = problem.grid(), problem.parsed_residual

    def first_order_error(p):
        values = problem.derivative_values(p)
        extra = problem.derivative_values(p, higher)
        shifted = {
            **values,
            **{k: values[k] + sum(c * extra[b] for b, c in terms) for k, terms in leading.items()},
        }
        point = lambda v: sum(r**2 for r in residual.evaluate(v, X, np))
        return (point(shifted) - point(values)).mean(axis=-1)

    params = thaw(frozen_params)
    return truncation_bound(problem.network, params, problem.full_gradient, problem.loss, first_order_error)
