"""PyTorch adapter: autograd and torch.func, eager by default.

The strategy modules beside `core` are named after the problem modules they implement
(`problems.PROBLEM_MODULES`) and are imported here, so a new problem's PyTorch module needs no
line in this file.
"""

from __future__ import annotations

import importlib
import importlib.util

import torch

from backends import BACKENDS
from backends.base import Backend
from backends.torch_backend.core import registry
from problems import PROBLEM_MODULES


class TorchBackend(Backend):
    name = "torch"
    registry = registry
    compile_modes = BACKENDS["torch"].compile_modes

    def available_devices(self) -> list[str]:
        return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]

    def network_values(self, spec, params, points, dtype, device="cpu"):
        from backends.torch_backend.core import DTYPES, apply_fn

        kw = {"dtype": DTYPES[dtype], "device": torch.device(self.check_device(device))}
        with torch.no_grad():
            values = apply_fn(spec)(
                {k: torch.as_tensor(v, **kw) for k, v in params.items()}, torch.as_tensor(points, **kw)
            )
        return values.cpu().double().numpy()

    def caches_compiled(self, compile_mode: str) -> bool:
        """torch.compile keeps inductor's output in its FX-graph cache (and AOTAutograd's), on by
        default; a user who turned them off gets no helper."""
        from torch._functorch import config as functorch_config
        from torch._inductor import config as inductor_config

        caches_on = inductor_config.fx_graph_cache and functorch_config.enable_autograd_cache
        return compile_mode == "compile" and caches_on and not inductor_config.force_disable_caches

    def building_beside(self, compile_mode: str):
        """Inductor compiles each C++ kernel in a pool of worker processes (one per CPU) so that
        g++ runs while Python lowers the next graph; beside a second building process that overlap
        is already there, and the pool only adds its start-up and contention. The seed-net advise's
        torch.compile group alone (16 cases built with the pre-builder, then timed): 99 s and 95 s
        on one compile thread against 105 s and 107 s on two, interleaved (2-core Intel Xeon VM,
        2026-12-06). `compile_threads`
        is not part of inductor's cache key: the two processes still share their builds."""
        from torch._inductor import config as inductor_config

        if compile_mode != "compile":
            return super().building_beside(compile_mode)
        return inductor_config.patch(compile_threads=1)

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


for _module in PROBLEM_MODULES:
    if importlib.util.find_spec(f"{__name__}.{_module}") is not None:
        importlib.import_module(f"{__name__}.{_module}")  # registers its strategies
