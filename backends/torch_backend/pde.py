"""PyTorch strategies for the PDE residual loss mean_n Σ_c r_c(xₙ)².

The same plan as the JAX module (see there): each strategy turns the per-point network
f(x) -> (d_out,) (the model's batched `apply` on x[None], over the `Setup`'s persistent parameter
leaves) and the residual's `DerivativePlan` into `values(x)`, the dict of exactly what the residual
reads, every distinct multi-index once; `torch.func.vmap` maps it over the points and the weight
gradient is reverse mode (`torch.autograd.grad`).

* nested-rev / nested-fwd / fwd-over-rev: `torch.func.jacrev` / `jvp` level by level with
  `has_aux`, as in JAX.
* taylor: jet-for-pytorch's standard jets along the plan's integer directions.
* collapsed-taylor: jet-for-pytorch's collapsed `laplacian`, restricted to the Laplacian's
  coordinates by its `weighting` (C = S Sᵀ, S the coordinate selector), standard jets for the
  other terms.
"""

from __future__ import annotations

import torch
from torch.func import jacrev, jvp, vmap

from backends.torch_backend.core import (
    Setup,
    apply_fn,
    autograd_nodes,
    jet_condition,
    params_to_numpy,
    registry,
    reverse_outer,
    stencil,
)
from problems.partials import NESTED_SCHEDULES, DerivativePlan
from problems.pde import ESTIMATORS


def _gather(level, like):
    parents = torch.tensor([p for _, p, _ in level], device=like.device)
    coordinates = torch.tensor([i for *_, i in level], device=like.device)
    return parents, coordinates


def _reverse_level(F, level):
    def Fk(y):
        parents, coordinates = _gather(level, y)
        J, lower = jacrev(F, has_aux=True)(y)  # (P, m, d)
        v = J[parents, :, coordinates]
        return v, (*lower, v)

    return Fk


def _forward_level(F, level):
    coordinates = [i for *_, i in level]
    distinct = sorted(set(coordinates))
    along = [distinct.index(i) for i in coordinates]

    def Fk(y):
        parents, _ = _gather(level, y)
        E = torch.eye(y.shape[0], dtype=y.dtype, device=y.device)[distinct]
        # torch.func marks the aux (the lower levels) batched although no tangent reaches it: first row
        tangents, lower = vmap(lambda e: jvp(F, (y,), (e,), has_aux=True)[1:])(E)
        lower = tuple(t[0] for t in lower)
        v = tangents[torch.tensor(along, device=y.device), parents]  # tangents (D, P, m)
        return v, (*lower, v)

    return Fk


def nested(step_for_level):
    """A nested strategy: `step_for_level(k)` builds level k of the plan's walk (`DerivativePlan.walk`)."""

    def make(f, plan, mock_x):
        def values(x):
            outs = plan.walk(f, step_for_level)(x)
            return plan.from_levels(outs, lambda v, rows: v[list(rows)].sum(dim=0))

        return values

    return make


def _jets(f, plan, mock_x, positions):
    """D¹ … D^K along the plan's directions at `positions` by standard jets, grouped by order K:
    (params-free) x -> {position: [D¹, …, D^K]}."""
    from jet import jet

    jet_f = jet(f, (mock_x,))
    groups = {}
    for r in positions:
        groups.setdefault(plan.directions[r][1], []).append(r)

    def along(x):
        series, zeros = {}, torch.zeros_like(x)
        for K, rs in groups.items():
            V = torch.tensor([plan.directions[r][0] for r in rs], dtype=x.dtype, device=x.device)
            out = vmap(lambda v, K=K: torch.stack(jet_f((x, v, *([zeros] * (K - 1))))[1:]))(V)  # (R, K, m)
            series.update({r: out[j] for j, r in enumerate(rs)})
        return series

    return along


def taylor(f, plan, mock_x):
    along = _jets(f, plan, mock_x, range(len(plan.directions)))

    def values(x):
        series = along(x)
        out = {(0,) * plan.n_inputs: f(x), **plan.combined(lambda r, k: series[r][k - 1])}
        if plan.laplacian:
            out["lap"] = torch.stack([series[r][1] for r in plan.laplacian_directions]).sum(dim=0)
        return out

    return values


