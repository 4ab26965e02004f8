"""Interleaved timing: what is compared is measured side by side, block by block.

Why: shared VMs drift by ±30 % over minutes, so two strategies timed one after the other are
timed on different machines, in effect; and sub-millisecond rounds taken back to back are not
independent, so a median's confidence interval computed from them is far too narrow. Here every
member of a comparison group (each strategy's evaluation, and each of its parts) runs a short
burst of rounds in every block, in an order that changes from block to block (`block_order`),
so each ratio of two members is taken per block under the same conditions and then summarised
over blocks: its median, a 10th/90th-percentile spread, and the median's 95 % half-width.

Sizes, from pyperf's practice and Kalibera & Jones (2013, "Rigorous benchmarking in reasonable
time"): repeat at the level where the variation is (here, the block, not the call), and take
enough repetitions at that level for a quantile and a confidence interval to mean something.
pyperf takes 20 processes x 3 values of >= 100 ms (6 s per benchmark); it must make each
absolute time robust, whereas a per-block ratio cancels slow drift, so less suffices here:
- at least `min_blocks` = 10 blocks (the fewest for a 10th/90th-percentile pair that is not
  just the extremes, and a notch 1.57·IQR/√n half as wide as the IQR);
- at least `min_time` = 0.5 s of measuring per member (bursts of min_time / min_blocks = 50 ms,
  each `block_rounds` = 5 rounds of >= 10 ms, so a block's median survives one interrupted
  round and a 10 ms round is far above the timer's resolution and a call's dispatch jitter);
- then blocks until every ratio's 95 % half-width is below `rel_precision` of it (stable), or
  until `max_time` seconds per member (or `max_rounds`) are spent (not stable).
`max_time` caps `min_time` (`--max-time 0.05` makes 5 ms bursts); `min_blocks` is never cut.

Two modes. `race` (the default; `bench/racing.py`): after the minimum blocks the group stops as
soon as the ranking the decision reports is settled, and a member confidently beyond the cut is
dropped earlier; the stop needs no 2 % precision. `precision` (`--mode precision`, or an explicit
`--precision`; for studies that want every ratio to the same precision): the rule above.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field

from bench.options import Number, at_least, fraction, positive
from bench.racing import Race


@dataclass(frozen=True)
class TimingPolicy:
    min_rounds: int = 5
    max_rounds: int = 10_000
    max_time: float = 2.0
    rel_precision: float = 0.02
    min_round_s: float = 1e-4
    min_blocks: int = 10
    min_time: float = 0.5
    block_rounds: int = 5
    seed: int = 0
    mode: str = "race"
    """"race" (stop once the decision is settled) or "precision" (once every ratio is precise)."""
    parts: bool = True
    """Whether a case's parts (the loss alone: `grad_over_loss`) are timed beside it; `make advise`
    turns them off: its decision does not read them, and each part doubles a case's compiles and
    timed members."""

    @property
    def burst_s(self) -> float:
        """Seconds of one member's burst in one block."""
        return min(self.min_time, self.max_time) / self.min_blocks

    @property
    def round_s(self) -> float:
        """Seconds one round should last at least (calls are batched up to it)."""
        return max(self.min_round_s, self.burst_s / self.block_rounds)


MODES = ("race", "precision")


def mode_choice(text: str) -> str:
    """An argparse `type`: one of MODES."""
    if text not in MODES:
        raise argparse.ArgumentTypeError(f"{text!r} is not a timing mode; valid: {', '.join(MODES)}")
    return text


TIMING_OPTIONS = (
    ("--min-rounds", at_least(1), 5, "fewest timed rounds per case (at most --max-rounds)"),
    ("--max-rounds", at_least(1), 10_000, "most timed rounds per case"),
    (
        "--max-time",
        positive(unit="seconds"),
        2.0,
        "timing seconds per case (and per part) at most, beyond --min-blocks",
    ),
    (
        "--precision",
        fraction(),
        0.02,
        "time until each ratio's 95%% CI half-width is below this fraction of it",
    ),
    ("--min-blocks", at_least(1), 10, "fewest interleaved blocks per comparison group"),
    ("--parts", Number(int, low=0, high=1), 1, "1: time each case's parts too (the loss alone); 0: not"),
    (
        "--min-time",
        positive(unit="seconds"),
        0.5,
        "fewest timing seconds per case (and per part), capped by --max-time",
    ),
    (
        "--mode",
        mode_choice,
        "race",
        "race: stop a group once its decision is settled, dropping cases confidently >= 1.5x the "
        "fastest; precision: time every ratio to --precision (an explicit --precision implies it)",
    ),
)
"""Declared once for the driver (argparse) and the pytest children (addoption): same signature.
The type column validates the value (bench/options.py); `bench.run` also checks min ≤ max rounds."""

QUANTILES = (0.10, 0.90)
"""The spread reported with every ratio: the 10th and 90th percentiles of its per-block values."""


