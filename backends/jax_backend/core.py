"""What every JAX strategy module shares: the registry, each model kind's `apply` (`apply_fn`), the
helpers with the same name and contract in the PyTorch core (`point_network`, `batch_network`,
`per_point`, `stencil`, `reverse_outer`, `params_to_numpy`), and the jit compilation that turns a
pure `fn(params, X, *data) -> (value, grads)` into a `Compiled` (with the loss alone timed as a
part, and XLA's memory plan and program size as metrics).

Strategy modules (penalty, derivative_order, pinn, lv_ude) import this module only; they are pure
functions composed of JAX transforms, vmapped over points, jit-compiled once; no Python loop runs
per point or per call.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from backends.base import ApplyRegistry, Compiled, PureFunction, StrategyRegistry

registry = StrategyRegistry("jax")
"""The jax backend's strategy registry; each strategy module registers its strategies here."""

ACTIVATIONS = {
    "rbf": lambda z: jnp.exp(-(z**2)),
    "tanh": jnp.tanh,
    "sin": jnp.sin,
    "softplus": jax.nn.softplus,
    "silu": jax.nn.silu,
    "gelu": partial(jax.nn.gelu, approximate=False),
}
"""`problems.network.ACTIVATIONS` as JAX's own functions (what a user writes): GELU in its exact
(erf) form, as every backend and the reference compute it."""


JET_FAILS_ON = {
    "softplus": "jax.nn.softplus (jnp.logaddexp, a custom_jvp function) raises inside the jet trace "
    "(AttributeError: 'NoneType' object has no attribute 'process_primitive')",
}
"""Activations jax.experimental.jet cannot propagate, with what happens (found by trying each
activation; `tests/test_activations.py` checks every entry still fails and every other one works)."""

NESTED_FOLX_FAILS_ON = {
    "softplus": "folx's forward Laplacian of a forward Laplacian raises KeyError on jax.nn.softplus",
    "silu": "folx's forward Laplacian of a forward Laplacian raises KeyError on jax.nn.silu",
}
"""Activations for which folx cannot nest its forward Laplacian (Δ² = Δ of Δ), found the same way."""


def jet_condition(problem) -> str | None:
    """`when=` of the strategies built on jax.experimental.jet: why it cannot run this network."""
    failure = JET_FAILS_ON.get(problem.network.activation)
    if failure is None:
        return None
    return f"jax.experimental.jet (jax {jax.__version__}) cannot propagate this network: {failure}"


def nested_folx_condition(problem) -> str | None:
    """`when=` of the biharmonic forward Laplacian (folx of folx)."""
    failure = NESTED_FOLX_FAILS_ON.get(problem.network.activation)
    return f"{failure} (folx {_version('folx')})" if failure else None


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


APPLY = ApplyRegistry("jax")
"""Each model kind's JAX `apply` builder; `backends.jax_backend.models` registers the built-in kinds."""
register_apply = APPLY.register


def apply_fn(spec) -> Callable:
    """`apply(params, x)` of the model `spec` for one point x of shape (d_in,), returning (d_out,);
    params is the dict of arrays named by `spec.param_names`. Strategies vmap it."""
    return APPLY.apply(spec)


def point_network(spec) -> Callable:
    """(params, x) -> U₁(x): the first output of the network `spec` at one point x (d_in,)."""
    apply = apply_fn(spec)
    return lambda params, x: apply(params, x)[0]


def per_point(f) -> Callable:
    """`f(params, x, *data_i)` of one point vmapped over the points and their per-point data:
    (params, X, *data) -> the per-point results stacked."""

    def batched(params, X, *data):
        return jax.vmap(f, in_axes=(None, 0) + (0,) * len(data))(params, X, *data)

    return batched


def batch_network(spec) -> Callable:
    """(params, X) -> U₁ at every row of X, shape (N,): the point network vmapped over the points."""
    return per_point(point_network(spec))


def stencil(U) -> Callable:
    """(params, X, offsets, weights) -> Σ_m w_m U(xₙ + o_m) at every point, for a batched network
    `U(params, X) -> (N, *out)` (scalar: (N,); every output: (N, d_out)) and weights (M, *columns)
    (one column per derivative, or none): shape (N, *columns, *out). Every point × node in one
    batch, point-major (a point's nodes adjacent)."""

    def derivative(params, X, offsets, weights):
        nodes = (X[:, None, :] + offsets[None]).reshape(-1, X.shape[1])
        values = U(params, nodes)
        values = values.reshape(X.shape[0], offsets.shape[0], *values.shape[1:])
        return jnp.moveaxis(jnp.tensordot(weights, values, axes=([0], [1])), weights.ndim - 1, 0)

    return derivative


