"""PyTorch strategies for the seed penalty P(θ) = Σᵢ ‖∇ₓU₁(xᵢ; θ)‖².

Points are batched: since each output row depends only on its own input row, ∇_X ΣᵢU₁(xᵢ) has the
per-point gradients as rows. Parameters are the core `Setup`'s persistent leaves.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.func import grad, grad_and_value, jacfwd, jacrev, jvp, vmap

from backends import floor
from backends.base import Compiled
from backends.torch_backend.core import Setup, jet_condition, mlp, registry, reverse_outer


@registry.register("penalty", "rev-over-rev")
def _build_rev_over_rev(problem, dtype, device, variant):
    s = Setup(problem, dtype, device, variant)
    X = s.X.clone().requires_grad_(True)

    def penalty(params, create_graph=True):
        u1 = mlp(params, X, s.spec)[:, 0].sum()
        (G,) = torch.autograd.grad(u1, X, create_graph=create_graph)
        return (G**2).sum()

    return s.compiled(reverse_outer(s, penalty), loss=lambda params: penalty(params, create_graph=False))


def _u1_point(spec):
    return lambda params, x: mlp(params, x, spec)[0]


def _func_outer(setup: Setup, input_jacobian) -> Compiled:
    """torch.func.grad_and_value over Σᵢ‖vmap(input_jacobian)(params, xᵢ)‖²."""

    def penalty(params):
        G = vmap(input_jacobian, in_dims=(None, 0))(params, setup.X)
        return (G**2).sum()

    value_and_grad = grad_and_value(penalty)

    def fn(params):
        grads, value = value_and_grad({k: p.detach() for k, p in params.items()})
        return value, grads

    def loss(params):
        with torch.no_grad():
            return penalty({k: p.detach() for k, p in params.items()})

    return setup.compiled(fn, loss=loss)


@registry.register("penalty", "rev-over-rev-func")
def _build_rev_over_rev_func(problem, dtype, device, variant):
    s = Setup(problem, dtype, device, variant)
    return _func_outer(s, jacrev(_u1_point(s.spec), argnums=1))


@registry.register("penalty", "rev-over-fwd")
def _build_rev_over_fwd(problem, dtype, device, variant):
    s = Setup(problem, dtype, device, variant)
    return _func_outer(s, jacfwd(_u1_point(s.spec), argnums=1))


@registry.register("penalty", "fwd-over-rev")
def _build_fwd_over_rev(problem, dtype, device, variant):
    """G = ∇_X ΣU₁ by one reverse pass; ∇θP = 2·JVP of X ↦ ∇θΣU₁(X) in direction G."""
    s = Setup(problem, dtype, device, variant)

    def sum_u1(params, X):
        return mlp(params, X, s.spec)[:, 0].sum()

    def fn(params):
        params = {k: p.detach() for k, p in params.items()}
        G = grad(sum_u1, argnums=1)(params, s.X)
        _, tangent = jvp(lambda Y: grad(sum_u1)(params, Y), (s.X,), (G,))
        return (G**2).sum(), {k: 2 * t for k, t in tangent.items()}

    def loss(params):
        return (grad(sum_u1, argnums=1)({k: p.detach() for k, p in params.items()}, s.X) ** 2).sum()

    return s.compiled(fn, loss=loss)


@registry.register("penalty", "fwd-over-fwd")
def _build_fwd_over_fwd(problem, dtype, device, variant):
    """jacfwd over the flat parameter vector (one batched JVP per parameter) of P computed with
    forward-mode input derivatives."""
    s = Setup(problem, dtype, device, variant)
    shapes = s.spec.param_shapes()
    sizes = [int(np.prod(shapes[k])) for k in s.names]
    input_jacobian = jacfwd(_u1_point(s.spec), argnums=1)

    def penalty(theta):
        params = {k: t.view(shapes[k]) for k, t in zip(s.names, torch.split(theta, sizes))}
        G = vmap(input_jacobian, in_dims=(None, 0))(params, s.X)
        value = (G**2).sum()
        return value, value

    jac = jacfwd(penalty, has_aux=True)

    def fn(params):
        theta = torch.cat([params[k].detach().reshape(-1) for k in s.names])
        flat, value = jac(theta)
        return value, {k: t.view(shapes[k]) for k, t in zip(s.names, torch.split(flat, sizes))}

    def loss(params):
        with torch.no_grad():
            return penalty(torch.cat([params[k].detach().reshape(-1) for k in s.names]))[0]

    return s.compiled(fn, loss=loss)


@registry.register("penalty", "taylor", when=jet_condition)
def _build_taylor(problem, dtype, device, variant):
    """jet-for-pytorch: first-order jets of the whole network along each input basis direction
    (points × directions stacked into one batch), captured once as an FX graph; the weights are
    closed over by reference and receive gradients through autograd. Indexing happens after the
    jet because jet has no rule for `select`."""
    from jet import capture_graph, jet

    s = Setup(problem, dtype, device, variant)
    d = s.X.shape[1]
    X = s.X.repeat(d, 1)  # (d·N, d): block j holds all points
    E = torch.eye(d, dtype=s.dtype, device=s.device).repeat_interleave(s.X.shape[0], dim=0)
    jet_net = jet(lambda x: mlp(s.params, x, s.spec), (X,))
    graph, in_spec = capture_graph(jet_net, ((X, E),))
    leaves = [s.params[k] for k in s.names]

    def value(params):
        _, first = graph(*in_spec.flatten_up_to(((X, E),)))
        return (first[:, 0] ** 2).sum()

    def fn(params):
        v = value(params)
        grads = torch.autograd.grad(v, leaves, allow_unused=True, materialize_grads=True)
        return v.detach(), dict(zip(s.names, grads))

    def loss(params):
        with torch.no_grad():
            return value(params)

    return s.compiled(fn, loss=loss, metrics=lambda native: {"program_ops": len(graph.graph.nodes)})


@registry.register("penalty", "fd-central")
def _build_fd_central(problem, dtype, device, variant):
    s = Setup(problem, dtype, device, variant)
    h = s.tensor(problem.fd_steps(dtype))  # (N, d)
    d = s.X.shape[1]
    steps = torch.diag_embed(h).transpose(0, 1).reshape(-1, d)  # (d·N, d): block j = h_j e_j
    X = s.X.repeat(d, 1)
    denom = 2 * h.T.reshape(-1)

    def penalty(params):
        U = mlp(params, torch.cat([X + steps, X - steps]), s.spec)[:, 0]
        D = (U[: X.shape[0]] - U[X.shape[0] :]) / denom
        return (D**2).sum()

    def loss(params):
        with torch.no_grad():
            return penalty(params)

    return s.compiled(reverse_outer(s, penalty), loss=loss)


@registry.register("penalty", "hand-derived")
def _build_hand_derived(problem, dtype, device, variant):
    """The floor (backends/floor.py) on detached tensors: no autograd graph at all."""
    s = Setup(problem, dtype, device, variant)

    def fn(params):
        with torch.no_grad():
            return floor.penalty_value_and_grad(params, s.X, s.spec, torch)

    def loss(params):
        with torch.no_grad():
            return floor.penalty_value(params, s.X, s.spec, torch)

    return s.compiled(fn, loss=loss)
