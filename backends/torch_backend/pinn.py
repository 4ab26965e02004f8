"""PyTorch strategies for the PINN operators: Δu (Poisson) and Δ²u (biharmonic).

`LAPLACIAN[name](f)` and `BIHARMONIC[name](f)` turn a per-point function f: ℝᵈ → ℝ¹ into a batched
operator `op(X, *data) -> (N,)`, so the same operators are checked on closed-form functions in the
tests and on the MLP in the benchmark. The MLP closes over the persistent parameter leaves of the
core's `Setup`; the weight gradient of mean_n (op(xₙ) + sₙ)² is always reverse mode
(`torch.autograd.grad`). Taylor-mode operators are jet-for-pytorch's own (`laplacian`,
`bilaplacian`, collapsed or not, and `jet(collapsed=True)` for the stochastic estimator), vmapped
over points and captured once as an FX graph (`capture_graph`).
"""

from __future__ import annotations

import torch
from torch.func import grad, hessian, jacrev, jvp, vmap

from backends.torch_backend.core import (
    Setup,
    autograd_nodes,
    batch_network,
    jet_condition,
    params_to_numpy,
    registry,
    reverse_outer,
    stencil,
)
from problems.pinn import ORDER, hutchinson_scale


def _scalar(f):
    return lambda x: f(x)[0]


def laplacian_nested_reverse(f):
    """Trace of the Hessian by reverse over reverse (`jacrev` of `jacrev`), vmapped over points."""
    return lambda X: vmap(lambda x: torch.trace(jacrev(jacrev(_scalar(f)))(x)))(X)[:, None]


def laplacian_forward_over_reverse(f):
    """Trace of `torch.func.hessian` (forward over reverse), vmapped over points."""
    return lambda X: vmap(lambda x: torch.trace(hessian(_scalar(f))(x)))(X)[:, None]


def laplacian_nested_forward(f):
    """Σᵢ ∂²f/∂xᵢ² by `jvp` of `jvp` along each basis vector, vmapped over directions and points."""

    def lap(x):
        def second(e):
            first = lambda y: jvp(_scalar(f), (y,), (e,))[1]
            return jvp(first, (x,), (e,))[1]

        return vmap(second)(torch.eye(x.shape[0], dtype=x.dtype, device=x.device)).sum()

    return lambda X: vmap(lap)(X)[:, None]


def _jet_operator(transform, f, mock_x, **options):
    """A jet-for-pytorch per-point operator (`laplacian`, `bilaplacian`) vmapped over points."""
    return vmap(transform(f, (mock_x,), **options))


def jet_laplacian(collapsed: bool):
    from jet import laplacian

    return lambda f, mock_x: _jet_operator(laplacian, f, mock_x, collapsed=collapsed)


def jet_bilaplacian(collapsed: bool):
    from jet import bilaplacian

    return lambda f, mock_x: _jet_operator(bilaplacian, f, mock_x, collapsed=collapsed)


def hutchinson(order: int):
    """Σ_s D^m_{v_s}f / (S·c) over given directions V (N, S, d) by one collapsed jet per point
    (`jet(collapsed=True)` sums the top coefficient over the S directions as it propagates):
    Rademacher v, c = 1 for Δ; Gaussian v, c = 3 for Δ²."""
    from jet import jet

    def build(f, mock_x):
        cjet = jet(f, (mock_x,), collapsed=True)
        scale = hutchinson_scale(order)

        def at_point(x, V):
            zeros = torch.zeros_like(V)
            series = (x, V) + (zeros,) * (order - 2) + (torch.zeros_like(x),)
            return cjet(series)[order] / (V.shape[0] * scale)

        return vmap(at_point)

    return build


def _without_mock(operator):
    """`operator(f)` as `(f, mock_x) -> op`: an operator that needs no mock input (jet's do)."""
    return lambda f, mock_x: operator(f)


