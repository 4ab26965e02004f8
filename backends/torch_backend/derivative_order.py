"""PyTorch strategies for the k-th input derivative loss L(θ) = Σᵢ (∂ᵏU₁/∂x₁ᵏ(xᵢ; θ))².

Each strategy builds `derivative(params) -> (N,)`, the k-th derivative of t ↦ U₁(xᵢ + t e₁) at
t = 0 for all grid points at once; the weight gradient of Σ D² is always reverse mode
(`torch.autograd.grad` on the persistent parameter leaves of the core's `Setup`). `fwd-over-rev`
exists at order 2 only (the catalogue says so; other orders are never built).
"""

from __future__ import annotations

import contextlib

import torch
from torch.func import grad, jvp, vmap

from backends.torch_backend.core import (
    DTYPE_NAMES,
    Setup,
    autograd_nodes,
    batch_network,
    jet_condition,
    registry,
    reverse_outer,
    stencil,
)

KIND = "derivative-order"


def _e1(s: Setup) -> torch.Tensor:
    return torch.eye(s.X.shape[1], dtype=s.dtype, device=s.device)[0]


def nested_reverse(s: Setup, order: int):
    """k-fold `torch.autograd.grad(create_graph=True)` in a per-point shift t (points are
    independent, so the gradient of the sum holds each point's derivative)."""
    e1 = _e1(s)

    def derivative(params):
        t = torch.zeros(s.X.shape[0], dtype=s.dtype, device=s.device, requires_grad=True)
        d = s.apply(params, s.X + t[:, None] * e1)[:, 0]
        for _ in range(order):
            (d,) = torch.autograd.grad(d.sum(), t, create_graph=True)
        return d

    return derivative, {}


def _along_x1(s: Setup, params):
    e1 = _e1(s)
    return lambda x, t: s.apply(params, (x + t * e1)[None])[0, 0]


def _jvp_in_t(f):
    return lambda x, t: jvp(lambda u: f(x, u), (t,), (torch.ones_like(t),))[1]


def _at_grid_points(s: Setup, f):
    """`f(x, t)` of one point at t = 0, vmapped over the grid points."""
    zero = torch.zeros((), dtype=s.dtype, device=s.device)
    return vmap(f, in_dims=(0, None))(s.X, zero)


def nested_forward(s: Setup, order: int):
    """k-fold `torch.func.jvp` in t, vmapped over points."""

    def derivative(params):
        f = _along_x1(s, params)
        for _ in range(order):
            f = _jvp_in_t(f)
        return _at_grid_points(s, f)

    return derivative, {}


def forward_over_reverse(s: Setup, order: int):
    """Second order only (the catalogue's `applies`): `torch.func.jvp` over `torch.func.grad`,
    vmapped over points."""
    assert order == 2, "fwd-over-rev is built at order 2 only"

    def derivative(params):
        f = _along_x1(s, params)
        first = lambda x, t: grad(lambda u: f(x, u))(t)
        return _at_grid_points(s, _jvp_in_t(first))

    return derivative, {}


def taylor(s: Setup, order: int):
    """jet-for-pytorch: one k-jet of the whole network with coefficients (e₁, 0, …, 0) for every
    point, captured once as an FX graph; weights closed over by reference get gradients through
    autograd. The output's k-th coefficient is the k-th derivative (jets carry derivatives)."""
    from jet import capture_graph, jet

    E = _e1(s).expand_as(s.X).contiguous()
    Z = torch.zeros_like(s.X)
    args = ((s.X, E) + (Z,) * (order - 1),)
    jet_net = jet(lambda x: s.apply(s.params, x), (s.X,))
    graph, tree_spec = capture_graph(jet_net, args)
    flat = tree_spec.flatten_up_to(args)

    def derivative(params):
        return graph(*flat)[order][:, 0]

    return derivative, {"program_ops": len(graph.graph.nodes)}


