"""PyTorch strategies for the seed penalty P(θ) = Σᵢ ‖∇ₓU₁(xᵢ; θ)‖².

Points are batched: since each output row depends only on its own input row, ∇_X ΣᵢU₁(xᵢ) has the
per-point gradients as rows. Parameters are the core `Setup`'s persistent leaves. Each strategy is
its fastest measured spelling in eager mode; the other spellings stay registered under their own
names (`rev-over-fwd:jacfwd`, ...; README, "Spellings").
"""

from __future__ import annotations

import numpy as np
import torch
import torch.autograd.forward_ad as fwAD
from torch.func import grad, grad_and_value, jacfwd, jacrev, jvp

from backends import floor
from backends.base import Compiled
from backends.torch_backend.core import (
    Setup,
    jet_condition,
    per_point,
    point_network,
    registry,
    reverse_outer,
)


def _basis_tangents(s: Setup) -> list[torch.Tensor]:
    """eⱼ at every point, one (N, d) tangent per input direction j."""
    eye = torch.eye(s.X.shape[1], dtype=s.dtype, device=s.device)
    return [e.expand_as(s.X).contiguous() for e in eye]


def _flat(s: Setup):
    """(theta -> params views, params -> theta) over the flat parameter vector."""
    shapes = s.spec.param_shapes()
    sizes = [int(np.prod(shapes[k])) for k in s.names]

    def unflatten(theta):
        return {k: t.view(shapes[k]) for k, t in zip(s.names, torch.split(theta, sizes))}

    def flatten(params):
        return torch.cat([params[k].detach().reshape(-1) for k in s.names])

    return unflatten, flatten


# -- outer weight gradients ---------------------------------------------------------------------
def _autograd_outer(s: Setup, input_grad) -> Compiled:
    """value, ∇θ by ordinary autograd over Σ‖input_grad(params)‖² (rows: one per point, or per
    point and direction); the loss alone under no_grad."""

    def penalty(params):
        return (input_grad(params) ** 2).sum()

    def loss(params):
        with torch.no_grad():
            return penalty(params)

    return s.compiled(reverse_outer(penalty), loss=loss)


def _func_outer(s: Setup, batch_grad) -> Compiled:
    """torch.func.grad_and_value over Σ‖batch_grad(params, X)‖² (G: (N, d), per-point rows)."""

    def penalty(params):
        return (batch_grad(params, s.X) ** 2).sum()

    value_and_grad = grad_and_value(penalty)

    def fn(params):
        grads, value = value_and_grad({k: p.detach() for k, p in params.items()})
        return value, grads

    def loss(params):
        with torch.no_grad():
            return penalty({k: p.detach() for k, p in params.items()})

    return s.compiled(fn, loss=loss)


# -- reverse over reverse -----------------------------------------------------------------------
@registry.register("penalty", "rev-over-rev")
def _build_rev_over_rev(problem, dtype, device, compile_mode):
    s = Setup(problem, dtype, device, compile_mode)
    X = s.X.clone().requires_grad_(True)

    def penalty(params, create_graph=True):
        u1 = s.apply(params, X)[:, 0].sum()
        (G,) = torch.autograd.grad(u1, X, create_graph=create_graph)
        return (G**2).sum()

    loss = lambda params: penalty(params, create_graph=False)
    return s.compiled(reverse_outer(penalty), loss=loss, double_backward=True)


@registry.register("penalty", "rev-over-rev-func")
def _build_rev_over_rev_func(problem, dtype, device, compile_mode):
    """torch.func.grad_and_value over torch.func.grad of ΣᵢU₁ on the whole batch (no vmap)."""
    s = Setup(problem, dtype, device, compile_mode)
    return _func_outer(s, grad(lambda params, X: s.apply(params, X)[:, 0].sum(), argnums=1))


@registry.register("penalty", "rev-over-rev-func:vmap")
def _build_rev_over_rev_func_vmap(problem, dtype, device, compile_mode):
    """torch.func.grad_and_value over vmap(jacrev) per point."""
    s = Setup(problem, dtype, device, compile_mode)
    return _func_outer(s, per_point(jacrev(point_network(s.spec), argnums=1)))


