"""JAX strategies for the PDE residual loss mean_n Σ_c r_c(xₙ)².

Each strategy turns the per-point network `f(params, x) -> (d_out,)` and the residual's
`DerivativePlan` into `values(params, x)`: a dict of exactly what the residual reads (zeros -> u,
each needed multi-index α -> ∂^α u, "lap" -> Δu), every distinct multi-index computed once:

* nested-rev / nested-fwd / fwd-over-rev walk the plan's nesting tree level by level; level k is
  one `jacrev` (all coordinates of every parent at once) or one `jvp` per distinct coordinate
  (shared by every parent) of level k − 1, which returns its own values as `has_aux` output, so
  lower orders are not recomputed outside the nest.
* taylor propagates one jet along each of the plan's integer directions, of the highest order
  needed there; pure derivatives are jets along eᵢ, mixed ones the plan's interpolation.
* forward-laplacian is folx's forward Laplacian over the Laplacian's coordinates (value,
  Jacobian and Δ in one pass), with a jvp for first derivatives along the others.

The residual is evaluated by `Residual.evaluate` with jax.numpy; the loss is vmapped over the
points and its weight gradient is reverse mode, jit-compiled once by `compile_evaluation`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental.jet import jet

from backends.jax_backend.core import (
    apply_fn,
    compile_evaluation,
    jet_condition,
    params_to_numpy,
    per_point,
    registry,
    reverse_outer,
    stencil,
)
from problems.partials import NESTED_SCHEDULES, DerivativePlan
from problems.pde import ESTIMATORS


def _gather(level):
    parents = np.array([p for _, p, _ in level])
    coordinates = np.array([i for *_, i in level])
    return parents, coordinates


def _reverse_level(F, level):
    """Level k from level k − 1 by one jacrev: J[p, :, i] is ∂ᵢ of parent p."""
    parents, coordinates = _gather(level)

    def Fk(y):
        J, lower = jax.jacrev(F, has_aux=True)(y)  # (P, m, d)
        v = J[parents, :, coordinates]
        return v, (*lower, v)

    return Fk


def _forward_level(F, level):
    """Level k from level k − 1 by one jvp per distinct coordinate, vmapped, shared by all parents."""
    parents, coordinates = _gather(level)
    distinct = sorted(set(coordinates.tolist()))
    along = np.array([distinct.index(i) for i in coordinates])

    def Fk(y):
        E = jnp.eye(y.shape[0], dtype=y.dtype)[np.array(distinct)]
        tangents, lower = jax.vmap(lambda e: jax.jvp(F, (y,), (e,), has_aux=True)[1:], out_axes=(0, None))(E)
        v = tangents[along, parents]  # tangents (D, P, m)
        return v, (*lower, v)

    return Fk


def nested(step_for_level):
    """A nested strategy: `step_for_level(k)` builds level k (`_reverse_level`, `_forward_level`)
    of the plan's walk (`DerivativePlan.walk`)."""

    def make(f, plan):
        def values(params, x):
            outs = plan.walk(lambda y: f(params, y), step_for_level)(x)
            return plan.from_levels(outs, lambda v, rows: jnp.sum(v[np.array(rows)], axis=0))

        return values

    return make


def taylor(f, plan):
    """One jet along each of the plan's directions (grouped by order, vmapped); ∂^α u combined."""
    groups = {}
    for r, (_, K) in enumerate(plan.directions):
        groups.setdefault(K, []).append(r)
    where = {r: (K, j) for K, rs in groups.items() for j, r in enumerate(rs)}

    def values(params, x):
        g = lambda y: f(params, y)
        series = {}
        for K, rs in groups.items():
            V = jnp.asarray(np.array([plan.directions[r][0] for r in rs], dtype=float), dtype=x.dtype)
            jets = lambda v, K=K: jet(g, (x,), ([v] + [jnp.zeros_like(v)] * (K - 1),))[1]
            series[K] = jax.vmap(jets)(V)  # K arrays (R_K, m): D¹ … D^K along each direction
        out = {
            (0,) * plan.n_inputs: g(x),
            **plan.combined(lambda r, k: series[where[r][0]][k - 1][where[r][1]]),
        }
        if plan.laplacian:
            parts = {}
            for r in plan.laplacian_directions:
                parts.setdefault(where[r][0], []).append(where[r][1])
            out["lap"] = sum(jnp.sum(series[K][1][np.array(js)], axis=0) for K, js in parts.items())
        return out

    return values


def forward_laplacian(f, plan):
    """folx over the Laplacian's coordinates S (u, ∇_S u, Δu together); ∂u/∂xᵢ for i ∉ S by jvp."""
    from folx import forward_laplacian as folx_laplacian

    S = np.array(plan.laplacian)
    position = {int(i): j for j, i in enumerate(S)}

    def values(params, x):
        g = lambda y: f(params, y)
        result = folx_laplacian(lambda xs: g(x.at[S].set(xs)))(x[S])
        jacobian = result.jacobian.dense_array  # (|S|, m)
        out = {(0,) * plan.n_inputs: result.x, "lap": result.laplacian}
        for alpha in plan.multi_indices:
            i = alpha.index(1)
            if i in position:
                out[alpha] = jacobian[position[i]]
            else:
                out[alpha] = jax.jvp(g, (x,), (jnp.eye(x.shape[0], dtype=x.dtype)[i],))[1]
        return out

    return values


def laplacian_estimator(f, plan):
    """hutchinson: Δu as the mean of D²_v u over the point's sampled directions V (S, d), one
    second-order jet each (vmapped, the primal shared); the other terms exact by `taylor`."""
    exact = taylor(f, DerivativePlan(plan.n_inputs, plan.multi_indices))

    def values(params, x, V):
        g = lambda y: f(params, y)
        second = lambda v: jet(g, (x,), ([v, jnp.zeros_like(v)],))[1][1]
        return {**exact(params, x), "lap": jnp.mean(jax.vmap(second)(V), axis=0)}

    return values


