"""Plain-text formatting shared by the terminal, the README and the HTML page: times, sizes,
counts and ratios as a reader sees them. No plotting import: the terminal decision
(`python -m reports.decision`, `make advise`) loads this without matplotlib."""

from __future__ import annotations

import math


def format_seconds(seconds: float) -> str:
    """0.0021 -> "2.1 ms" (3 significant digits, in s, ms or µs)."""
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def format_bytes(n: float) -> str:
    """2.5e6 -> "2.38 MiB"; whole bytes below 1 KiB."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.3g} GiB"


def seconds_label(seconds: float) -> str:
    """1e-4 -> "100 µs", 0.002 -> "2 ms", 3 -> "3 s" (tick labels: 3 significant digits)."""
    if seconds <= 0 or not math.isfinite(seconds):
        return ""
    for scale, unit in ((1, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns")):
        if seconds >= scale * 0.9995:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds:.1e} s"


def bytes_label(n: float) -> str:
    if n <= 0 or not math.isfinite(n):
        return ""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 * 0.9995 or unit == "TiB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return ""


def count_label(n: float) -> str:
    """1200 -> "1.2k", 3e6 -> "3M"."""
    if n <= 0 or not math.isfinite(n):
        return ""
    for scale, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n:.3g}"


def format_ratio(value, lo, hi, method) -> str:
    """A ratio with its spread, "1.53× (1.41–1.66)", or just "1.53×" without one."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if method in ("none", "same") or lo is None or not math.isfinite(hi if hi is not None else math.inf):
        return f"{value:.2f}×" + (" (no spread)" if method == "none" else "")
    return f"{value:.2f}× ({lo:.2f}–{hi:.2f})"


def factor(value: float) -> str:
    """0.523 -> "0.52×", 1.234 -> "1.2×", 18.3 -> "18×"."""
    if value is None or not math.isfinite(value):
        return "—"
    if value >= 9.95:
        return f"{value:,.0f}×"
    return f"{value:.1f}×" if value >= 0.995 else f"{value:.2f}×"


def percent(value: float) -> str:
    return f"{100 * value:.0f} %" if value >= 0.0995 else f"{100 * value:.2g} %"