# -- reverse over forward -----------------------------------------------------------------------
@registry.register("penalty", "rev-over-fwd")
def _build_rev_over_fwd(problem, dtype, device, compile_mode):
    """∇ₓU₁ by torch.autograd.forward_ad dual numbers in one forward pass over the points ×
    directions stacked (d·N rows, tangent eⱼ on block j); the weight gradient by ordinary autograd
    through the dual pass."""
    s = Setup(problem, dtype, device, compile_mode)
    N, d = s.X.shape
    X = s.X.repeat(d, 1)
    E = torch.cat(_basis_tangents(s))

    def input_grad(params):  # rows: the d·N stacked (direction, point) pairs
        with fwAD.dual_level():
            return fwAD.unpack_dual(s.apply(params, fwAD.make_dual(X, E))[:, 0]).tangent

    return _autograd_outer(s, input_grad)


@registry.register("penalty", "rev-over-fwd:forward-ad-per-direction")
def _build_rev_over_fwd_forward_ad_per_direction(problem, dtype, device, compile_mode):
    """forward_ad dual numbers, one forward pass of the N points per input direction."""
    s = Setup(problem, dtype, device, compile_mode)
    tangents = _basis_tangents(s)

    def input_grad(params):
        with fwAD.dual_level():
            columns = [fwAD.unpack_dual(s.apply(params, fwAD.make_dual(s.X, t))[:, 0]).tangent
                       for t in tangents]  # fmt: skip
        return torch.stack(columns, dim=1)

    return _autograd_outer(s, input_grad)


@registry.register("penalty", "rev-over-fwd:jacfwd")
def _build_rev_over_fwd_jacfwd(problem, dtype, device, compile_mode):
    """torch.func.grad_and_value over vmap(jacfwd) per point."""
    s = Setup(problem, dtype, device, compile_mode)
    return _func_outer(s, per_point(jacfwd(point_network(s.spec), argnums=1)))


@registry.register("penalty", "rev-over-fwd:jvp")
def _build_rev_over_fwd_jvp(problem, dtype, device, compile_mode):
    """torch.func.jvp of the batched network per input direction, under torch.func.grad_and_value."""
    s = Setup(problem, dtype, device, compile_mode)
    tangents = _basis_tangents(s)

    def batch_grad(params, X):
        u1 = lambda Y: s.apply(params, Y)[:, 0]
        return torch.stack([jvp(u1, (X,), (t,))[1] for t in tangents], dim=1)

    return _func_outer(s, batch_grad)


# -- forward over reverse -----------------------------------------------------------------------
FORWARD_AD_LACKS_BACKWARD = {"silu": "aten::silu_backward"}
"""Activations whose autograd backward has no forward-AD formula in torch (forward_ad dual numbers
through the reverse pass raise NotImplementedError); torch.func's jvp over grad decomposes it."""


@registry.register("penalty", "fwd-over-rev")
def _build_fwd_over_rev(problem, dtype, device, compile_mode):
    """G = ∇_X ΣU₁ by one reverse pass; ∇θP = 2·JVP of X ↦ ∇θΣU₁(X) in direction G, taken as the
    tangent of autograd's ∇θΣU₁ at the dual input X + εG (forward_ad dual numbers through the
    reverse pass: no torch.func transform). Where the activation's backward has no forward-AD
    formula (`FORWARD_AD_LACKS_BACKWARD`) the torch.func spelling is the one that runs."""
    if problem.network.activation in FORWARD_AD_LACKS_BACKWARD:
        return _build_fwd_over_rev_func(problem, dtype, device, compile_mode)
    s = Setup(problem, dtype, device, compile_mode)
    leaves = [s.params[k] for k in s.names]
    X = s.X.clone().requires_grad_(True)

    def input_grad(params):
        (G,) = torch.autograd.grad(s.apply(params, X)[:, 0].sum(), X)
        return G

    def fn(params):
        G = input_grad(params)
        with fwAD.dual_level():
            U = s.apply(params, fwAD.make_dual(s.X, G))[:, 0].sum()
            grads = torch.autograd.grad(U, leaves, allow_unused=True, materialize_grads=True)
            tangents = [fwAD.unpack_dual(g).tangent for g in grads]  # None: independent of X (b4)
        tangents = [torch.zeros_like(g) if t is None else 2 * t for g, t in zip(grads, tangents)]
        return (G**2).sum(), dict(zip(s.names, tangents))

    def loss(params):
        return (input_grad(params) ** 2).sum().detach()

    return s.compiled(fn, loss=loss)