LAPLACIAN = {
    "nested-rev": _without_mock(laplacian_nested_reverse),
    "nested-fwd": _without_mock(laplacian_nested_forward),
    "fwd-over-rev": _without_mock(laplacian_forward_over_reverse),
    "taylor": jet_laplacian(collapsed=False),
    "collapsed-taylor": jet_laplacian(collapsed=True),
}
"""Exact Laplacians: name -> ((f, mock_x) -> (X -> Δf(X), shape (N, 1)))."""


def _twice(operator):
    """The operator applied to the per-point result of itself (Δ of Δ)."""

    def build(f, mock_x):
        inner = lambda x: operator(f)(x[None])[0]
        return operator(inner)

    return lambda f, mock_x: build(f, mock_x)


BIHARMONIC = {
    "nested-rev": _twice(laplacian_nested_reverse),
    "nested-fwd": _twice(laplacian_nested_forward),
    "fwd-over-rev": _twice(laplacian_forward_over_reverse),
    "taylor": jet_bilaplacian(collapsed=False),
    "collapsed-taylor": jet_bilaplacian(collapsed=True),
}
"""Exact biharmonic operators: the nested ones apply their Laplacian to the Laplacian."""

OPERATORS = {"laplacian": LAPLACIAN, "biharmonic": BIHARMONIC}


# -- batched spellings: the points in one batch inside the derivative ----------------------------
# f maps a batch (N, d) to (N, 1), each row depending on its own point only; a batched operator
# maps X to (N, 1) the same way, so batched operators compose (Δ of Δ).
def _tangents(X):
    """eᵢ at every point for each i, shape (d, N, d)."""
    return torch.eye(X.shape[1], dtype=X.dtype, device=X.device)[:, None, :].expand(-1, *X.shape)


def laplacian_nested_reverse_autograd(f):
    """Σᵢ ∂ᵢ(∇f)ᵢ by plain autograd on the batch: one create_graph reverse pass for ∇_X Σf, then one
    per direction i (d double-backward passes), no torch.func."""

    def lap(X):
        with torch.enable_grad():  # also for the loss alone, evaluated under no_grad
            if not X.requires_grad:
                X = X.detach().requires_grad_(True)
            (G,) = torch.autograd.grad(f(X).sum(), X, create_graph=True)
            rows = [torch.autograd.grad(G[:, i].sum(), X, create_graph=True)[0][:, i]
                    for i in range(X.shape[1])]  # fmt: skip
            return sum(rows)[:, None]

    return lap


def laplacian_forward_over_reverse_batched(f):
    """Σᵢ (∂ᵢ∇f)ᵢ by torch.func.jvp over torch.func.grad on the batch, vmapped over directions."""
    G = grad(lambda Y: f(Y).sum())

    def lap(X):
        rows = vmap(lambda E: jvp(G, (X,), (E,))[1])(_tangents(X))  # (d, N, d)
        return torch.einsum("ini->n", rows)[:, None]

    return lap


def laplacian_nested_forward_batched(f):
    """Σᵢ ∂ᵢ²f by jvp of jvp on the batch along eᵢ at every point, vmapped over directions."""

    def lap(X):
        def second(E):
            first = lambda Y: jvp(f, (Y,), (E,))[1]
            return jvp(first, (X,), (E,))[1]

        return vmap(second)(_tangents(X)).sum(dim=0)

    return lap


def _batched_twice(operator):
    """A batched operator applied to its own result (Δ of Δ), as `(f, mock_x) -> op`."""
    return lambda f, mock_x: operator(operator(f))


LAPLACIAN_SPELLINGS = {
    "nested-rev:autograd": _without_mock(laplacian_nested_reverse_autograd),
    "nested-fwd:batched": _without_mock(laplacian_nested_forward_batched),
    "fwd-over-rev:batched": _without_mock(laplacian_forward_over_reverse_batched),
}
BIHARMONIC_SPELLINGS = {
    "nested-rev:autograd": _batched_twice(laplacian_nested_reverse_autograd),
    "nested-fwd:batched": _batched_twice(laplacian_nested_forward_batched),
    "fwd-over-rev:batched": _batched_twice(laplacian_forward_over_reverse_batched),
}
SPELLINGS = {"laplacian": LAPLACIAN_SPELLINGS, "biharmonic": BIHARMONIC_SPELLINGS}
"""Batched spellings of the exact operators: name -> ((f, mock_x) -> (X -> op f(X), (N, 1)))."""


