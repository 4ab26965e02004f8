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
and `activation`). The float64 reference uses no AD framework: every partial derivative the
residual needs comes from hand-written Taylor propagation along the integer directions of
`problems.partials` (pure ones along eᵢ, mixed ones by interpolation), the weight gradient by
the complex step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from problems.core import (
    Catalogue,
    Problem,
    Strategy,
    Tolerance,
    check_choice,
    check_dtype,
    check_int_option,
    register_catalogue,
    register_problem,
)
from problems.errors import BenchInputError
from problems.network import MLPSpec, network_from_options
from problems.reference import ComplexStepReference, taylor_coefficients
from problems.residual import TIME, Residual, parse_residual
from problems.tolerances import EXACT_FLOAT64_TOLERANCE, exact_rounding

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
        k = problem.residual_spec.plan.max_order
        return None if k <= limit else f"the residual needs derivatives of order {k} (at most {limit} here)"

    return applies


def _laplacian_only(problem) -> str | None:
    """forward-laplacian: a Δ term, every other derivative of first order (folx's Jacobian)."""
    plan = problem.residual_spec.plan
    if not plan.laplacian:
        return "the residual has no Laplacian term lap(·): the forward Laplacian propagates only Δ"
    higher = [a for a in plan.multi_indices if sum(a) > 1]
    if higher:
        return (
            "the residual has derivatives of order ≥ 2 outside its Laplacian, which folx does not propagate"
        )
    return None


def _has_laplacian(problem) -> str | None:
    if problem.residual_spec.plan.laplacian:
        return None
    return "the residual has no Laplacian term lap(·): collapsed Taylor mode would be standard taylor"


STRATEGIES = register_catalogue(Catalogue("pde", [
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
], "nested-rev"))  # fmt: skip


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
    width: int | None = None
    depth: int | None = None
    layers: str | None = None
    activation: str = "tanh"
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
            spec = EQUATIONS[equation]
            if self.input_names is not None or self.output_names is not None:
                raise BenchInputError("input_names and output_names are options of a residual=...; "
                                      f"{equation} fixes its own")  # fmt: skip
            if spec.dimensional:
                dim = 2 if self.dim is None else self.dim
                check_int_option("dim", dim, f"an integer in 1 … {MAX_DIM}", allowed=range(1, MAX_DIM + 1))
                object.__setattr__(self, "dim", int(dim))
            elif self.dim is not None:
                raise BenchInputError(f"dim is an option of heat and allen-cahn, not {equation}")
            object.__setattr__(self, "equation", equation)
        check_int_option("points", self.points, "an integer ≥ 1")
        residual = self.residual_spec  # parses: a bad residual fails here, with its one line
        n_in, n_out = len(residual.inputs), len(residual.outputs)
        spec = network_from_options(self.layers, self.activation, width=self.width, depth=self.depth,
                                    inputs=n_in, outputs=n_out, shorthand=(n_in, 64, 4, n_out))  # fmt: skip
        for name, value in {
            "layers": spec.layers,
            "width": spec.hidden_width,
            "depth": spec.n_layers,
        }.items():
            object.__setattr__(self, name, value)

    # -- the residual ---------------------------------------------------------------------------
    @cached_property
    def residual_spec(self) -> Residual:
        if self.equation == CUSTOM:
            names = lambda text: tuple(n.strip() for n in str(text).split(","))
            return parse_residual(self.residual, names(self.input_names), names(self.output_names))
        spec = EQUATIONS[self.equation]
        return parse_residual(spec.residual, spec.input_names(self.dim or 1), spec.outputs)

    @cached_property
    def network(self) -> MLPSpec:
        return MLPSpec(tuple(int(s) for s in self.layers.split("-")), self.activation)

    def domain(self) -> np.ndarray:
        """(d_in, 2) lower and upper bounds: t in [0, 1], the other inputs in the equation's space."""
        space = EQUATIONS[self.equation].space if self.equation != CUSTOM else (-1.0, 1.0)
        return np.array([(0.0, 1.0) if n == TIME else space for n in self.residual_spec.inputs])

    def grid(self) -> np.ndarray:
        """Collocation points (points, d_in), uniform in the domain from a fixed seed."""
        bounds = self.domain()
        unit_points = np.random.default_rng(POINT_SEED).uniform(size=(self.points, len(bounds)))
        return self.inputs(bounds[:, 0] + unit_points * (bounds[:, 1] - bounds[:, 0]))

    # -- the reference ------------------------------------------------------------------------
    def derivative_values(self, params) -> dict:
        """Every value the residual reads, float64 (or complex), by Taylor propagation: zeros -> u,
        each multi-index α -> ∂^α u, "lap" -> Δu; arrays (B, N, d_out) for batched params."""
        plan, spec, X = self.residual_spec.plan, self.network, self.grid()
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

    def point_losses(self, params) -> np.ndarray:
        """Σ_c r_c² at each point, shape (B, N) (complex-safe)."""
        components = self.residual_spec.evaluate(self.derivative_values(params), self.grid(), np)
        return sum(r**2 for r in components)

    def loss(self, params) -> np.ndarray:
        return self.point_losses(params).mean(axis=-1)

    def tolerance_parts(self, strategy: str, dtype: str, params, measured_rounding=None) -> Tolerance:
        """Exact strategies: `exact_rounding` with K + 2 passes per point (K the highest order, the
        reverse pass) plus one operation per directional derivative the residual combines, never
        below EXACT_FLOAT64_TOLERANCE in float64."""
        check_dtype(dtype)
        plan = self.residual_spec.plan
        condition = self.summation_condition(params)
        rounding = exact_rounding(self.network, plan.max_order + 2, self.points, condition, dtype,
                                  EXACT_FLOAT64_TOLERANCE, extra_operations=len(plan.directions))  # fmt: skip
        return Tolerance(rounding)
