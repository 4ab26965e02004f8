"""What every PyTorch strategy module shares: the registry, each model kind's `apply` (`apply_fn`),
the `Setup` of persistent parameter leaves and grid tensors, the autograd graph size, and the
helpers with the same name and contract in the JAX core (`point_network`, `batch_network`,
`per_point`, `stencil`, `reverse_outer`, `params_to_numpy`).

Parameters live in persistent leaf tensors (`requires_grad=True`) that `prepare` fills in place,
so graphs captured once (jet) keep seeing the current weights. Strategy modules (penalty,
derivative_order, pinn, lv_ude) import this module only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.func import vmap

from backends.base import ApplyRegistry, Compiled, StrategyRegistry, UnsupportedStrategy

registry = StrategyRegistry("torch")
"""The torch backend's strategy registry; each strategy module registers its strategies here."""

DOUBLE_BACKWARD_UNDER_COMPILE = (
    "torch.compile cannot compile a weight gradient taken through torch.autograd.grad(create_graph=True) "
    "(AOTAutograd: 'does not currently support double backward'); written with torch.func it compiles "
    "(rev-over-rev-func, nested-rev:func, the Laplacian's nested-rev)"
)
"""Why a strategy whose weight gradient runs a double backward is not built under torch.compile:
the build compiled the forward graph and then failed at the first call (6.6 s for rev-over-rev on a
2-3-1 penalty, the first compile of its process). The library's limit is checked by a test
(tests/test_backends.py), so a PyTorch that lifts it shows up there."""

DTYPES = {"float32": torch.float32, "float64": torch.float64}
DTYPE_NAMES = {v: k for k, v in DTYPES.items()}

SOFTPLUS_THRESHOLD = 40.0
"""torch's softplus returns z itself above its `threshold` (default 20, where log(1 + eᶻ) − z =
2e-9 would be an error in float64); at 40 the difference, 4e-18, is below float64 rounding of z,
so this is log(1 + eᶻ) in both dtypes, like JAX's and the reference's."""

ACTIVATIONS = {
    "rbf": lambda z: torch.exp(-(z**2)),
    "tanh": torch.tanh,
    "sin": torch.sin,
    "softplus": lambda z: torch.nn.functional.softplus(z, threshold=SOFTPLUS_THRESHOLD),
    "silu": torch.nn.functional.silu,
    "gelu": torch.nn.functional.gelu,
}
"""`problems.network.ACTIVATIONS` as PyTorch's own functions (what a user writes): GELU in its
exact (erf) form, torch's default, as every backend and the reference compute it."""


JET_LACKS_RULE = {"softplus": "aten.softplus", "silu": "aten.silu", "gelu": "aten.gelu"}
"""Activations whose ATen op jet-for-pytorch has no Taylor-mode rule for (NotImplementedError "No
jet rule for aten.silu.default"), found by trying each activation; `tests/test_activations.py`
checks every entry still fails and every other one works. Its rules cover exp, tanh, sin,
sigmoid, log and arithmetic, so z·sigmoid(z) would propagate where torch's own silu does not."""


def jet_condition(problem) -> str | None:
    """`when=` of the strategies built on jet-for-pytorch (taylor, collapsed-taylor, hutchinson)."""
    op = JET_LACKS_RULE.get(problem.network.activation)
    if op is None:
        return None
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version("jet-for-pytorch")
    except PackageNotFoundError:
        release = "(not installed)"
    return (
        f"jet-for-pytorch {release} has no Taylor-mode rule for {op}.default, torch's "
        f"{problem.network.activation} (NotImplementedError when traced)"
    )


APPLY = ApplyRegistry("torch")
"""Each model kind's PyTorch `apply` builder; `backends.torch_backend.models` registers the built-in kinds."""
register_apply = APPLY.register


def apply_fn(spec) -> Callable:
    """`apply(params, X)` of the model `spec` for a batch X of shape (N, d_in), returning (N, d_out);
    params is the dict of tensors named by `spec.param_names`. A per-point (torch.func) spelling
    calls it on x[None]."""
    return APPLY.apply(spec)