def add_timing_options(add_option, defaults: bool = True) -> None:
    """Declare the timing options; without `defaults` an option left out parses as None (so a
    sweep's `[timing]` table can fill it before the harness default does)."""
    for flag, kind, default, text in TIMING_OPTIONS:
        add_option(flag, type=kind, default=default if defaults else None,
                   help=f"{text} (default {default})" if not defaults else text)  # fmt: skip


def policy_from(get) -> TimingPolicy:
    """The policy from parsed options; `get(name)` reads one (argparse attr or pytest option)."""
    return TimingPolicy(
        min_rounds=get("min_rounds"),
        max_rounds=get("max_rounds"),
        max_time=get("max_time"),
        rel_precision=get("precision"),
        min_blocks=get("min_blocks"),
        min_time=get("min_time"),
        mode=get("mode"),
        parts=bool(get("parts")),
    )


@dataclass
class Timing:
    """One member's rounds, block by block; times are seconds per call."""

    iterations: int = 1
    """Calls per round."""
    rounds_per_block: int = 1
    blocks: list[list[float]] = field(default_factory=list)
    stable: bool = False

    @property
    def samples(self) -> list[float]:
        """Every round, in the order taken."""
        return [s for block in self.blocks for s in block]

    @property
    def block_medians(self) -> list[float]:
        return [statistics.median(block) for block in self.blocks]

    @property
    def measured_s(self) -> float:
        return sum(self.samples) * self.iterations

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def q1(self) -> float:
        return quantile(self.samples, 0.25)

    @property
    def q3(self) -> float:
        return quantile(self.samples, 0.75)

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    def summary(self, prefix: str = "") -> dict:
        samples = self.samples
        return {
            f"{prefix}median_s": self.median,
            f"{prefix}iqr_s": self.iqr,
            f"{prefix}q1_s": self.q1,
            f"{prefix}q3_s": self.q3,
            f"{prefix}min_s": min(samples),
            f"{prefix}max_s": max(samples),
            f"{prefix}rounds": len(samples),
            f"{prefix}blocks": len(self.blocks),
            f"{prefix}block_medians_s": self.block_medians,
            f"{prefix}stable": self.stable,
        }


