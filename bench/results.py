"""Append-only JSON-lines results: each finished case is one line, flushed and fsynced at once,
so a run interrupted at any point leaves a valid file of everything measured so far."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

STATUSES = ("ok", "wrong", "failed", "unsupported", "over budget", "out of memory", "crashed", "skipped")
"""ok: correct and timed; wrong: gradient outside tolerance or non-finite (not timed); failed:
raised an error; unsupported: the backend cannot express it; over budget: exceeded the time
budget; out of memory: the framework ran out of memory (MemoryError, CUDA/XLA out of memory) or
the kernel's OOM killer ended the process (the message says whether that is confirmed or
inferred); crashed: the interpreter died otherwise (segfault, a SIGKILL from elsewhere);
skipped: device not available."""


RENAMED_FIELDS = {
    "variant":  # old spelling
    "compile_mode",
}
"""A record field's old name (above its marker) -> its name now (below it): records and cases
files written before a rename, such as committed runs, are read in today's names
(`upgrade_fields`)."""


def upgrade_fields(record: dict) -> dict:
    """`record` with its fields in today's names (RENAMED_FIELDS), in the same order; a field
    present under both names keeps the one under its name now."""
    return {
        RENAMED_FIELDS[k] if k in RENAMED_FIELDS and RENAMED_FIELDS[k] not in record else k: v
        for k, v in record.items()
    }


def _clean(value):
    """JSON has no NaN/Inf: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def append_record(path: str | os.PathLike, record: dict) -> None:
    """Append one record as one line. A process killed mid-write leaves a line without its
    newline; the next record then starts on a new line, so it is not lost to that fragment."""
    line = json.dumps(_clean(record), sort_keys=True, default=str) + "\n"
    with open(path, "ab+") as f:
        if f.tell() > 0:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                line = "\n" + line
        f.write(line.encode("utf-8"))
        f.flush()
        os.fsync(f.fileno())


def load_records(path: str | os.PathLike) -> list[dict]:
    """All complete records, in today's field names; a truncated last line (killed mid-write) is
    ignored."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(upgrade_fields(json.loads(line)))
        except json.JSONDecodeError:
            continue
    return records
