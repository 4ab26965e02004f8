"""Peak memory of one call.

CPU, PyTorch: the peak of its allocator's live bytes during the call (`torch_cpu_allocated_peak`;
the resident reading below only where the profiler fails). CPU, JAX: return freed heap to the OS
(`malloc_trim`), reset the kernel's resident high-water mark (`/proc/self/clear_refs` ← 5), take
the resident set as the baseline, make the call, and report VmHWM − baseline: the extra resident
memory the call needed at its peak, whatever allocator made it (XLA, PyTorch, NumPy). Works
in-process, so no fresh process per case is needed. CUDA (PyTorch): the caching allocator's peak
(`reset_peak_memory_stats`, `max_memory_allocated`) above the allocation before the call. CUDA
(JAX): `peak_bytes_in_use` from the device's memory stats above `bytes_in_use` before the call (JAX
cannot reset the peak, so a peak reached earlier hides a smaller one: then the value is missing,
not wrong).

Limitation, measured: allocators keep memory between calls, so a warm call may need less *new*
resident memory than its working set (seen for small JAX cases: 0.2 MiB measured against 5 MiB
of planned XLA scratch in one process, 5 MiB in another); for JAX the compiler's own plan
(`xla_temp_bytes`) is recorded beside it as a cross-check.

The CPU reading is process-wide, so anything else that grows the resident set during the call
is read as the call's. A test once read 75 MiB for a 64 MiB allocation here (not reproduced in
some 800 readings since, with and without JAX and PyTorch loaded); two such sources exist on
any Linux machine: other threads of the process (XLA's and PyTorch's pools, a thread
starting: its stack and malloc arena), and transparent huge pages — numpy madvises every array
of 4 MiB or more MADV_HUGEPAGE, the flag stays on glibc's heap after the array is freed (numpy
issue 31590), and there one touched byte faults in 2 MiB, while khugepaged (max_ptes_none 511 by
default) may at any moment collapse a sparsely used 2 MiB extent into a whole huge page, which
`malloc_trim` makes likelier by punching holes into such extents. How much of this happens
depends on the machine's THP setting (`always`, `madvise`, `never`). Hence:
- THP is switched off for the process during each measured call (`prctl(PR_SET_THP_DISABLE)`,
  restored after): the reading counts the 4 KiB pages the call touched, whatever the machine's
  THP policy, and khugepaged leaves the process alone meanwhile;
- the median of CALLS readings: a reading inflated by another thread, or deflated by an
  allocator serving the call from memory it kept, is an outlier either way.
"""

from __future__ import annotations

import ctypes
import gc
import statistics
import time
from collections.abc import Callable

PAGE_FIELDS = ("VmRSS", "VmHWM")


