"""The Lotka–Volterra universal differential equation: ODE training loss plus the seed penalty.

Data (as the canonical SciML example): du₁ = αu₁ − βu₁u₂, du₂ = γu₁u₂ − δu₂ with
(α, β, γ, δ) = (1.3, 0.9, 0.8, 1.8), u₀ = 5·rand(2), tspan (0, 5) saved every 0.25, plus Gaussian
noise of 0.5 % of each state's mean; solved once with scipy's DOP853 at rtol = atol = 1e-12 and
stored in `problems/data/lv_data.npz` (`python -m problems.lv_ude` regenerates it; a test checks
the file matches a regeneration within the solver's measured accuracy).

Model: du₁ = α u₁ + U(u)₁, du₂ = −δ u₂ + U(u)₂ (α, δ known, U the seed network) from the first
noisy sample. Loss(θ) = mean((X_noisy − X̂(θ))²) + P(θ), P the seed penalty (the `penalty`
problem, taken from the registry); its strategies are the penalty's.

The float64 reference uses no AD framework: the loss by a tight DOP853 solve, its gradient by the
complex step through one vectorised complex solve that carries all 87 parameter perturbations at
once (plus two initial-state perturbations that give the propagator used by the error bound);
the penalty part comes from the penalty problem's reference.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
from scipy.integrate import solve_ivp

from problems.core import (
    Problem,
    Tolerance,
    check_choice,
    check_dtype,
    check_int_option,
    freeze,
    get_problem,
    register_problem,
    share_catalogue,
    thaw,
)
from problems.errors import BenchInputError
from problems.models import ModelSpec
from problems.network import SEED_NETWORK, flatten, unflatten
from problems.reference import COMPLEX_STEP, GradientReference, lane_values

# -- data -------------------------------------------------------------------------------------
LV_PARAMETERS = (1.3, 0.9, 0.8, 1.8)
"""(α, β, γ, δ) of the true system."""
T_SPAN = (0.0, 5.0)
SAVE_EVERY = 0.25
NOISE_FRACTION = 5e-3
"""Noise standard deviation as a fraction of each state's mean over the saved trajectory."""
DATA_SEED = 1111
"""numpy default_rng seed: draws u₀ = 5·rand(2) first, then the noise (the canonical order)."""
DATA_RTOL = DATA_ATOL = 1e-12
DATA_PATH = Path(__file__).parent / "data" / "lv_data.npz"
DATA_KEYS = ("t", "u0", "X_clean", "X_noisy")


def save_times() -> np.ndarray:
    """0, 0.25, ..., 5 (21 points), each exactly k/4."""
    n = round((T_SPAN[1] - T_SPAN[0]) / SAVE_EVERY)
    return T_SPAN[0] + SAVE_EVERY * np.arange(n + 1, dtype=np.float64)


def lotka_volterra(t, u):
    alpha, beta, gamma, delta = LV_PARAMETERS
    return np.array([alpha * u[0] - beta * u[0] * u[1], gamma * u[0] * u[1] - delta * u[1]])


def generate_data(seed: int = DATA_SEED) -> dict[str, np.ndarray]:
    """The noisy Lotka–Volterra data set; deterministic (same seed, same bits)."""
    rng = np.random.default_rng(seed)
    u0 = 5.0 * rng.random(2)
    t = save_times()
    sol = solve_ivp(lotka_volterra, T_SPAN, u0, method="DOP853", t_eval=t, rtol=DATA_RTOL, atol=DATA_ATOL)
    if not sol.success:  # pragma: no cover - a fixed, smooth problem
        raise RuntimeError(f"reference solve of the data failed: {sol.message}")
    X = sol.y.T.copy()  # (21, 2), time-major like the backends' solutions
    noise = (NOISE_FRACTION * X.mean(axis=0)) * rng.standard_normal(X.shape)
    return {"t": t, "u0": u0, "X_clean": X, "X_noisy": X + noise}


def write_data(path: Path = DATA_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **generate_data())
    return path


@lru_cache(maxsize=4)
def _load_data(path: str) -> tuple[tuple[str, np.ndarray], ...]:
    try:
        with np.load(path, allow_pickle=False) as f:
            return tuple((k, f[k].copy()) for k in DATA_KEYS)
    except (OSError, KeyError, ValueError) as exc:
        raise BenchInputError(
            f"cannot read the UDE data file {path!r} ({exc}); regenerate it with `python -m problems.lv_ude`"
        ) from exc


