"""Adaptive timing: measure until the median is stable, within configurable limits.

Rounds are taken in batches; measuring stops when the 95 % confidence half-width of the median
(≈ 1.57·IQR/√n, the notched-boxplot estimate) is below `rel_precision` of the median, or at
`max_time` seconds / `max_rounds` rounds, but never before `min_rounds`. Each round runs
`iterations` calls, calibrated so one round lasts at least `min_round_s` (timer resolution).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.options import at_least, fraction, positive


@dataclass(frozen=True)
class TimingPolicy:
    min_rounds: int = 5
    max_rounds: int = 10_000
    max_time: float = 2.0
    rel_precision: float = 0.02
    min_round_s: float = 1e-4
    batch: int = 5


TIMING_OPTIONS = (
    ("--min-rounds", at_least(1), 5, "fewest timed rounds per case (at most --max-rounds)"),
    ("--max-rounds", at_least(1), 10_000, "most timed rounds per case"),
    ("--max-time", positive(unit="seconds"), 2.0, "timing seconds per case at most"),
    ("--precision", fraction(), 0.02, "time until the median's 95%% CI half-width < this fraction of it"),
)
"""Declared once for the driver (argparse) and the pytest children (addoption): same signature.
The type column validates the value (bench/options.py); `bench.run` also checks min ≤ max rounds."""


def add_timing_options(add_option) -> None:
    for flag, kind, default, text in TIMING_OPTIONS:
        add_option(flag, type=kind, default=default, help=text)


def policy_from(get) -> TimingPolicy:
    """The policy from parsed options; `get(name)` reads one (argparse attr or pytest option)."""
    return TimingPolicy(
        min_rounds=get("min_rounds"),
        max_rounds=get("max_rounds"),
        max_time=get("max_time"),
        rel_precision=get("precision"),
    )


@dataclass
class Timing:
    samples: list[float] = field(default_factory=list)  # seconds per call, one per round
    iterations: int = 1
    stable: bool = False

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def q1(self) -> float:
        return _quantile(self.samples, 0.25)

    @property
    def q3(self) -> float:
        return _quantile(self.samples, 0.75)

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    def median_halfwidth(self) -> float:
        """95 % confidence half-width of the median (McGill et al. notch, 1.57·IQR/√n)."""
        return 1.57 * self.iqr / len(self.samples) ** 0.5

    def summary(self, prefix: str = "") -> dict:
        return {
            f"{prefix}median_s": self.median,
            f"{prefix}iqr_s": self.iqr,
            f"{prefix}q1_s": self.q1,
            f"{prefix}q3_s": self.q3,
            f"{prefix}min_s": min(self.samples),
            f"{prefix}max_s": max(self.samples),
            f"{prefix}rounds": len(self.samples),
            f"{prefix}stable": self.stable,
        }


def _quantile(data: list[float], q: float) -> float:
    s = sorted(data)
    pos = q * (len(s) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def calibrate(fn: Callable[[], object], policy: TimingPolicy) -> int:
    """Calls per round so that a round lasts at least `policy.min_round_s`."""
    iterations = 1
    while True:
        start = time.perf_counter()
        for _ in range(iterations):
            fn()
        if time.perf_counter() - start >= policy.min_round_s or iterations >= 1 << 16:
            return iterations
        iterations *= 2


def measure_until_stable(
    fn: Callable[[], object], policy: TimingPolicy = TimingPolicy(), on_round=None
) -> Timing:
    """Time `fn` (which must synchronise its device) until the median is stable."""
    timing = Timing(iterations=calibrate(fn, policy))
    start = time.perf_counter()
    while True:
        for _ in range(policy.batch):
            t0 = time.perf_counter()
            for _ in range(timing.iterations):
                fn()
            duration = time.perf_counter() - t0
            timing.samples.append(duration / timing.iterations)
            if on_round is not None:
                on_round(duration)
        n = len(timing.samples)
        if n >= policy.min_rounds and timing.median_halfwidth() <= policy.rel_precision * timing.median:
            timing.stable = True
            return timing
        if n >= policy.max_rounds or time.perf_counter() - start >= policy.max_time:
            return timing
