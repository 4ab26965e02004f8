"""Was a child killed by the kernel's out-of-memory killer? The evidence the driver can read.

A child that dies by a SIGKILL the driver did not send was most often killed by the OOM killer
(the kernel's, or a cgroup's limit: SLURM's, a container's). The driver reads the OOM-kill
counters before and after the child and, where readable, the kernel log, and classifies:

- the kernel log says it killed this pid: `out of memory`, confirmed;
- the most specific readable OOM-kill counter (the cgroup's, else the kernel-wide one) rose while
  the child ran: `out of memory`, inferred from the counter (the message says so);
- counters or the log are readable and show no OOM kill: `crashed` (someone else sent SIGKILL);
- nothing is readable: `out of memory`, inferred ("most likely"), and the message says so.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

OUT_OF_MEMORY = "out of memory"
KILLED_PROCESS = re.compile(r"Killed process (\d+)")


def oom_kill_counters(
    proc: Path = Path("/proc"), cgroup_root: Path = Path("/sys/fs/cgroup")
) -> dict[str, int]:
    """Readable OOM-kill counters by source: the kernel-wide count (`/proc/vmstat`) and this
    process's memory cgroup (v2 `memory.events`, v1 `memory.oom_control`). Unreadable: absent."""
    counters = {}
    vmstat = _field(proc / "vmstat", "oom_kill")
    if vmstat is not None:
        counters[str(proc / "vmstat")] = vmstat
    try:
        lines = (proc / "self" / "cgroup").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # cgroup v2 unified hierarchy
            source = cgroup_root / path.lstrip("/") / "memory.events"
        elif "memory" in controllers.split(","):  # cgroup v1 memory controller
            source = cgroup_root / "memory" / path.lstrip("/") / "memory.oom_control"
        else:
            continue
        value = _field(source, "oom_kill")
        if value is not None:
            counters[str(source)] = value
    return counters


def _field(path: Path, name: str) -> int | None:
    try:
        for line in path.read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == name:
                return int(value)
    except (OSError, ValueError):
        pass
    return None


def kernel_log() -> str | None:
    """The kernel ring buffer (`dmesg`), or None where it cannot be read (no permission)."""
    try:
        proc = subprocess.run(["dmesg"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


def classify_sigkill(
    pid: int, before: dict[str, int], after: dict[str, int], log: str | None
) -> tuple[str, str]:
    """Status and message for a child (`pid`) killed by a SIGKILL the driver did not send.

    `before`/`after`: `oom_kill_counters()` around the child, kernel-wide first, so the last
    source present in both is the most specific (the cgroup's); `log`: `kernel_log()`."""
    for line in (log or "").splitlines():
        match = KILLED_PROCESS.search(line)
        if match and int(match.group(1)) == pid:
            return OUT_OF_MEMORY, f"killed by the kernel's OOM killer (kernel log: {line.strip()[:200]})"
    common = [source for source in after if source in before]
    if common:
        source = common[-1]
        if after[source] > before[source]:
            return OUT_OF_MEMORY, (
                f"killed by SIGKILL while the OOM-kill counter in {source} rose "
                f"{before[source]} → {after[source]}: out of memory (inferred from the counter)"
            )
        return (
            "crashed",
            f"killed by SIGKILL from outside the harness (not the OOM killer: {source} unchanged)",
        )
    if log is not None:
        return (
            "crashed",
            "killed by SIGKILL from outside the harness (the kernel log shows no OOM kill of it)",
        )
    return OUT_OF_MEMORY, (
        "killed by SIGKILL, most likely out of memory "
        "(inferred: no OOM-kill counter or kernel log readable here)"
    )
