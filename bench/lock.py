"""One live run per run directory: an exclusive `flock` on `<run>/run.lock`, held for the run's life.

The kernel releases a flock when the last process holding it dies (exit, SIGKILL, a node reboot),
so a lock left by a dead run is never stale: the next run simply takes it. The children of a run
inherit the locked descriptor, so the directory stays locked while any process of the run can
still append to it. The file records who holds it (pid, host, start) for the refusal message;
it is emptied on a clean release, so a non-empty file found by a new holder names a run that died.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path

from problems.errors import BenchInputError

LOCK_FILE = "run.lock"


class RunDirectoryBusy(BenchInputError):
    """Another live run holds the directory's lock."""


class RunLock:
    """Exclusive lock on a run directory; `fd` is the descriptor children must inherit."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK_FILE
        self.fd: int | None = None
        self.previous: dict | None = None
        """The holder recorded by a run that died without releasing the lock (None if clean)."""

    def acquire(self) -> RunLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_holder(fd)
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise RunDirectoryBusy(
                    f"run directory {self.path.parent} is in use by a live run ({describe_holder(holder)}); "
                    "wait for it to end or stop it, then resume"
                ) from None
            # A filesystem without flock (some Lustre/NFS mounts): run, but say what is not guarded.
            print(f"warning: cannot lock {self.path} ({exc.strerror}); concurrent runs on this "
                  "directory are not prevented", file=sys.stderr)  # fmt: skip
            return self
        self.fd = fd
        self.previous = _read_holder(fd) or None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder_record()).encode() + b"\n", 0)
        os.fsync(fd)
        return self

    def release(self) -> None:
        """Empty the record (a clean end) and unlock. The file itself stays: deleting a lock file
        lets two runs lock two different inodes of the same name."""
        if self.fd is None:
            return
        try:
            os.ftruncate(self.fd, 0)
        finally:
            os.close(self.fd)  # closing the last descriptor releases the flock
            self.fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def holder_record() -> dict:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "job": os.environ.get("SLURM_JOB_ID", ""),
    }


def _read_holder(fd: int) -> dict:
    try:
        text = os.pread(fd, 4096, 0).decode(errors="replace").strip()
        return json.loads(text) if text else {}
    except (OSError, ValueError):
        return {}


def describe_holder(holder: dict) -> str:
    if not holder:
        return "holder unknown"
    job = f", SLURM job {holder['job']}" if holder.get("job") else ""
    return f"pid {holder.get('pid')} on {holder.get('host')}{job}, started {holder.get('started')}"