def collapsed_taylor(f, plan, mock_x):
    """Δ over the Laplacian's coordinates by jet's collapsed laplacian, weighted by C = S Sᵀ with S
    the (d, |S|) selector of those coordinates; the other terms by standard jets."""
    from jet import laplacian

    d = plan.n_inputs
    selector = torch.eye(d, dtype=mock_x.dtype, device=mock_x.device)[:, list(plan.laplacian)]  # (d, |S|)
    lap = laplacian(
        f, (mock_x,), collapsed=True, weighting=(lambda x, V: V @ selector.T, len(plan.laplacian))
    )
    needed = {r for combination in plan.combinations.values() for r, _ in combination}
    along = _jets(f, plan, mock_x, sorted(needed))

    def values(x):
        series = along(x)
        out = {(0,) * plan.n_inputs: f(x), **plan.combined(lambda r, k: series[r][k - 1])}
        out["lap"] = lap(x)
        return out

    return values


def laplacian_estimator(f, plan, mock_x):
    """hutchinson / stde: Δu as the mean of D²_v u over the point's sampled directions V (S, d) by
    one collapsed jet (`jet(collapsed=True)` sums the second coefficient over the S directions as
    it propagates, as the PINN's hutchinson); the other terms exact by standard jets."""
    from jet import jet

    cjet = jet(f, (mock_x,), collapsed=True)
    exact = taylor(f, DerivativePlan(plan.n_inputs, plan.multi_indices), mock_x)

    def values(x, V):
        return {**exact(x), "lap": cjet((x, V, torch.zeros_like(x)))[2] / V.shape[0]}

    return values


def sparse_laplacian_estimator(f, plan, mock_x, scale):
    """stde (STDE's sparse random jets): the point's directions √|S|·eⱼ come as their input indices
    J (S,) (`estimator_coordinates`), so no (points, samples, d) direction array exists; the
    one-hot rows are built from J inside the program and jetted as `laplacian_estimator` does
    (jet-for-pytorch has no rule for indexing, so the coordinate cannot be jetted alone)."""
    estimate = laplacian_estimator(f, plan, mock_x)
    coordinates = torch.arange(plan.n_inputs, device=mock_x.device)

    def values(x, J):
        V = (J.long()[:, None] == coordinates).to(x.dtype) * scale
        return estimate(x, V)

    return values


def hutchinson(f, problem, mock_x):
    """hutchinson's values (`laplacian_estimator`) and per-point data: the problem's dense
    Rademacher directions, (points, samples, d)."""
    plan = problem.parsed_residual.plan
    return laplacian_estimator(f, plan, mock_x), problem.estimator_directions("hutchinson")


def stde(f, problem, mock_x):
    """stde's values (`sparse_laplacian_estimator`) and per-point data: the sampled coordinates'
    indices, (points, samples)."""
    plan = problem.parsed_residual.plan
    return sparse_laplacian_estimator(f, plan, mock_x, problem.stde_scale()), problem.estimator_coordinates()


ESTIMATOR_OPERATORS = {"hutchinson": hutchinson, "stde": stde}
"""estimator -> ((f, problem, mock_x) -> (values(x, data_i), per-point data))."""


LEVELS = {"reverse": _reverse_level, "forward": _forward_level}
"""mode -> this framework's builder of one nesting level."""


def nested_strategy(schedule):
    """The nested strategy whose level k differentiates in mode `schedule(k)` (`NESTED_SCHEDULES`)."""
    return nested(lambda k: LEVELS[schedule(k)])


STRATEGIES = {
    **{name: nested_strategy(schedule) for name, schedule in NESTED_SCHEDULES.items()},
    "taylor": taylor,
    "collapsed-taylor": collapsed_taylor,
}
"""name -> ((f, plan, mock_x) -> values(x)): the derivative values the residual reads at one point."""