def quantile(data: list[float], q: float) -> float:
    """Linearly interpolated quantile (numpy's default)."""
    s = sorted(data)
    pos = q * (len(s) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def median_halfwidth(values: list[float]) -> float:
    """95 % confidence half-width of the median (McGill et al. notch, 1.57·IQR/√n)."""
    return 1.57 * (quantile(values, 0.75) - quantile(values, 0.25)) / math.sqrt(len(values))


def block_ratios(timing: Timing, reference: Timing) -> list[float]:
    """Per block: this member's block median over the reference's, taken in the same block, over
    the blocks both were timed in (a member dropped by the race has the first ones only)."""
    a, b = timing.block_medians, reference.block_medians
    n = min(len(a), len(b))
    return [x / y for x, y in zip(a[:n], b[:n], strict=True)]


@dataclass(frozen=True)
class Ratio:
    median: float
    lo: float
    hi: float
    """QUANTILES of the per-block ratios."""
    halfwidth: float
    """95 % half-width of the median."""


def ratio(timing: Timing, reference: Timing) -> Ratio:
    values = block_ratios(timing, reference)
    return Ratio(
        median=statistics.median(values),
        lo=quantile(values, QUANTILES[0]),
        hi=quantile(values, QUANTILES[1]),
        halfwidth=median_halfwidth(values),
    )


def block_order(n: int, block: int, seed: int = 0) -> list[int]:
    """The order of n members in block `block`: a seeded shuffle per cycle of n blocks, rotated
    by the block's place in the cycle. Within each cycle every member takes every position once
    (none always runs first, on cold caches, or right after the same neighbour), and the shuffle
    changes who follows whom from one cycle to the next. Deterministic for a seed."""
    cycle, shift = divmod(block, n)
    base = list(range(n))
    random.Random(seed * 1_000_003 + cycle).shuffle(base)
    return base[shift:] + base[:shift]


Clock = Callable[[], float]
"""Seconds; `time.perf_counter` (wall time: what a user waits) unless a test injects another."""


def calibrate(
    fn: Callable[[], object], round_s: float, clock: Clock = time.perf_counter, burst_s: float | None = None
) -> tuple[int, float]:
    """(calls per round so that a round lasts at least `round_s`, seconds per call). The time per
    call is the fastest of three rounds, so one interrupted round does not shrink the bursts. A
    call of at least twice `burst_s` is timed once: a burst is then one call whatever the exact
    figure, so two more would only cost time (a UDE's adjoint solve: 0.8 s a call, 2 members a
    case: about 6 s of `make bench`)."""
    iterations = 1
    while True:
        elapsed = _burst(fn, iterations, 1, clock)[0] * iterations
        if iterations == 1 and burst_s is not None and elapsed >= 2 * burst_s:
            return 1, elapsed
        if elapsed >= round_s or iterations >= 1 << 16:
            return iterations, min(_burst(fn, iterations, 2, clock) + [elapsed / iterations])
        iterations *= 2


def _burst(fn: Callable[[], object], iterations: int, rounds: int, clock: Clock) -> list[float]:
    samples = []
    for _ in range(rounds):
        start = clock()
        for _ in range(iterations):
            fn()
        samples.append((clock() - start) / iterations)
    return samples


class MemberFailed(Exception):
    """A member raised while being timed; `member` names it, the cause is chained."""

    def __init__(self, member: Hashable, cause: BaseException):
        super().__init__(f"{member!r}: {cause}")
        self.member = member
        self.cause = cause


def _precise(timings: dict, reference: Mapping, rel_precision: float) -> dict[Hashable, bool]:
    """Per judged member: is its ratio to its reference (or, with reference None, its own block
    medians) known to within `rel_precision` (95 % half-width of the median over blocks)?"""
    verdict = {}
    for name, ref in reference.items():
        values = block_ratios(timings[name], timings[ref]) if ref is not None else timings[name].block_medians
        verdict[name] = median_halfwidth(values) <= rel_precision * statistics.median(values)
    return verdict


def measure_interleaved(
    members: Mapping[Hashable, Callable[[], object]],
    policy: TimingPolicy = TimingPolicy(),
    reference: Mapping[Hashable, Hashable | None] | None = None,
    before_burst: Callable[[Hashable], None] | None = None,
    clock: Clock = time.perf_counter,
    race: Race | None = None,
    after_block: Callable[[int], None] | None = None,
) -> dict[Hashable, Timing]:
    """Time every member (a synchronising call) interleaved, block by block.

    `reference` maps a member to the member its ratio is judged against (None: its own block
    medians, for a member alone); members it leaves out are not judged (a group's reference:
    its ratio to itself is 1, and it is `stable` when every ratio judged against it is).
    Default: every member judged alone. In precision mode (or without a `race`) measuring stops
    when every judged member is precise (then `stable`) or at the limits. With a `race` in race
    mode (`bench/racing.py`) it stops when the race's ranking is settled (then every member is
    `stable`) or at the limits; a dropped candidate's members are not timed further (their
    `stable`: the drop was confident), and each live member has `max_time` of measuring.
    `race.verdict` says why it stopped. `before_burst(member)` is called before each member's
    calibration and burst (the harness names the case in progress there); `after_block(n)` after
    block n (from 1). A member that raises ends the measurement with `MemberFailed`. `clock`
    times the rounds; the time limit is always wall time.
    """
    names = list(members)
    reference = {name: None for name in names} if reference is None else reference
    racing = race is not None and policy.mode == "race"
    timings: dict[Hashable, Timing] = {}

    def run(name, action):
        if before_burst is not None:
            before_burst(name)
        try:
            return action()
        except Exception as exc:  # noqa: BLE001 - attributed to the member, re-raised
            raise MemberFailed(name, exc) from exc

    for name in names:
        iterations, per_call = run(
            name, lambda name=name: calibrate(members[name], policy.round_s, clock, policy.burst_s)
        )
        rounds = min(max(math.ceil(policy.burst_s / (per_call * iterations)), 1), policy.block_rounds)
        timings[name] = Timing(iterations=iterations, rounds_per_block=rounds)

    start = time.perf_counter()
    limit = policy.max_time * len(names)
    block = -1
    while True:
        block += 1
        live = race.live_members() if racing else set(names)
        for index in block_order(len(names), block, policy.seed):
            name, t = names[index], timings[names[index]]
            if name not in live:
                continue
            burst = run(
                name, lambda fn=members[name], t=t: _burst(fn, t.iterations, t.rounds_per_block, clock)
            )
            t.blocks.append(burst)
        verdict = None
        if racing:
            raced = {c: timings[m] for c, m in race.candidates.items()}
            blocks = {c: t.block_medians for c, t in raced.items()}
            medians = {c: t.median for c, t in raced.items()}
            verdict = race.after_block(block + 1, blocks, medians, policy.min_blocks)
            live = race.live_members()
        if after_block is not None:
            after_block(block + 1)
        if block + 1 < policy.min_blocks:
            continue
        enough = all(
            len(timings[n].samples) >= policy.min_rounds
            and timings[n].measured_s >= min(policy.min_time, policy.max_time)
            for n in live
        )
        out_of_rounds = any(len(timings[n].samples) >= policy.max_rounds for n in live)
        out_of_time = time.perf_counter() - start >= limit
        if racing:
            out_of_time = out_of_time or all(timings[n].measured_s >= policy.max_time for n in live)
            if (enough and verdict) or out_of_time or out_of_rounds:
                race.verdict = verdict if enough and verdict else "budget"
                precise = _precise(timings, reference, policy.rel_precision)
                for name, t in timings.items():
                    t.stable = race.verdict != "budget" or name not in live or precise.get(name, False)
                return timings
            continue
        precise = _precise(timings, reference, policy.rel_precision)
        if (enough and all(precise.values())) or out_of_time or out_of_rounds:
            for name, t in timings.items():  # one not judged: stable when all judged against it are
                judged_against = [precise[m] for m, ref in reference.items() if ref == name]
                t.stable = precise[name] if name in precise else all(judged_against)
            return timings