@registry.register("penalty", "fwd-over-rev:func")
def _build_fwd_over_rev_func(problem, dtype, device, compile_mode):
    """The same JVP trick with torch.func: jvp over grad."""
    s = Setup(problem, dtype, device, compile_mode)

    def sum_u1(params, X):
        return s.apply(params, X)[:, 0].sum()

    def fn(params):
        params = {k: p.detach() for k, p in params.items()}
        G = grad(sum_u1, argnums=1)(params, s.X)
        _, tangent = jvp(lambda Y: grad(sum_u1)(params, Y), (s.X,), (G,))
        return (G**2).sum(), {k: 2 * t for k, t in tangent.items()}

    def loss(params):
        return (grad(sum_u1, argnums=1)({k: p.detach() for k, p in params.items()}, s.X) ** 2).sum()

    return s.compiled(fn, loss=loss)


# -- forward over forward -----------------------------------------------------------------------
def _forward_over_forward(s: Setup, penalty_of) -> Compiled:
    """jacfwd over the flat parameter vector (one batched JVP per parameter) of
    `penalty_of(params)`, computed with forward-mode input derivatives."""
    unflatten, flatten = _flat(s)

    def penalty(theta):
        value = penalty_of(unflatten(theta))
        return value, value

    jac = jacfwd(penalty, has_aux=True)

    def fn(params):
        flat, value = jac(flatten(params))
        return value, unflatten(flat)

    def loss(params):
        with torch.no_grad():
            return penalty(flatten(params))[0]

    return s.compiled(fn, loss=loss)


@registry.register("penalty", "fwd-over-fwd")
def _build_fwd_over_fwd(problem, dtype, device, compile_mode):
    """jacfwd over the parameters of P, its input derivatives by torch.func.jvp of the batched
    network per input direction."""
    s = Setup(problem, dtype, device, compile_mode)
    tangents = _basis_tangents(s)

    def penalty_of(params):
        u1 = lambda Y: s.apply(params, Y)[:, 0]
        return sum((jvp(u1, (s.X,), (t,))[1] ** 2).sum() for t in tangents)

    return _forward_over_forward(s, penalty_of)


@registry.register("penalty", "fwd-over-fwd:per-point")
def _build_fwd_over_fwd_per_point(problem, dtype, device, compile_mode):
    """jacfwd over the parameters of P, its input derivatives by vmap(jacfwd) per point."""
    s = Setup(problem, dtype, device, compile_mode)
    input_jacobian = per_point(jacfwd(point_network(s.spec), argnums=1))
    return _forward_over_forward(s, lambda params: (input_jacobian(params, s.X) ** 2).sum())


# -- Taylor mode --------------------------------------------------------------------------------
def _stacked_directions(s: Setup):
    """The points repeated once per input direction (d·N rows) and the tangent eⱼ on block j."""
    d = s.X.shape[1]
    E = torch.eye(d, dtype=s.dtype, device=s.device).repeat_interleave(s.X.shape[0], dim=0)
    return s.X.repeat(d, 1), E


@registry.register("penalty", "taylor", when=jet_condition)
def _build_taylor(problem, dtype, device, compile_mode):
    """jet-for-pytorch: first-order jets of the whole network along each input basis direction
    (points × directions stacked into one batch), captured once as an FX graph; the weights are
    closed over by reference and receive gradients through autograd. Indexing happens after the
    jet because jet has no rule for `select`."""
    from jet import capture_graph, jet

    s = Setup(problem, dtype, device, compile_mode)
    X, E = _stacked_directions(s)
    jet_net = jet(lambda x: s.apply(s.params, x), (X,))
    graph, tree_spec = capture_graph(jet_net, ((X, E),))

    def value(params):
        _, first = graph(*tree_spec.flatten_up_to(((X, E),)))
        return (first[:, 0] ** 2).sum()

    def loss(params):
        with torch.no_grad():
            return value(params)

    return s.compiled(
        reverse_outer(value), loss=loss, metrics=lambda native: {"program_ops": len(graph.graph.nodes)}
    )