def _build(estimator: str | None = None, captured: bool = False):
    """The build of value and ∇θ of mean_n Σ_c r_c² by reverse mode, the derivative values from the
    declared `operator` ((f, plan, mock_x) -> values(x); an estimator's, `ESTIMATOR_OPERATORS`,
    also gives its per-point data); the loss alone on no-grad; an estimator records its
    statistics. The derivative values of all points come from one vmapped call; a jet-based one is
    captured once as an FX graph (`jet.capture_graph`, as the PINN's jet operators), its
    parameters read by reference."""

    def build(problem, dtype, device, compile_mode, *, operator):
        s = Setup(problem, dtype, device, compile_mode)
        apply = apply_fn(problem.network)
        f = lambda x: apply(s.params, x.unsqueeze(0)).squeeze(0)
        residual = problem.parsed_residual
        if estimator:
            values, data = operator(f, problem, s.X[0])
            data = (s.tensor(data),)
        else:
            values, data = operator(f, residual.plan, s.X[0]), ()
        keys = [(0,) * residual.plan.n_inputs, *residual.plan.multi_indices]
        keys += ["lap"] if residual.plan.laplacian else []
        batched = vmap(lambda x, *point_data: tuple(values(x, *point_data)[k] for k in keys))
        args, static = (s.X, *data), {}
        if captured:
            from jet import capture_graph

            graph, tree_spec = capture_graph(batched, args)
            flat = tree_spec.flatten_up_to(args)
            batched, args = (lambda *a: graph(*flat)), ()
            static["program_ops"] = len(graph.graph.nodes)

        def value(params):
            derivatives = dict(zip(keys, batched(*args)))
            return sum(r**2 for r in residual.evaluate(derivatives, s.X, torch)).mean()

        def loss(params):
            with torch.no_grad():
                return value(params)

        def metrics(params):
            out = {"autograd_nodes": autograd_nodes(value(params)), **static}
            if estimator:
                out.update(problem.estimator_statistics(estimator, params_to_numpy(params)))
            return out

        return s.compiled(reverse_outer(value), loss=loss, metrics=metrics)

    return build


for _name, _make in STRATEGIES.items():
    jet_based = _name in ("taylor", "collapsed-taylor")
    registry.register("pde", _name, when=jet_condition if jet_based else None, operator=_make)(
        _build(captured=jet_based)
    )
    if jet_based:
        registry.register("pde", f"{_name}:interpreted", when=jet_condition, operator=_make)(_build())

for _name in ESTIMATORS:
    _operator = ESTIMATOR_OPERATORS[_name]
    registry.register("pde", f"{_name}:interpreted", when=jet_condition, operator=_operator)(
        _build(estimator=_name)
    )
    registry.register("pde", _name, when=jet_condition, operator=_operator)(
        _build(estimator=_name, captured=True)
    )


def _build_fd_stencil(problem, dtype, device, compile_mode):
    """mean_n Σ_c r_c² with every value the residual reads from the problem's stencils
    (`PDEProblem.stencil`: one column per key, every distinct node once): the network (every
    output) at every point × node in one batch by the shared `stencil` helper, (N, T, d_out);
    then the residual."""
    s = Setup(problem, dtype, device, compile_mode)
    columns = stencil(s.apply)
    offsets, weights = map(s.tensor, problem.stencil(dtype))
    keys, residual = problem.stencil_keys, problem.parsed_residual

    def value(params):
        D = columns(params, s.X, offsets, weights)
        values = {key: D[:, t] for t, key in enumerate(keys)}
        return sum(r**2 for r in residual.evaluate(values, s.X, torch)).mean()

    def loss(params):
        with torch.no_grad():
            return value(params)

    return s.compiled(reverse_outer(value), loss=loss,
                      metrics=lambda params: {"autograd_nodes": autograd_nodes(value(params))})  # fmt: skip


registry.register("pde", "fd-stencil")(_build_fd_stencil)

registry.unsupported(
    "pde",
    "forward-laplacian",
    "folx is JAX-only; jet-for-pytorch's collapsed laplacian propagates the same collapsed coefficients "
    "and is measured as collapsed-taylor",
)