def load_data(path: Path = DATA_PATH) -> dict[str, np.ndarray]:
    """The stored data set (copies): t (21,), u0 (2,), X_clean and X_noisy (21, 2)."""
    return {k: v.copy() for k, v in _load_data(str(path))}


# -- options ----------------------------------------------------------------------------------
ODE_LIBRARIES = ("auto", "diffrax", "torchdiffeq", "torchode")
"""`auto`: the backend's own default (diffrax for JAX, torchdiffeq for PyTorch)."""
SOLVERS = {"tsit5": 5, "dopri5": 5, "dopri8": 8}
"""Solver name -> classical order."""
SENSITIVITIES = {
    "discretise": "reverse mode through the solver's operations (discretise-then-optimise)",
    "adjoint": "continuous adjoint: the adjoint ODE solved backwards (optimise-then-discretise)",
}
TOL_DIGITS = range(3, 13)
"""`tol = k` means rtol = atol = 10**-k."""

share_catalogue("lv-ude", of="penalty")
"""Every penalty strategy names a UDE strategy: the penalty part is taken that way, the data
misfit's gradient by the `sensitivity` option."""


# -- error model ------------------------------------------------------------------------------
SOLVER_SAFETY = 10.0
"""Margin over the a-priori global-error estimate N·M·tol (see `LVUDEProblem.tolerance`): covers
different step-size controllers (I vs PI, initial step) and error estimators of the same order."""
ADJOINT_FACTOR = 2.0
"""A continuous adjoint adds a backward solve of the same length and tolerance."""
FLOAT32_ROUNDING_ULPS = 10.0
"""Rounding per step in float32: ~10 roundings of ε|y| per Runge–Kutta step (stages and update)."""


