"""JAX adapter: jit-compiled pure functions, float64 enabled at import.

The strategy modules beside `core` are named after the problem modules they implement
(`problems.PROBLEM_MODULES`) and are imported here, so a new problem's JAX module needs no line
in this file.
"""

from __future__ import annotations

import importlib
import importlib.util

import jax

jax.config.update("jax_enable_x64", True)  # before any array exists; float32 stays explicit

from backends import BACKENDS  # noqa: E402
from backends.base import Backend  # noqa: E402
from backends.jax_backend.core import registry  # noqa: E402
from problems import PROBLEM_MODULES  # noqa: E402


class JaxBackend(Backend):
    name = "jax"
    registry = registry
    compile_modes = BACKENDS["jax"].compile_modes

    def available_devices(self) -> list[str]:
        devices = ["cpu"]
        try:
            if jax.devices("gpu"):
                devices.append("cuda")
        except RuntimeError:
            pass
        return devices

    def check_device(self, device: str) -> str:
        device = super().check_device(device)
        return "gpu" if device == "cuda" else device

    def network_values(self, spec, params, points, dtype, device="cpu"):
        import jax.numpy as jnp
        import numpy as np

        from backends.jax_backend.core import apply_fn, put_params

        jax_device = jax.devices(self.check_device(device))[0]
        native = put_params(params, dtype, jax_device)
        X = jax.device_put(jnp.asarray(points, dtype=dtype), jax_device)
        values = jax.jit(jax.vmap(apply_fn(spec), in_axes=(None, 0)))(native, X)
        return np.asarray(values, dtype=np.float64)

    def gpu_name(self) -> str:
        return str(jax.devices("gpu")[0].device_kind)

    def environment(self) -> dict[str, str]:
        import jaxlib

        return {
            "jax": jax.__version__,
            "jaxlib": jaxlib.__version__,
            "jax_devices": ", ".join(str(d.device_kind) for d in jax.devices()),
        }


for _module in PROBLEM_MODULES:
    if importlib.util.find_spec(f"{__name__}.{_module}") is not None:
        importlib.import_module(f"{__name__}.{_module}")  # registers its strategies
