"""One intra-op thread setting for both frameworks (call before JAX is imported)."""

from __future__ import annotations

import os
import sys


def set_threads(threads: int) -> int:
    """Give both frameworks the same intra-op threads: pin the process to `threads` CPUs (0: all)
    before JAX is imported (XLA sizes its pool from the schedulable CPUs) and tell PyTorch.

    PyTorch takes its intra-op threads from OMP_NUM_THREADS when it is imported, so it is told
    through the environment and imported only by a child that runs a PyTorch case (an import costs
    seconds of CPU per child); one imported already is told directly."""
    cpus = sorted(os.sched_getaffinity(0))
    threads = threads or len(cpus)
    os.sched_setaffinity(0, cpus[:threads])
    os.environ["OMP_NUM_THREADS"] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    return threads