@registry.register("penalty", "taylor:interpreted")
def _build_taylor_interpreted(problem, dtype, device, compile_mode):
    """As taylor, with jet-for-pytorch's interpreter run at every call (no captured graph)."""
    from jet import jet

    s = Setup(problem, dtype, device, compile_mode)
    X, E = _stacked_directions(s)
    jet_net = jet(lambda x: s.apply(s.params, x), (X,))
    return _autograd_outer(s, lambda params: jet_net((X, E))[1][:, 0])


@registry.register("penalty", "taylor:per-direction")
def _build_taylor_per_direction(problem, dtype, device, compile_mode):
    """One captured first-order jet of the network on the N points per input direction (the graph
    captured once, called d times), instead of one jet on the d·N stacked rows."""
    from jet import capture_graph, jet

    s = Setup(problem, dtype, device, compile_mode)
    tangents = _basis_tangents(s)
    jet_net = jet(lambda x: s.apply(s.params, x), (s.X,))
    graph, tree_spec = capture_graph(jet_net, ((s.X, tangents[0]),))
    flat = [tree_spec.flatten_up_to(((s.X, t),)) for t in tangents]
    return _autograd_outer(s, lambda params: torch.stack([graph(*args)[1][:, 0] for args in flat], dim=1))


# -- central differences ------------------------------------------------------------------------
def _central_differences(s: Setup, problem, dtype: str, point_major: bool) -> Compiled:
    """(U₁(x + hⱼeⱼ) − U₁(x − hⱼeⱼ)) / 2hⱼ for every point and direction in one batch of the
    network; `point_major`: the 2d nodes of a point adjacent (else every x + h node, then every
    x − h node)."""
    h = s.tensor(problem.fd_steps(dtype))  # (N, d)
    N, d = s.X.shape
    steps = torch.diag_embed(h)  # (N, d, d): row j of point i is hᵢⱼ eⱼ
    plus, minus = s.X[:, None, :] + steps, s.X[:, None, :] - steps
    if point_major:  # rows (point, direction, ±)
        nodes = torch.stack([plus, minus], dim=2).reshape(-1, d)
    else:  # rows (±, direction, point), as torch.cat([X + s, X - s]) of the d-fold repeated X
        nodes = torch.stack([plus.transpose(0, 1), minus.transpose(0, 1)]).reshape(-1, d)

    def input_grad(params):
        U = s.apply(params, nodes)[:, 0]
        U = U.reshape(N, d, 2) if point_major else U.reshape(2, d, N).permute(2, 1, 0)
        return (U[..., 0] - U[..., 1]) / (2 * h)

    return _autograd_outer(s, input_grad)


@registry.register("penalty", "fd-central")
def _build_fd_central(problem, dtype, device, compile_mode):
    """Central differences, point-major: each point's ± nodes adjacent in the batch, so the weight
    gradient adds each pair's nearly opposite terms before they join the sum over points (less
    rounding than the node-major layout, at the same cost)."""
    s = Setup(problem, dtype, device, compile_mode)
    return _central_differences(s, problem, dtype, point_major=True)


@registry.register("penalty", "fd-central:node-major")
def _build_fd_central_node_major(problem, dtype, device, compile_mode):
    """Central differences, node-major: every x + h node, then every x − h node."""
    s = Setup(problem, dtype, device, compile_mode)
    return _central_differences(s, problem, dtype, point_major=False)


@registry.register("penalty", "hand-derived", when=floor.condition)
def _build_hand_derived(problem, dtype, device, compile_mode):
    """The floor (backends/floor.py) on detached tensors: no autograd graph at all."""
    s = Setup(problem, dtype, device, compile_mode)

    def fn(params):
        with torch.no_grad():
            return floor.penalty_value_and_grad(params, s.X, s.spec, torch)

    def loss(params):
        with torch.no_grad():
            return floor.penalty_value(params, s.X, s.spec, torch)

    return s.compiled(fn, loss=loss)