def stencil_per_point(u) -> Callable:
    """(params, x, offsets, weights) -> Σ_m w_m u(x + o_m) at one point x, shape (*columns, *out),
    for a per-point network `u(params, x) -> (*out)`: the nodes vmapped (the per-point spelling of
    `stencil`, same shapes less the points' axis)."""

    def derivative(params, x, offsets, weights):
        values = jax.vmap(u, in_axes=(None, 0))(params, x[None, :] + offsets)
        return jnp.tensordot(weights, values, axes=([0], [0]))

    return derivative


def reverse_outer(loss) -> Callable:
    """(params, *args) -> (loss, ∇θ loss): the weight gradient of a scalar `loss(params, *args)`
    by reverse mode (`jax.value_and_grad`)."""
    return jax.value_and_grad(loss)


def params_to_numpy(native) -> dict[str, np.ndarray]:
    """Prepared parameters (or gradients) as float64 numpy arrays."""
    return {k: np.asarray(v, dtype=np.float64) for k, v in native.items()}


def compiled_statistics(jitted, *args) -> dict:
    """What XLA says about a compiled evaluation: `xla_temp_bytes` (scratch buffers, the
    cross-check for the measured peak memory), `xla_argument_bytes`, `xla_output_bytes`, and the
    program's size as `program_ops` (HLO instructions after optimisation) and
    `program_text_bytes`, which grow with the nesting depth of the AD strategy."""
    compiled = jitted.lower(*args).compile()
    text = compiled.as_text() or ""
    stats = {
        "program_ops": sum(1 for line in text.splitlines() if " = " in line),
        "program_text_bytes": len(text),
    }
    memory = compiled.memory_analysis()
    if memory is not None:
        stats.update(
            xla_temp_bytes=int(memory.temp_size_in_bytes),
            xla_argument_bytes=int(memory.argument_size_in_bytes),
            xla_output_bytes=int(memory.output_size_in_bytes),
        )
    return stats


def jit_or_eager(compile_mode: str) -> Callable:
    """`jax.jit` for compile mode "jit", op-by-op dispatch for "eager"."""
    return jax.jit if compile_mode == "jit" else (lambda f: f)


def put_params(params: dict[str, np.ndarray], dtype: str, jax_device) -> dict:
    return jax.device_put({k: jnp.asarray(v, dtype=dtype) for k, v in params.items()}, jax_device)


def grads_to_numpy(out) -> tuple[float, dict[str, np.ndarray]]:
    value, grads = out
    return float(value), params_to_numpy(grads)


def compile_evaluation(
    problem, dtype, device, compile_mode, fn, *data, loss=None, extra_metrics=None
) -> Compiled:
    """jit (compile mode "jit") or op-by-op dispatch (compile mode "eager") of `fn(params, X, *data)` at the
    problem's grid; `loss(params, X, *data)` is the value alone, timed as the "loss" part (cost
    ratio); `extra_metrics(params)` adds problem-specific counts to XLA's statistics."""
    jax_device = jax.devices(device)[0]
    X = jax.device_put(jnp.asarray(problem.grid(), dtype=dtype), jax_device)
    args = (X, *(jax.device_put(jnp.asarray(e, dtype=dtype), jax_device) for e in data))
    compile_fn = jit_or_eager(compile_mode)
    jitted = compile_fn(fn)

    def run(native):
        return jax.block_until_ready(jitted(native, *args))

    parts = {}
    if loss is not None:
        loss_fn = compile_fn(loss)
        parts["loss"] = lambda native: jax.block_until_ready(loss_fn(native, *args))

    def metrics(native):
        stats = compiled_statistics(jitted, native, *args) if compile_mode == "jit" else {}
        return {**stats, **(extra_metrics(native) if extra_metrics else {})}

    return Compiled(
        lambda params: put_params(params, dtype, jax_device), run, grads_to_numpy,
        parts=parts, metrics=metrics, pure=PureFunction(fn, args),
    )  # fmt: skip


from backends.jax_backend import models as _models  # noqa: E402, F401  registers the built-in kinds' apply
from backends.jax_backend import user_model as _user_model  # noqa: E402, F401  registers the jax kind (your module)
