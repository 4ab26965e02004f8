"""Competing load: what the machine did while a comparison group was timed, and the verdict.

A group timed while other work competed for its CPUs is flagged `contended`, with a note saying
what was seen. Readings are taken just before the group's first block and just after its last:

- **others' CPU use**: busy CPU time of the whole machine (/proc/stat) minus this process's own
  (all its threads), per second of the group. Others using more CPUs than this process left free
  (the machine's CPUs minus the ones it is pinned to) must have run on ours.
- **steal time** (/proc/stat): the hypervisor ran another guest on our virtual CPUs.
- **load average** (/proc/loadavg, 1 minute) above the machine's CPU count by more than one:
  more runnable tasks than CPUs, so some waited. The machine's count, not the pinned one: the
  load counts this process's own threads (up to the pinned CPUs plus its dispatching thread),
  and tasks on the CPUs it does not use take nothing from it; whether others actually ran on our
  CPUs is what the CPU-time reading measures. The load lags by about a minute, hence the margin.
- **calibration drift**: a fixed loop (SHA-256 of a 64 KiB buffer: integer arithmetic on
  cache-resident data, no allocation) timed before and after. A change beyond 10 % means the
  machine's speed changed under the group (clock frequency, a neighbour on a sibling
  hyperthread, time slicing); its repeat-to-repeat spread on a quiet machine is a few percent.

`assess` is a pure function of two readings, so the verdict is tested with injected readings.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import time
from dataclasses import dataclass

OTHERS_MARGIN_CPUS = 0.25
"""Others may use this much of our CPUs (kernel threads, a shell) before the group is flagged."""
STEAL_LIMIT = 0.05
"""Largest tolerated fraction of the machine's CPU time stolen by the hypervisor."""
LOAD_MARGIN = 1.0
"""Load average may exceed the CPU count by this much (the load lags; our own dispatch thread)."""
DRIFT_LIMIT = 0.10
"""Largest tolerated change of the calibration loop's time between before and after."""

TICK_S = 1 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.01
"""Resolution of /proc/stat's counters: each CPU's count may be off by one tick at each end."""

_BUFFER = bytes(range(256)) * 256
_CALIBRATION_REPEATS = 25
_HASHES_PER_REPEAT = 16


@dataclass(frozen=True)
class LoadReading:
    """One snapshot; CPU times in seconds (machine-wide from /proc/stat, own from the process)."""

    wall_s: float
    loadavg: float | None
    busy_s: float | None
    """user + nice + system + irq + softirq of all CPUs."""
    steal_s: float | None
    total_s: float | None
    """all CPU time of all CPUs (busy + idle + iowait + steal)."""
    own_s: float
    """this process's CPU time, all threads."""
    calibration_s: float | None
    """median time of the fixed calibration loop."""


def _proc_stat() -> tuple[float, float, float] | tuple[None, None, None]:
    """(busy, steal, total) CPU seconds of the machine, or Nones where /proc/stat is missing."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None, None, None
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    busy = user + nice + system + irq + softirq
    return busy * TICK_S, steal * TICK_S, (busy + idle + iowait + steal) * TICK_S


def _loadavg() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def calibration_seconds() -> float:
    """Median time of a fixed, allocation-free computation: the machine's speed right now."""
    times = []
    for _ in range(_CALIBRATION_REPEATS):
        start = time.perf_counter()
        for _ in range(_HASHES_PER_REPEAT):
            hashlib.sha256(_BUFFER).digest()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def read_load(calibrate: bool = True) -> LoadReading:
    busy, steal, total = _proc_stat()
    return LoadReading(
        wall_s=time.monotonic(),
        loadavg=_loadavg(),
        busy_s=busy,
        steal_s=steal,
        total_s=total,
        own_s=time.process_time(),
        calibration_s=calibration_seconds() if calibrate else None,
    )


def assess(before: LoadReading, after: LoadReading, pinned: int, cpus: int) -> tuple[bool, str]:
    """(contended, note): whether competing load was seen between the two readings, and what.

    `pinned`: CPUs this process may run on; `cpus`: CPUs of the machine. The note lists every
    reading; the reasons for a `contended` verdict come first.
    """
    reasons, seen = [], []
    wall = max(after.wall_s - before.wall_s, 1e-9)
    resolution = 2 * cpus * TICK_S  # counter rounding, seconds of CPU time over the interval
    if None not in (before.busy_s, after.busy_s):
        others = max((after.busy_s - before.busy_s) - (after.own_s - before.own_s), 0.0) / wall
        free = cpus - pinned
        seen.append(f"others used {others:.2f} CPUs")
        if others > free + OTHERS_MARGIN_CPUS + resolution / wall:
            reasons.append(
                f"other processes used {others:.2f} CPUs on average while this one held {pinned} "
                f"of {cpus} (free: {free})"
            )
    if None not in (before.steal_s, after.steal_s, before.total_s, after.total_s):
        total = after.total_s - before.total_s
        steal = (after.steal_s - before.steal_s) / total if total > 0 else 0.0
        seen.append(f"steal {steal:.1%}")
        if total > 0 and steal > STEAL_LIMIT + resolution / total:
            reasons.append(f"the hypervisor stole {steal:.1%} of the CPU time")
    loads = [x for x in (before.loadavg, after.loadavg) if x is not None]
    if loads:
        seen.append("load " + " → ".join(f"{x:.2f}" for x in loads))
        if max(loads) > cpus + LOAD_MARGIN:
            reasons.append(f"load average {max(loads):.2f} on {cpus} CPUs")
    if before.calibration_s and after.calibration_s:
        drift = after.calibration_s / before.calibration_s - 1
        seen.append(f"calibration drift {drift:+.1%}")
        if abs(drift) > DRIFT_LIMIT:
            reasons.append(f"the calibration loop's time changed by {drift:+.1%} during the group")
    return bool(reasons), "; ".join(reasons + (["seen: " + ", ".join(seen)] if seen else []))


def pinned_and_total_cpus() -> tuple[int, int]:
    """(CPUs this process may run on, CPUs of the machine)."""
    pinned = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return pinned or 1, os.cpu_count() or 1