def _build_with(data=None, captured: bool = False, statistics: bool = False, double_backward: bool = False):
    """The build of value and ∇θ of mean (op(X) + s)² by reverse mode, op the declared `operator`
    ((f, mock_x) -> op); the loss alone on no-grad; metrics: autograd graph nodes, captured FX
    graph nodes (`program_ops`) for jet operators. `data(problem)`: the operator's per-point data
    (an estimator's directions, whose statistics are recorded with `statistics`); `double_backward`:
    the operator differentiates with create_graph (no torch.compile, core.DOUBLE_BACKWARD_UNDER_COMPILE)."""

    def build(problem, dtype, device, compile_mode, *, operator):
        s = Setup(problem, dtype, device, compile_mode)
        f = lambda x: s.apply(s.params, x)
        op = operator(f, s.X[0])
        args = (s.X,) if data is None else (s.X, s.tensor(data(problem)))
        static = {}
        if captured:
            from jet import capture_graph

            graph, tree_spec = capture_graph(op, args)
            flat = tree_spec.flatten_up_to(args)
            op, args = (lambda *a: graph(*flat)), ()
            static["program_ops"] = len(graph.graph.nodes)
        source = s.tensor(problem.source())
        value = lambda params: ((op(*args).reshape(-1) + source) ** 2).mean()

        def loss(params):
            with torch.no_grad():
                return value(params)

        def metrics(params):
            out = {"autograd_nodes": autograd_nodes(value(params)), **static}
            if statistics:
                out.update(problem.estimator_statistics(params_to_numpy(params)))
            return out

        return s.compiled(reverse_outer(value), loss=loss, metrics=metrics, double_backward=double_backward)

    return build


def _build_fd(problem, dtype, device, compile_mode):
    """The problem's stencil (discrete Laplacian, or its square) on all points × nodes at once."""
    s = Setup(problem, dtype, device, compile_mode)
    A = stencil(batch_network(s.spec))
    X, (offsets, weights) = s.X, map(s.tensor, problem.stencil(dtype))
    source = s.tensor(problem.source())
    value = lambda params: ((A(params, X, offsets, weights) + source) ** 2).mean()

    def loss(params):
        with torch.no_grad():
            return value(params)

    metrics = lambda params: {"autograd_nodes": autograd_nodes(value(params))}
    return s.compiled(reverse_outer(value), loss=loss, metrics=metrics)


_directions = lambda problem: problem.hutchinson_directions()
_build_exact, _build_captured = _build_with(), _build_with(captured=True)
_build_double_backward = _build_with(double_backward=True)
_build_estimator = _build_with(data=_directions, captured=True, statistics=True)
_build_estimator_interpreted = _build_with(data=_directions, statistics=True)

for _kind, _operators in OPERATORS.items():
    for _name, _make in _operators.items():
        jet_based = _name in ("taylor", "collapsed-taylor")
        registry.register(_kind, _name, when=jet_condition if jet_based else None, operator=_make)(
            _build_captured if jet_based else _build_exact
        )
        if jet_based:
            registry.register(_kind, f"{_name}:interpreted", operator=_make)(_build_exact)
    registry.register(_kind, "hutchinson", when=jet_condition, operator=hutchinson(ORDER[_kind]))(
        _build_estimator
    )
    registry.register(_kind, "hutchinson:interpreted", operator=hutchinson(ORDER[_kind]))(
        _build_estimator_interpreted
    )
    for _name, _make in SPELLINGS[_kind].items():
        registry.register(_kind, _name, operator=_make)(
            _build_double_backward if _name == "nested-rev:autograd" else _build_exact
        )
    registry.register(_kind, "fd-stencil")(_build_fd)
    registry.unsupported(
        _kind,
        "forward-laplacian",
        "folx is JAX-only; jet-for-pytorch's collapsed laplacian/bilaplacian propagates the same "
        "collapsed coefficients and is measured as collapsed-taylor",
    )