def nested_reverse_func(s: Setup, order: int):
    """k-fold `torch.func.grad` in t per point, vmapped over points (torch.func, not autograd)."""

    def derivative(params):
        f = _along_x1(s, params)
        for _ in range(order):
            f = (lambda g: lambda x, t: grad(lambda u: g(x, u))(t))(f)
        return _at_grid_points(s, f)

    return derivative, {}


def _along_x1_batched(s: Setup, params):
    """t ↦ [U₁(xᵢ + tᵢe₁)]ᵢ with one shift per point (a diagonal Jacobian in t)."""
    e1 = _e1(s)
    return lambda t: s.apply(params, s.X + t[:, None] * e1)[:, 0]


def _batched_jvp(f):
    return lambda t: jvp(f, (t,), (torch.ones_like(t),))[1]


def nested_forward_batched(s: Setup, order: int):
    """k-fold `torch.func.jvp` in the shifts t with tangent 1 at every point, on the batch (no vmap)."""

    def derivative(params):
        f = _along_x1_batched(s, params)
        for _ in range(order):
            f = _batched_jvp(f)
        return f(torch.zeros(s.X.shape[0], dtype=s.dtype, device=s.device))

    return derivative, {}


def forward_over_reverse_batched(s: Setup, order: int):
    """Order 2: `torch.func.jvp` over `torch.func.grad` of the summed network on the batch."""
    assert order == 2, "fwd-over-rev is built at order 2 only"

    def derivative(params):
        f = _along_x1_batched(s, params)
        first = grad(lambda t: f(t).sum())
        return _batched_jvp(first)(torch.zeros(s.X.shape[0], dtype=s.dtype, device=s.device))

    return derivative, {}


def taylor_interpreted(s: Setup, order: int):
    """As `taylor`, with jet-for-pytorch's interpreter run at every call (no captured graph)."""
    from jet import jet

    E = _e1(s).expand_as(s.X).contiguous()
    Z = torch.zeros_like(s.X)
    jet_net = jet(lambda x: s.apply(s.params, x), (s.X,))

    def derivative(params):
        return jet_net((s.X, E) + (Z,) * (order - 1))[order][:, 0]

    return derivative, {}


def fd_stencil(s: Setup, order: int):
    """Σⱼ (c_j/hᵏ) U₁(x + j h e₁) with the problem's central stencil."""
    derivative = stencil(batch_network(s.spec))
    offsets, weights = map(s.tensor, s.problem.stencil(DTYPE_NAMES[s.dtype]))
    return (lambda params: derivative(params, s.X, offsets, weights)), {}


def _build(problem, dtype, device, compile_mode, *, operator):
    """value and ∇θ of Σ D² by reverse mode, D from `operator(setup, order)`; the loss alone (timed
    as the "loss" part) on detached weights; metrics: nodes of the autograd graph the weight
    gradient runs through, and of the captured jet graph where there is one (`program_ops`, as for
    the penalty)."""
    s = Setup(problem, dtype, device, compile_mode)
    derivative, static_metrics = operator(s, problem.order)
    value = lambda params: (derivative(params) ** 2).sum()

    def loss(params):
        detached = {k: p.detach() for k, p in params.items()}
        with torch.no_grad() if operator is not nested_reverse else contextlib.nullcontext():
            return value(detached).detach()

    metrics = lambda params: {"autograd_nodes": autograd_nodes(value(params)), **static_metrics}
    return s.compiled(
        reverse_outer(value), loss=loss, metrics=metrics, double_backward=operator is nested_reverse
    )


for _name, _operator in {
    "nested-rev": nested_reverse,
    "nested-fwd": nested_forward,
    "fwd-over-rev": forward_over_reverse,
    "taylor": taylor,
    "fd-stencil": fd_stencil,
    "nested-rev:func": nested_reverse_func,
    "nested-fwd:batched": nested_forward_batched,
    "fwd-over-rev:batched": forward_over_reverse_batched,
    "taylor:interpreted": taylor_interpreted,
}.items():
    registry.register(KIND, _name, when=jet_condition if _name == "taylor" else None, operator=_operator)(
        _build
    )
