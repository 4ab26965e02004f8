"""JAX adapter: jit-compiled pure functions, float64 enabled at import."""

from __future__ import annotations

import jax

jax.config.update("jax_enable_x64", True)  # before any array exists; float32 stays explicit

from backends.base import Backend  # noqa: E402
from backends.jax_backend import penalty  # noqa: E402, F401  (registers strategies)
from backends.jax_backend.registry import registry  # noqa: E402


class JaxBackend(Backend):
    name = "jax"
    registry = registry
    variants = ("jit", "eager")

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

    def gpu_name(self) -> str:
        return str(jax.devices("gpu")[0].device_kind)

    def environment(self) -> dict[str, str]:
        import jaxlib

        return {
            "jax": jax.__version__,
            "jaxlib": jaxlib.__version__,
            "jax_devices": ", ".join(str(d.device_kind) for d in jax.devices()),
        }


from backends.jax_backend import ude  # noqa: E402, F401  (registers the UDE strategies)

# isort: split
from backends.jax_backend import higher_order, pinn  # noqa: E402, F401  (k-th order and PINN strategies)
