"""One intra-op thread setting for both frameworks (call before JAX is imported)."""

from __future__ import annotations

import os


def set_threads(threads: int) -> int:
    """Give both frameworks the same intra-op threads: pin the process to `threads` CPUs (0: all)
    before JAX is imported (XLA sizes its pool from the schedulable CPUs) and tell PyTorch."""
    cpus = sorted(os.sched_getaffinity(0))
    threads = threads or len(cpus)
    os.sched_setaffinity(0, cpus[:threads])
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)
    return threads