def autograd_nodes(output: torch.Tensor) -> int:
    """Distinct nodes of the autograd graph behind `output` (every op recorded for the backward
    pass, including those of nested derivatives built with create_graph or torch.func): the
    program size of a PyTorch loss."""
    seen, stack = set(), [output.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        stack.extend(fn for fn, _ in node.next_functions)
    return len(seen)


class Setup:
    """Tensors shared by all strategies: persistent parameters, the grid, the device."""

    def __init__(self, problem, dtype: str, device: str, compile_mode: str):
        self.compile_mode = compile_mode
        self.spec = problem.network
        self.apply = apply_fn(self.spec)
        """The model's batched `apply(params, X)`: every strategy evaluates the network through it."""
        self.names = list(self.spec.param_names)
        self.dtype = DTYPES[dtype]
        self.device = torch.device(device)
        kw = {"dtype": self.dtype, "device": self.device}
        self.params = {
            k: torch.zeros(s, **kw, requires_grad=True) for k, s in self.spec.param_shapes().items()
        }
        self.X = torch.as_tensor(problem.grid(), **kw)
        self.problem = problem

    def tensor(self, array) -> torch.Tensor:
        """A numpy array as a tensor of this setup's dtype and device."""
        return torch.as_tensor(array, dtype=self.dtype, device=self.device)

    def prepare(self, params: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            for k, t in self.params.items():
                t.copy_(torch.as_tensor(params[k], dtype=self.dtype))
        return self.params

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def compiled(
        self, fn, loss=None, metrics: Callable | None = None, double_backward: bool = False
    ) -> Compiled:
        """Wrap `fn(params) -> (value, grads)`: torch.compile it for compile mode "compile".
        `loss(params)` is the value alone, timed as the "loss" part (cost ratio);
        `metrics(params)` the counts recorded with the case; `double_backward`: `fn` differentiates
        through `torch.autograd.grad(create_graph=True)`, which torch.compile cannot compile
        (DOUBLE_BACKWARD_UNDER_COMPILE)."""
        if self.compile_mode == "compile" and double_backward:
            raise UnsupportedStrategy(DOUBLE_BACKWARD_UNDER_COMPILE)
        if self.compile_mode == "compile":
            fn = torch.compile(fn)
            loss = torch.compile(loss) if loss is not None else None
        parts = {}
        if loss is not None:

            def loss_part(params):
                out = loss(params)
                self.sync()
                return out

            parts["loss"] = loss_part

        def run(params):
            out = fn(params)
            self.sync()
            return out

        def to_numpy(out):
            value, grads = out
            return float(value), {k: grads[k].detach().cpu().double().numpy() for k in self.names}

        return Compiled(self.prepare, run, to_numpy, parts=parts, metrics=metrics)


def reverse_outer(loss) -> Callable:
    """(params) -> (loss, ∇θ loss): the weight gradient of a scalar `loss(params)` by reverse mode
    (`torch.autograd.grad` on the parameter leaves, through a graph built with create_graph)."""

    def value_and_grad(params):
        value = loss(params)
        grads = torch.autograd.grad(value, list(params.values()), allow_unused=True, materialize_grads=True)
        return value.detach(), dict(zip(params, grads))

    return value_and_grad


def point_network(spec) -> Callable:
    """(params, x) -> U₁(x) at one point x of shape (d_in,) (per-point torch.func spellings)."""
    apply = apply_fn(spec)
    return lambda params, x: apply(params, x[None])[0, 0]


def batch_network(spec) -> Callable:
    """(params, X) -> U₁ at every row of X, shape (N,): one batched evaluation of the network."""
    apply = apply_fn(spec)
    return lambda params, X: apply(params, X)[:, 0]


def per_point(f) -> Callable:
    """`f(params, x)` of one point vmapped over the points (torch.func): (params, X) -> the per-point
    results stacked."""
    return lambda params, X: vmap(f, in_dims=(None, 0))(params, X)


def stencil(U) -> Callable:
    """(params, X, offsets, weights) -> Σ_m w_m U(xₙ + o_m) at every point, for a batched network
    `U(params, X) -> (N, *out)` (scalar: (N,); every output: (N, d_out)) and weights (M, *columns)
    (one column per derivative, or none): shape (N, *columns, *out). Every point × node in one
    batch, point-major (a point's nodes adjacent)."""

    def derivative(params, X, offsets, weights):
        nodes = (X[:, None, :] + offsets[None, :, :]).reshape(-1, X.shape[1])
        values = U(params, nodes)
        values = values.reshape(X.shape[0], offsets.shape[0], *values.shape[1:])
        return torch.movedim(torch.tensordot(weights, values, dims=([0], [1])), weights.dim() - 1, 0)

    return derivative


def params_to_numpy(native) -> dict[str, np.ndarray]:
    """Prepared parameters (or gradients) as float64 numpy arrays."""
    return {k: v.detach().cpu().double().numpy() for k, v in native.items()}


from backends.torch_backend import models as _models  # noqa: E402, F401  registers the built-in kinds' apply
from backends.torch_backend import user_model as _user_model  # noqa: E402, F401  registers the torch kind (your module)
