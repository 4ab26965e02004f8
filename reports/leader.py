"""The leader rule, shared by the decision (`reports.verdict`) and the race that times a group
(`bench.racing`), so that the race stops on the ranking the decision will report. No pandas,
numpy or plotting import: the timing child loads it.

- **Leader and runner-up**: the two contenders with the lowest median over their rounds (ties by
  name), swapped when the median of their interleaved per-block ratio says the other is faster
  (the two measures then disagree: they are within noise of each other, and the direct,
  interleaved comparison decides).
- **Within noise**: a ratio slow/fast whose lower bound (the 10th percentile of the per-block
  ratios, or the notches' nearest ends) reaches 1: the two cannot be told apart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple


class Standing(NamedTuple):
    leader: Any
    runner_up: Any
    ratio: Any
    """ratio(second, first) as computed for the median order (before any swap)."""
    swapped: bool
    """Whether the per-block ratio put the second-lowest median first."""


def standing(
    ranked: Sequence, ratio: Callable[[Any, Any], Any], value: Callable[[Any], float] = float
) -> Standing:
    """Leader and runner-up of `ranked` (contenders sorted by median, then name). `ratio(slow,
    fast)` gives their per-block ratio, `value(ratio)` its median."""
    if not ranked:
        return Standing(None, None, None, False)
    if len(ranked) == 1:
        return Standing(ranked[0], None, None, False)
    first, second = ranked[0], ranked[1]
    r = ratio(second, first)
    if value(r) < 1:
        return Standing(second, first, r, True)
    return Standing(first, second, r, False)


def within_noise(lo: float) -> bool:
    """Whether a ratio slow/fast whose lower bound is `lo` cannot tell the two apart."""
    return lo <= 1.0
