"""Racing: a comparison group's interleaved blocks are spent where its decision is still open.

The rule follows the racing literature: Hoeffding races (Maron & Moore 1994, "Hoeffding races:
accelerating model selection search") evaluate every candidate on the same stream of test points
and drop one as soon as a confidence bound says it cannot be the best; F-race (Birattari, Stützle,
Paquete & Varrentrapp 2002, "A racing algorithm for configuring metaheuristics") does the same with
candidates evaluated on the same blocks (instances), starts testing after a few of them (irace's
`firstTest` default is 5) and stops when one candidate is left or the budget is spent. Here a
block is one interleaved round of `bench.timing`, the evidence is the per-block time ratio to the
current leader (drift cancels within a block), and the bounds are those the decision quotes
(`reports.verdict`: the 10th and 90th percentiles of the per-block ratios).

- **Leader and runner-up** by the decision's own rule (`reports.leader`): the two candidates with
  the lowest median over their rounds, swapped when the median of their per-block ratio says the
  other is faster.
  Only a candidate that may be recommended leads (`may_lead`: not the hand-written floor).
- **Drop**: from FIRST_TEST blocks on, a candidate whose per-block ratio to the leader has its
  10th percentile ≥ CUT is not timed further (nor its parts). It keeps the ratio and spread it
  had and the number of blocks it was timed in (`Dropped`).
- **Settled** (from the group's minimum blocks on): one contender left; or the runner-up's ratio
  has its 10th percentile above 1 (the decision's "outside noise"); or the two tie: the median
  ratio's 95 % confidence interval lies within ±TIE_BAND of 1 (either will do). A group that is
  not settled when its time limit is spent ends with the verdict "budget".
- **Hopeless first call**: before any block, a candidate whose first warm call took more than
  HOPELESS_FACTOR × the fastest contender's and more than HOPELESS_S seconds is called once more;
  if the faster of its two calls is still beyond both, it is not timed further (a 10-block race
  of an 8 s call would cost 80 s to confirm what two calls say). One call is not enough: a warm
  call can still be compiling (torch.compile recompiles on a failed guard).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field

from reports.leader import standing, within_noise

CUT = 1.5
"""A candidate is dropped once its per-block ratio to the leader is confidently at least this."""
FIRST_TEST = 5
"""Blocks before the first drop (F-race / irace's `firstTest`)."""
TIE_BAND = 0.05
"""Leader and runner-up tie when the 95 % interval of their median ratio lies within 1 ± this."""
HOPELESS_FACTOR = 20.0
HOPELESS_S = 1.0
"""A first warm call beyond HOPELESS_FACTOR × the fastest's and beyond HOPELESS_S ends the candidate."""

VERDICTS = {
    "alone": "one contender left",
    "margin": "leader's margin over the runner-up outside noise",
    "tie": f"leader and runner-up tie within ±{TIE_BAND:.0%}",
    "budget": "time limit reached before the ranking settled",
}
"""The race's verdict on a group (recorded as `race_verdict`), in words."""


@dataclass(frozen=True)
class Spread:
    """A per-block ratio: median, 10th/90th percentiles, 95 % half-width of the median."""

    median: float
    lo: float
    hi: float
    halfwidth: float
    blocks: int


def spread(values: list[float]) -> Spread:
    from bench.timing import QUANTILES, median_halfwidth, quantile  # bench.timing imports this module

    return Spread(
        median=quantile(values, 0.5),
        lo=quantile(values, QUANTILES[0]),
        hi=quantile(values, QUANTILES[1]),
        halfwidth=median_halfwidth(values),
        blocks=len(values),
    )


def block_ratio(slow: list[float], fast: list[float]) -> Spread:
    """slow / fast per block, over the blocks both were timed in (block k of both is the same
    interleaved round; a dropped candidate has the first blocks only)."""
    n = min(len(slow), len(fast))
    return spread([a / b for a, b in zip(slow[:n], fast[:n], strict=True)])


@dataclass(frozen=True)
class Dropped:
    after_blocks: int
    """Blocks it was timed in (0: its first call was hopeless)."""
    ratio: Spread | None
    """Its per-block ratio to the leader when it was dropped (None for a hopeless first call)."""
    leader: Hashable
    reason: str


@dataclass
class Race:
    """The racing state of one group. `candidates`: candidate -> the member whose time is raced
    (its evaluation); `members`: candidate -> every member timed for it (evaluation and parts);
    `may_lead(candidate)`: whether it may be the leader (the floor may not)."""

    candidates: Mapping[Hashable, Hashable]
    members: Mapping[Hashable, list[Hashable]]
    may_lead: Callable[[Hashable], bool] = lambda candidate: True
    cut: float = CUT
    first_test: int = FIRST_TEST
    tie_band: float = TIE_BAND
    dropped: dict[Hashable, Dropped] = field(default_factory=dict)
    verdict: str | None = None
    leader: Hashable | None = None
    runner_up: Hashable | None = None

    def live(self) -> list[Hashable]:
        return [c for c in self.candidates if c not in self.dropped]

    def live_members(self) -> set[Hashable]:
        return {m for c in self.live() for m in self.members[c]}

    def standings(self, blocks: Mapping[Hashable, list[float]], medians: Mapping[Hashable, float]):
        """(leader, runner-up) among the live candidates that may lead, as the decision ranks
        them: lowest median over rounds, the per-block ratio of the two deciding between them."""
        contenders = sorted((c for c in self.live() if self.may_lead(c)), key=lambda c: (medians[c], str(c)))
        ranked = standing(
            contenders, lambda slow, fast: block_ratio(blocks[slow], blocks[fast]), lambda r: r.median
        )
        return ranked.leader, ranked.runner_up

    def after_block(self, n: int, blocks: Mapping[Hashable, list[float]], medians: Mapping[Hashable, float],
                    min_blocks: int) -> str | None:  # fmt: skip
        """After block `n` (counted from 1): drop what is confidently beyond the cut, then the
        verdict if the ranking is settled (None: go on). `blocks`/`medians` per candidate."""
        self.leader, self.runner_up = self.standings(blocks, medians)
        if n >= self.first_test and self.leader is not None:
            for c in self.live():
                if c == self.leader:
                    continue
                r = block_ratio(blocks[c], blocks[self.leader])
                if r.lo >= self.cut:
                    reason = f"≥ {r.lo:.3g}× the fastest (10th percentile of {n} blocks ≥ {self.cut:g}×)"
                    self.dropped[c] = Dropped(n, r, self.leader, reason)
            self.leader, self.runner_up = self.standings(blocks, medians)
        if n < min_blocks:
            return None
        return self.settled(blocks)

    def settled(self, blocks: Mapping[Hashable, list[float]]) -> str | None:
        if self.runner_up is None:
            return "alone"
        r = block_ratio(blocks[self.runner_up], blocks[self.leader])
        if not within_noise(r.lo):
            return "margin"
        if 1 - self.tie_band <= r.median - r.halfwidth and r.median + r.halfwidth <= 1 + self.tie_band:
            return "tie"
        return None

    def progress(self, label: Callable[[Hashable], str] = str) -> dict:
        """What a progress line says: candidates left, and each dropped one with its bound."""
        return {
            "left": len(self.live()),
            "candidates": len(self.candidates),
            "leader": label(self.leader) if self.leader is not None else None,
            "dropped": [f"{label(c)} {d.reason.split(' (')[0]}" for c, d in self.dropped.items()],
        }


def hopeless(
    first_calls: Mapping[Hashable, float],
    may_lead: Callable[[Hashable], bool] = lambda c: True,
    factor: float | None = None,
    floor_s: float | None = None,
) -> dict[Hashable, str]:
    """Candidate -> reason, for each whose warm call (`first_calls`: its fastest so far) took more
    than `factor` (default HOPELESS_FACTOR) × the fastest contender's and more than `floor_s`
    (HOPELESS_S) seconds."""
    factor = HOPELESS_FACTOR if factor is None else factor
    floor_s = HOPELESS_S if floor_s is None else floor_s
    leading = [t for c, t in first_calls.items() if may_lead(c)] or list(first_calls.values())
    if not leading:
        return {}
    fastest = min(leading)
    out = {}
    for c, t in first_calls.items():
        if t > floor_s and t > factor * fastest:
            out[c] = (
                f"warm call {t:.3g} s, {t / fastest:.0f}× the fastest's {fastest:.3g} s "
                f"(> {factor:g}× and > {floor_s:g} s): not timed further"
            )
    return out


PROGRESS_EVERY_S = 10.0
"""The driver prints the group being timed at least this often (and when a new group starts)."""


def progress_line(state: dict, now: float) -> str:
    """One line for the terminal from the child's progress state (`bench.measure.write_progress`):
    which group, how long, how many blocks, candidates left, what has been dropped."""
    left, total = state.get("left", 0), state.get("candidates", 0)
    text = (
        f"  timing {state.get('group', '?')}: block {state.get('block', 0)}, "
        f"{now - state.get('started', now):.0f} s; {left} of {total} candidates left"
    )
    if state.get("dropped"):
        text += "; dropped: " + ", ".join(state["dropped"])
    return text
