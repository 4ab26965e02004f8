"""Append-only JSON-lines results: each finished case is one line, flushed and fsynced at once,
so a run interrupted at any point leaves a valid file of everything measured so far."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

STATUSES = ("ok", "wrong", "failed", "unsupported", "over budget", "crashed", "skipped")
"""ok: correct and timed; wrong: gradient outside tolerance or non-finite (not timed); failed:
raised an error; unsupported: the backend cannot express it; over budget: exceeded the time
budget; crashed: the interpreter died (segfault, OOM kill); skipped: device not available."""


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
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(_clean(record), sort_keys=True, default=str) + "\n")
        f.flush()
        os.fsync(f.fileno())


def load_records(path: str | os.PathLike) -> list[dict]:
    """All complete records; a truncated last line (killed mid-write) is ignored."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records