def sparse_laplacian_estimator(f, plan, scale):
    """stde (STDE's sparse random jets): the point's directions are √|S|·eⱼ, given by their input
    indices J (S,) (`estimator_coordinates`, passed as floats and cast), so no (points, samples, d)
    direction array exists; each jet's tangent is the one-hot row built from j inside the program
    and the primal is shared by the point's samples. (Setting the coordinate, x.at[j].add(s), and
    jetting the scalar s as STDE's code does, recomputes the primal per sample: 1.6-2× slower here
    at d = 1000.) The other terms exact by `taylor`."""
    exact = taylor(f, DerivativePlan(plan.n_inputs, plan.multi_indices))

    def values(params, x, J):
        g = lambda y: f(params, y)
        second = lambda v: jet(g, (x,), ([v, jnp.zeros_like(v)],))[1][1]
        E = scale * jax.nn.one_hot(J.astype(jnp.int32), x.shape[0], dtype=x.dtype)
        return {**exact(params, x), "lap": jnp.mean(jax.vmap(second)(E), axis=0)}

    return values


LEVELS = {"reverse": _reverse_level, "forward": _forward_level}
"""mode -> this framework's builder of one nesting level."""


def nested_strategy(schedule):
    """The nested strategy whose level k differentiates in mode `schedule(k)` (`NESTED_SCHEDULES`)."""
    return nested(lambda k: LEVELS[schedule(k)])


STRATEGIES = {
    **{name: nested_strategy(schedule) for name, schedule in NESTED_SCHEDULES.items()},
    "taylor": taylor,
    "forward-laplacian": forward_laplacian,
}
"""name -> ((f, plan) -> values(params, x)): the derivative values the residual reads."""


def residual_loss(problem, values_fn):
    """mean_n Σ_c r_c(xₙ)² with the values of `values_fn(params, x, *per-point data)`, vmapped
    over the points (and their data)."""
    residual = problem.parsed_residual

    def point_loss(params, x, *data):
        return sum(r**2 for r in residual.evaluate(values_fn(params, x, *data), x, jnp))

    def value(params, X, *data):
        return jnp.mean(per_point(point_loss)(params, X, *data))

    return value


def _build(problem, dtype, device, compile_mode, *, operator):
    """The residual loss with the derivative values of `operator(f, plan)`."""
    value = residual_loss(problem, operator(apply_fn(problem.network), problem.parsed_residual.plan))
    return compile_evaluation(problem, dtype, device, compile_mode, reverse_outer(value), loss=value)


def hutchinson(f, problem):
    """hutchinson's values (`laplacian_estimator`) and per-point data: the problem's dense
    Rademacher directions, (points, samples, d)."""
    return laplacian_estimator(f, problem.parsed_residual.plan), problem.estimator_directions("hutchinson")


def stde(f, problem):
    """stde's values (`sparse_laplacian_estimator`) and per-point data: the sampled coordinates'
    indices, (points, samples)."""
    plan = problem.parsed_residual.plan
    return sparse_laplacian_estimator(f, plan, problem.stde_scale()), problem.estimator_coordinates()


ESTIMATOR_OPERATORS = {"hutchinson": hutchinson, "stde": stde}
"""estimator -> ((f, problem) -> (values(params, x, data_i), per-point data))."""


def _estimator_build(estimator: str):
    """The build of stochastic estimator `estimator`, its values and per-point data from the declared
    `operator` (`ESTIMATOR_OPERATORS`), its statistics the problem's."""

    def build(problem, dtype, device, compile_mode, *, operator):
        values, data = operator(apply_fn(problem.network), problem)
        value = residual_loss(problem, values)
        statistics = lambda native: problem.estimator_statistics(estimator, params_to_numpy(native))
        return compile_evaluation(
            problem,
            dtype,
            device,
            compile_mode,
            reverse_outer(value),
            data,
            loss=value,
            extra_metrics=statistics,
        )

    return build


def fd_stencil(problem):
    """mean_n Σ_c r_c² with every value the residual reads from the problem's stencils
    (`PDEProblem.stencil`: one column per key, every distinct node once): the network (every
    output) at every point × node in one batch by the shared `stencil` helper, (N, T, d_out); then
    the residual on the whole batch."""
    keys, residual = problem.stencil_keys, problem.parsed_residual
    columns = stencil(per_point(apply_fn(problem.network)))

    def value(params, X, offsets, weights):
        D = columns(params, X, offsets, weights)
        values = {key: D[:, t] for t, key in enumerate(keys)}
        return jnp.mean(sum(r**2 for r in residual.evaluate(values, X, jnp)))

    return value


def _build_fd_stencil(problem, dtype, device, compile_mode):
    value = fd_stencil(problem)
    offsets, weights = problem.stencil(dtype)
    return compile_evaluation(problem, dtype, device, compile_mode, reverse_outer(value), offsets, weights,
                              loss=value)  # fmt: skip


for _name, _make in STRATEGIES.items():
    registry.register("pde", _name, when=jet_condition if _name == "taylor" else None, operator=_make)(_build)

for _name in ESTIMATORS:
    registry.register("pde", _name, when=jet_condition, operator=ESTIMATOR_OPERATORS[_name])(
        _estimator_build(_name)
    )

registry.register("pde", "fd-stencil")(_build_fd_stencil)

registry.unsupported(
    "pde",
    "collapsed-taylor",
    "jax.experimental.jet has no collapsed mode and no JAX library offers collapsed Taylor mode; folx's "
    "forward Laplacian is the collapsed second-order propagation and is measured as forward-laplacian",
)