def _status_bytes(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _malloc_trim() -> None:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_high_water_mark() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


PR_SET_THP_DISABLE, PR_GET_THP_DISABLE = 41, 42


def _thp_disabled(disable: bool | None = None) -> bool | None:
    """Read (or set, then return the previous) per-process THP switch; None where unavailable."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
        previous = prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0)
        if previous < 0:
            return None
        if disable is not None and prctl(PR_SET_THP_DISABLE, int(disable), 0, 0, 0) != 0:
            return None
        return bool(previous)
    except (OSError, AttributeError):
        return None


def cpu_peak_bytes(fn: Callable[[], object]) -> int | None:
    """Extra resident bytes at the peak of `fn()`, counted in 4 KiB pages (transparent huge
    pages off meanwhile); None where the kernel offers no reset of the high-water mark."""
    gc.collect()
    previous = _thp_disabled(True)
    try:
        _malloc_trim()
        if not _reset_high_water_mark():
            return None
        baseline = _status_bytes("VmRSS")
        fn()
        peak = _status_bytes("VmHWM")
    finally:
        if previous is not None:
            _thp_disabled(previous)
    if baseline is None or peak is None:
        return None
    return max(peak - baseline, 0)


def torch_cuda_peak_bytes(fn: Callable[[], object]) -> int:
    import torch

    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    fn()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - before


def jax_cuda_peak_bytes(fn: Callable[[], object]) -> int | None:
    import jax

    device = jax.devices("gpu")[0]
    before = device.memory_stats() or {}
    fn()
    after = device.memory_stats() or {}
    if after.get("peak_bytes_in_use", 0) <= before.get("peak_bytes_in_use", 0):
        return None
    return after["peak_bytes_in_use"] - before.get("bytes_in_use", 0)


def torch_cpu_allocated_peak(fn: Callable[[], object]) -> int | None:
    """Peak bytes of tensors alive during `fn()` above those alive before it, from PyTorch's own
    allocation records (the profiler with `profile_memory`: every allocation and free through its
    CPU allocator, eager or torch.compile'd, with its size and time); None if the profiler fails.

    Why not the resident reading alone: the evaluation's buffers are served from heap pages the
    process already holds (the allocator keeps them), so they need no *new* resident page. The
    torch.compile'd rev-over-rev-func on the seed net allocates 31 KiB at its peak and read 0–4 KiB
    resident ("memory 0 B"); inductor fuses the nested derivative into a few kernels whose
    intermediates never reach memory, so its need is small, but not zero."""
    try:
        from torch._C._profiler import _EventType
        from torch.autograd.profiler import profile

        # the autograd profiler, not torch.profiler.profile: the latter's first use cost 1.8 CPU-s here
        with profile(profile_memory=True, use_kineto=True) as prof:
            fn()
        stack = list(prof.kineto_results.experimental_event_tree())
    except Exception:  # noqa: BLE001 - a profiler that fails leaves the resident reading
        return None
    changes = []
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if node.tag == _EventType.Allocation:
            changes.append((node.start_time_ns, node.extra_fields.alloc_size))  # frees are negative
    alive = peak = 0
    for _, size in sorted(changes, key=lambda c: c[0]):
        alive += size
        peak = max(peak, alive)
    return peak


CALLS = 3
"""Resident readings taken at most; the median reading is kept (see the module's docstring): three
reject one outlier either way, as five did, at three fifths of the cost."""
READING_TIME_S = 0.5
"""Resident readings stop once their calls took this long (at least one is taken): a call of
seconds is read once, not three times (each reading of a 1.8 GB evaluation faults in 450,000
fresh pages, all kernel time; and even a 10 ms evaluation's reading re-faults every page that
`malloc_trim` returned: 0.5–1 s each for the 10,000-point penalty under PyTorch, measured)."""


def peak_memory(fn: Callable[[], object], backend: str, device: str) -> dict:
    """{"peak_memory_bytes", "memory_method"}.

    CPU, PyTorch: the allocator's peak (`torch_cpu_allocated_peak`: what an evaluation needs, in
    bytes, whether or not the heap already held the pages); the resident reading only where the
    profiler fails (it was once taken beside, unread by any report, and cost `make bench` more than
    a minute of re-faulted pages). CPU, JAX: the median resident reading (XLA's planned scratch,
    `xla_temp_bytes`, is recorded by the backend as a cross-check). CUDA: the framework's allocator
    peak."""
    if device == "cpu" and backend == "torch":
        allocated = torch_cpu_allocated_peak(fn)
        if allocated is not None:
            return {"peak_memory_bytes": allocated, "memory_method": "torch allocator peak"}
    if device == "cuda":
        method = torch_cuda_peak_bytes if backend == "torch" else jax_cuda_peak_bytes
        name = f"{backend} cuda allocator peak"
    else:
        method, name = cpu_peak_bytes, "resident high-water mark"
    gc.freeze()  # every object alive moves to a permanent generation: each reading's own collection
    # then scans only what the evaluations left, not the whole heap (in `make bench`'s children a
    # case's memory and metrics took ~4 s with five full collections, 0.3 s without). No full
    # collection first: it cost 0.25-0.3 s a case there (about 15 s of `make bench`), and garbage
    # left frozen only holds pages the baseline already counts (the default set's JAX readings,
    # with and without it, differed no more than two runs with it did).
    try:
        readings, start = [], time.perf_counter()
        for _ in range(CALLS):
            if (reading := method(fn)) is not None:
                readings.append(reading)
            if time.perf_counter() - start > READING_TIME_S:
                break
    finally:
        gc.unfreeze()
    return {"peak_memory_bytes": int(statistics.median_low(readings)) if readings else None,
            "memory_method": name}  # fmt: skip