@register_problem
@dataclass(frozen=True)
class LVUDEProblem(GradientReference, Problem):
    """Loss+gradient of one UDE training step: the data misfit through an ODE solve + penalty.

    Options: `ode` library, `solver`, `sensitivity` (how the gradient goes through the solve),
    `tol` (rtol = atol = 10^-tol) and the penalty's `points`.
    """

    ode: str = "auto"
    solver: str = "dopri5"
    sensitivity: str = "discretise"
    tol: int = 6
    points: int = 101
    network: ModelSpec = field(default=SEED_NETWORK)
    input_precision: str | None = None
    name = "lv-ude"
    kind = "lv-ude"

    def __post_init__(self):
        check_choice("ode", self.ode, ODE_LIBRARIES, "ode libraries")
        check_choice("solver", self.solver, SOLVERS)
        check_choice("sensitivity", self.sensitivity, SENSITIVITIES, "sensitivities")
        check_int_option("tol", self.tol, f"an integer k in {TOL_DIGITS.start}..{TOL_DIGITS.stop - 1} "
                         "(rtol = atol = 10^-k)", allowed=TOL_DIGITS)  # fmt: skip
        self.penalty  # validates points  # noqa: B018

    @property
    def rtol(self) -> float:
        return 10.0 ** -int(self.tol)

    atol = rtol

    @cached_property
    def penalty(self) -> Problem:
        """The foundation's penalty problem, whose strategies every backend reuses."""
        return get_problem("penalty", points=self.points, **self.network.options())

    def grid(self) -> np.ndarray:
        """The penalty's collocation points: where the UDE's input derivatives are taken."""
        return self.penalty.grid()

    def data(self) -> dict[str, np.ndarray]:
        return load_data()

    # -- reference ----------------------------------------------------------------------------
    def reference(self, params: dict[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
        """Float64 loss and gradient, independent of any AD framework and of the solver options."""
        data_value, data_grad = _data_reference(self.network, freeze(params))
        pen_value, pen_grads = self.penalty.reference(params)
        grads = unflatten(data_grad, self.network)
        return data_value + pen_value, {k: grads[k] + pen_grads[k] for k in self.network.param_names}

    def data_loss(self, params: dict[str, np.ndarray], rtol: float = 1e-12, method: str = "DOP853") -> float:
        """The data misfit alone by a real scipy solve (used by the finite-difference tests)."""
        Xn = self.data()["X_noisy"]
        sol = _solve(self.network, {k: np.asarray(v)[None] for k, v in params.items()}, Xn[0], rtol, method)
        return float(np.mean((sol.y.T - Xn) ** 2))

    def tolerance_parts(self, strategy: str, dtype: str, params: dict[str, np.ndarray],
                        measured_rounding: float | None = None) -> Tolerance:  # fmt: skip
        """Allowed relative error of loss and gradient, derived from the solver tolerance; the
        solver's part is a discretisation error, recorded as truncation.

        Steps: each accepted step's local error e satisfies ‖e / (tol·(1 + |u|))‖_RMS ≤ 1, so its
        weighted 2-norm is ≤ √d·tol (d = 2 states). Local errors travel to later times through
        Φ(t, s) = ∂u(t)/∂u(s); in the solver's weighting D = diag(1 + |u|) they grow by at most
        M = max ‖D(t)⁻¹Φ(t, s)D(s)‖₂ (from the reference's initial-state sensitivities). After N
        steps the weighted global error is ≤ ρ = M·√d·N·tol (Hairer, Nørsett & Wanner I, II.3),
        with N the step count of scipy's solver of the same order (RK45 for order 5, DOP853 for
        order 8) at this tolerance on this problem. The sensitivities ∂X̂/∂θ are integrated by the
        same steps (discretise) or by a backward solve of the same tolerance (adjoint,
        ×ADJOINT_FACTOR), so they carry the same relative bound; `_error_terms` turns ρ into bounds
        on the loss and on each gradient component.

        Dense output: saved values between steps are interpolated, which the controller does not
        see. `_interpolation_effect` replaces the exact states and sensitivities at the save
        times by the quartic interpolant on that step sequence (torchdiffeq's; the lowest-order
        dense output among the libraries) and bounds the resulting change of loss and gradient;
        ×M·ADJOINT_FACTOR for an adjoint, whose backward solve starts from the interpolated states.

        The sum of both, relative to |L| and max|∇L|, times SOLVER_SAFETY (different
        controllers and error constants of methods of the same order), plus the penalty's own
        tolerance (the penalty problem's `tolerance`). float32 adds FLOAT32_ROUNDING_ULPS·ε to tol per
        step. A gradient with a missing term or a wrong sign is off by O(1) and still fails.
        """
        check_dtype(dtype)
        frozen = freeze(params)
        order = SOLVERS[self.solver]
        steps = _step_times(self.network, frozen, order, self.rtol).size - 1
        per_step = self.rtol
        if dtype == "float32":
            per_step += FLOAT32_ROUNDING_ULPS * float(np.finfo(np.float32).eps)
        M = _propagator_bound(self.network, frozen)
        rho = M * np.sqrt(2) * steps * per_step
        d_value, d_grad = _error_terms(self.network, frozen)
        i_value, i_grad = _interpolation_effect(self.network, frozen, order, self.rtol)
        if self.sensitivity == "adjoint":
            rho *= ADJOINT_FACTOR
            i_grad = i_grad * M * ADJOINT_FACTOR
        value, grads = self.reference(params)
        g_scale = np.max(np.abs(flatten(grads, self.network)))
        value_err = (rho * d_value + i_value) / abs(value)
        grad_err = np.max(rho * d_grad + i_grad) / g_scale
        penalty = self.penalty.tolerance_parts(strategy, dtype, params, measured_rounding)
        solver = float(SOLVER_SAFETY * max(value_err, grad_err))
        return dataclasses.replace(penalty, truncation=penalty.truncation + solver)

    def stencil_problem(self) -> Problem:
        """The penalty: where a finite-difference strategy of the UDE takes its differences."""
        return self.penalty


def ude_rhs(params: dict[str, np.ndarray], spec: ModelSpec):
    """The UDE right-hand side on a flat state of B stacked 2-vectors (the batch of `params`)."""
    alpha, _, _, delta = LV_PARAMETERS
    batch = next(iter(params.values())).shape[0]

    def rhs(t, y):
        u = y.reshape(batch, 2)
        uhat = lane_values(params, spec, u)
        return np.stack([alpha * u[:, 0] + uhat[:, 0], -delta * u[:, 1] + uhat[:, 1]], axis=1).ravel()

    return rhs


def _solve(spec: ModelSpec, batched_params: dict, u0: np.ndarray, rtol: float, method: str = "DOP853"):
    """A real scipy solve of the UDE at rtol = atol = `rtol`, saved at the data's times."""
    sol = solve_ivp(ude_rhs(batched_params, spec), T_SPAN, u0, method=method, rtol=rtol, atol=rtol,
                    t_eval=save_times())  # fmt: skip
    if not sol.success:
        raise RuntimeError(f"reference UDE solve failed: {sol.message}")
    return sol


DENSE_EVERY = 0.05
"""Grid on which the propagator norm M is maximised (every 5th point is a save time)."""


@lru_cache(maxsize=8)
def _complex_solve(spec: ModelSpec, frozen_params: tuple):
    """One complex DOP853 solve at 1e-12 of 87 + 2 lanes with dense output: lane m < 87 perturbs
    θₘ by i·h, the last two perturb u₀ by i·h·eⱼ. Returns (dense solution of the flat complex
    state (lanes·2,), its right-hand side)."""
    theta = flatten(thaw(frozen_params), spec)
    n = theta.size
    lanes = np.tile(theta.astype(np.complex128), (n + 2, 1))
    lanes[np.arange(n), np.arange(n)] += 1j * COMPLEX_STEP
    y0 = np.tile(load_data()["X_noisy"][0].astype(np.complex128), (n + 2, 1))
    y0[n, 0] += 1j * COMPLEX_STEP
    y0[n + 1, 1] += 1j * COMPLEX_STEP
    rhs = ude_rhs(unflatten(lanes, spec), spec)
    sol = solve_ivp(
        rhs, T_SPAN, y0.ravel(), method="DOP853", rtol=DATA_RTOL, atol=DATA_ATOL, dense_output=True
    )
    if not sol.success:
        raise RuntimeError(f"reference UDE solve failed: {sol.message}")
    return sol.sol, rhs


def _split_lanes(y: np.ndarray, spec: ModelSpec) -> tuple[np.ndarray, np.ndarray]:
    """Flat complex states (lanes·2, T) -> (real trajectory (T, 2), Im / h (T, lanes, 2))."""
    Y = y.T.reshape(y.shape[1], spec.n_params + 2, 2)
    return np.real(Y[:, 0, :]), np.imag(Y) / COMPLEX_STEP


@lru_cache(maxsize=8)
def _trajectory(spec: ModelSpec, frozen_params: tuple, every: float = SAVE_EVERY):
    """(real trajectory (T, 2), sensitivities (T, 87 + 2, 2)) on the grid 0:every:5."""
    dense, _ = _complex_solve(spec, frozen_params)
    t = np.linspace(T_SPAN[0], T_SPAN[1], round((T_SPAN[1] - T_SPAN[0]) / every) + 1)
    return _split_lanes(dense(t), spec)


def _data_terms(U: np.ndarray, S: np.ndarray) -> tuple[float, np.ndarray]:
    """Misfit mean((X̂ − X_noisy)²) and its gradient Σ 2 rₖ ∂X̂ₖ/∂θ / n from saved states and
    parameter sensitivities."""
    r = U - load_data()["X_noisy"]
    return float(np.mean(r**2)), 2.0 * np.einsum("tj,tpj->p", r, S) / r.size


@lru_cache(maxsize=8)
def _data_reference(spec: ModelSpec, frozen_params: tuple) -> tuple[float, np.ndarray]:
    """Data misfit and its gradient (flat, `flatten` order) by the complex step."""
    U, dU = _trajectory(spec, frozen_params)
    return _data_terms(U, dU[:, : spec.n_params])


# -- error model (see LVUDEProblem.tolerance) -------------------------------------------------
@lru_cache(maxsize=32)
def _step_times(spec: ModelSpec, frozen_params: tuple, order: int, tol: float) -> np.ndarray:
    """Accepted step times of scipy's solver of this order at rtol = atol = tol on this problem."""
    params = {k: v[None] for k, v in thaw(frozen_params).items()}
    method = "RK45" if order == 5 else "DOP853"
    sol = solve_ivp(
        ude_rhs(params, spec), T_SPAN, load_data()["X_noisy"][0], method=method, rtol=tol, atol=tol
    )
    if not sol.success:
        raise RuntimeError(f"reference UDE solve failed: {sol.message}")
    return sol.t  # without t_eval, every accepted step


def quartic_dense_output(y0, y1, y_mid, f0, f1, h, x):
    """The quartic through y0, y1, y_mid with slopes f0, f1 at the ends of a step of length h,
    at x ∈ [0, 1] (torchdiffeq's dense output for dopri5 and dopri8)."""
    a = 2 * h * (f1 - f0) - 8 * (y1 + y0) + 16 * y_mid
    b = h * (5 * f0 - 3 * f1) + 18 * y0 + 14 * y1 - 32 * y_mid
    c = h * (f1 - 4 * f0) - 11 * y0 - 5 * y1 + 16 * y_mid
    return y0 + x * (h * f0 + x * (c + x * (b + x * a)))


@lru_cache(maxsize=32)
def _interpolation_effect(spec: ModelSpec, frozen_params: tuple, order: int, tol: float):
    """(|δL|, |δ∇L|) bounds from dense output: states and sensitivities at the save times replaced
    by the quartic interpolant of the exact solution on the step sequence of `_step_times`
    (interpolating the complex lanes interpolates the sensitivities with their own slopes)."""
    dense, rhs = _complex_solve(spec, frozen_params)
    steps = _step_times(spec, frozen_params, order, tol)
    taus = save_times()
    j = np.clip(np.searchsorted(steps, taus, side="right") - 1, 0, steps.size - 2)
    t0, t1 = steps[j], steps[j + 1]
    h = t1 - t0
    y0, y1, y_mid = dense(t0), dense(t1), dense(t0 + h / 2)  # (lanes·2, 21)
    f0 = np.stack([rhs(t, y) for t, y in zip(t0, y0.T)], axis=1)
    f1 = np.stack([rhs(t, y) for t, y in zip(t1, y1.T)], axis=1)
    interp = quartic_dense_output(y0, y1, y_mid, f0, f1, h, (taus - t0) / h)
    U, dU = _split_lanes(dense(taus), spec)
    E, dE = _split_lanes(interp, spec)
    E, dE = E - U, dE[:, : spec.n_params] - dU[:, : spec.n_params]
    r = np.abs(U - load_data()["X_noisy"])
    S = np.abs(dU[:, : spec.n_params])
    value = float(2.0 * np.sum(r * np.abs(E)) / r.size)
    grad = 2.0 * (np.einsum("tj,tpj->p", np.abs(E), S) + np.einsum("tj,tpj->p", r, np.abs(dE))) / r.size
    return value, grad


@lru_cache(maxsize=8)
def _propagator_bound(spec: ModelSpec, frozen_params: tuple) -> float:
    """M = max over s ≤ t of ‖D(t)⁻¹ Φ(t, s) D(s)‖₂ with D = diag(1 + |u|), on the dense grid.

    Φ(t, s) = Φ(t, 0) Φ(s, 0)⁻¹ carries a local error made at s to t; D is the weight of the
    solver's mixed error test, so M is the growth of errors measured as the solver measures them
    (an exponentially growing state grows its errors alike without growing them relatively).
    """
    Y, dY = _trajectory(spec, frozen_params, DENSE_EVERY)
    Phi = np.transpose(dY[:, spec.n_params :, :], (0, 2, 1))  # column j = ∂u(t)/∂u₀ⱼ
    D = 1.0 + np.abs(Y)  # (T, 2)
    prop = np.einsum("aij,bjk->abik", Phi, np.linalg.inv(Phi))  # Φ(t_a, t_b)
    weighted = prop / D[:, None, :, None] * D[None, :, None, :]
    norms = np.linalg.norm(weighted, ord=2, axis=(-2, -1))
    return float(np.max(np.tril(norms)))


@lru_cache(maxsize=8)
def _error_terms(spec: ModelSpec, frozen_params: tuple) -> tuple[float, np.ndarray]:
    """Bounds on |δL| and |δ∇L| (flat) per unit relative state error ρ.

    With |δX̂ₖ| ≤ ρ(1 + max|u|) and |δ∂X̂ₖ/∂θₘ| ≤ ρ·maxₖ|∂X̂ₖ/∂θₘ|, L = Σ rₖ²/n, ∇L = Σ 2 rₖ ∂X̂ₖ/∂θ / n:
    |δL| ≤ ρ Σ 2|rₖ|(1 + max|u|) / n,
    |δ∂L/∂θₘ| ≤ ρ Σ 2((1 + max|u|)·|∂X̂ₖ/∂θₘ| + |rₖ|·maxₖ|∂X̂ₖ/∂θₘ|) / n (first order in ρ).
    """
    U, dU = _trajectory(spec, frozen_params)
    r = np.abs(U - load_data()["X_noisy"])  # (21, 2)
    S = np.abs(dU[:, : spec.n_params])  # (21, P, 2)
    u_weight = 1.0 + float(np.max(np.abs(_trajectory(spec, frozen_params, DENSE_EVERY)[0])))
    value = float(2.0 * r.sum() * u_weight / r.size)
    grad = 2.0 * (u_weight * S.sum(axis=(0, 2)) + r.sum() * S.max(axis=(0, 2))) / r.size
    return value, grad


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m problems.lv_ude", description="(Re)write the UDE data file.")
    p.add_argument("--out", default=str(DATA_PATH), help=f"output .npz (default {DATA_PATH})")
    args = p.parse_args(argv)
    print(write_data(Path(args.out)))
    return 0


__all__ = ["LVUDEProblem", "generate_data", "load_data", "write_data"]

if __name__ == "__main__":
    raise SystemExit(main())
