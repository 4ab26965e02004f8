"""PyTorch adapter: autograd and torch.func, eager by default."""

from __future__ import annotations

import torch

from backends.base import Backend
from backends.torch_backend import penalty  # noqa: F401  (registers strategies)
from backends.torch_backend.registry import registry


class TorchBackend(Backend):
    name = "torch"
    registry = registry
    variants = ("eager", "compile")

    def available_devices(self) -> list[str]:
        return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]

    def gpu_name(self) -> str:
        return torch.cuda.get_device_name(0)

    def environment(self) -> dict[str, str]:
        env = {"torch": torch.__version__, "torch_threads": str(torch.get_num_threads())}
        try:
            from importlib.metadata import version

            env["jet-for-pytorch"] = version("jet-for-pytorch")
        except Exception:  # noqa: BLE001 - optional information only
            pass
        if torch.cuda.is_available():
            env["torch_devices"] = torch.cuda.get_device_name(0)
        return env


from backends.torch_backend import ude  # noqa: E402, F401  (registers the UDE strategies)

# isort: split
from backends.torch_backend import higher_order, pinn  # noqa: E402, F401  (k-th order and PINN strategies)
