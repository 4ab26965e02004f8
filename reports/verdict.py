"""The verdict a report exists for, computed once: per problem instance × framework × compile
mode × dtype × device, which AD strategy to use, by how much it wins (with its uncertainty), and
what to avoid. `verdicts(df)` turns the tidy frame of `reports.runs.load_runs` into one `Verdict`
per group; the terminal (`reports.decision`), the HTML page (`reports.sections`), the README
(`reports.results`), the heatmap and the ranking figures all render those objects, in the words of
`reports.wording`. `decide(df)` is the same verdicts as a frame (one row each), for the findings
and the comparison of two runs.

- **Adoptable** (`reports.roles.adoptable`, the one definition): a candidate a verdict may name:
  not the hand-written floor (a reference, no AD) and not a named spelling (`rev-over-fwd:jacfwd`,
  the same maths written another way), except in a run about one user configuration (`make
  advise` writes `spellings_compete`, see `reports.runs`), where spellings compete like strategies
  and the verdict names the fastest correct *code* ("use fwd-over-rev written as torch.func.jvp
  over torch.func.grad (`fwd-over-rev:func`)").
- **Leader** (the recommendation): the fastest adoptable strategy whose gradient passed the
  reference check, by the rule of `reports.leader` (lowest median; the interleaved per-block ratio
  of the two fastest decides between them when the two measures disagree), so the margin is ≥ 1.
- **Speed-up over the baseline** (the catalogue's `baseline`: rev-over-rev, nested-rev) and
  **margin over the runner-up** are time ratios with a spread, from the best evidence present:
  1. the harness's `ratio_to_baseline[_lo,_hi]` (per-block ratios measured interleaved);
  2. per-block ratios of the two cases' `block_medians_s` (same group, same block count: block k
     of both was measured in the same interleaved round), their BLOCK_QUANTILES percentiles;
  3. older records without blocks: the medians' 95 % notches (median ± 1.57·IQR/√rounds), the
     ratio's interval running from the notches' nearest to their farthest ends.
  The two are **within noise** when the interval reaches 1.
- **Settled**: not when the leader is within noise of the runner-up (unless the race settled them
  as a tie within its band), nor when the race stopped at its time limit before the ranking
  settled; an unsettled verdict is marked ⚠ with its caveats (as is one measured under load).
- **Avoid**: adoptable strategies (never spellings) that are wrong, failed, crashed, over budget or
  out of memory (with the reason), and correct ones slower than AVOID_FACTOR × the leader.
- **Spellings**: per strategy of the group, each measured spelling's time ratio to the strategy
  with its spread: the spread of one strategy over the ways of writing it.
- **Floor ratio** `over_group_floor`: the leader's time over the fastest floor case of the *same
  group* (same framework and compile mode). Not the tidy frame's `over_floor` (`reports.derived`),
  which divides every case by the fastest floor of its instance over *both* frameworks and
  compile modes.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from backends import DEFAULT_COMPILE_MODE
from reports.labels import add_labels
from reports.leader import standing, within_noise
from reports.roles import adoptable, baseline_of, is_floor, spelling_of
from reports.text import format_ratio

GROUP = ["instance", "backend", "compile_mode", "dtype", "device", "env_id"]
"""The cases compared with each other: one verdict each."""
AVOID_FACTOR = 10.0
"""A correct strategy slower than this many times the recommended one is listed under `avoid`."""
AVOID_STATUSES = ("wrong", "failed", "crashed", "over budget", "out of memory")
NOTCH = 1.57
"""95 % notch of a median: NOTCH·IQR/√rounds (McGill, Tukey & Larsen 1978)."""
BLOCK_QUANTILES = (10.0, 90.0)
"""Percentiles of the per-block ratios that give a pairwise ratio's spread."""


def flag(value) -> bool | None:
    """A yes/no/unknown column value as True/False/None (numpy bools and NaN included)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return bool(value)


# -- pairwise uncertainty ----------------------------------------------------------------------
@dataclass(frozen=True)
class Ratio:
    """A time ratio slow/fast (≥ 1 when `fast` is faster) and its spread [lo, hi].

    `method`: "harness" (the harness's ratio_to_baseline), "blocks" (per-block ratios),
    "notches" (medians' notches), "same" (a case against itself) or "none" (no spread known).
    """

    value: float
    lo: float
    hi: float
    method: str

    @property
    def within_noise(self) -> bool | None:
        """True when the spread reaches 1 (the two cannot be told apart); None if unknown."""
        if self.method == "none" or not math.isfinite(self.lo):
            return None
        return within_noise(self.lo)


def _number(record, key) -> float | None:
    value = record.get(key) if hasattr(record, "get") else None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def block_medians(record) -> np.ndarray | None:
    """The record's per-block medians as an array (None when absent or not all positive)."""
    blocks = record.get("block_medians_s") if hasattr(record, "get") else None
    if isinstance(blocks, str):  # from a CSV
        blocks = [float(b) for b in blocks.strip("[]").split(",") if b.strip()]
    if blocks is None or isinstance(blocks, float) or len(blocks) == 0:
        return None
    values = np.asarray(blocks, dtype=float)
    return values if np.all(np.isfinite(values)) and np.all(values > 0) else None


def notch(record) -> float | None:
    """Half-width of the median's 95 % notch, NOTCH·IQR/√rounds (None without IQR or rounds)."""
    iqr, rounds = _number(record, "iqr_s"), _number(record, "rounds")
    if iqr is None or rounds is None or rounds < 1:
        return None
    return NOTCH * iqr / math.sqrt(rounds)


def pairwise_ratio(slow, fast, paired: bool = True) -> Ratio:
    """time(slow) / time(fast) with its spread: per-block ratios where both records carry the
    same number of blocks (≥ 2; or one was dropped by the race after its first blocks) and were
    measured interleaved (`paired`: the same comparison group), else the medians' notches, else
    no spread."""
    a, b = (block_medians(slow), block_medians(fast)) if paired else (None, None)
    if a is not None and b is not None and len(a) != len(b):
        # a case the race dropped was timed in the group's first blocks only: block k is the same
        # interleaved round for both, so its ratio is taken over the blocks both were timed in
        short = slow if len(a) < len(b) else fast
        if _number(short, "dropped_after_blocks") == min(len(a), len(b)):
            a, b = a[: min(len(a), len(b))], b[: min(len(a), len(b))]
    if a is not None and b is not None and len(a) == len(b) and len(a) >= 2:
        ratios = a / b
        lo, hi = np.percentile(ratios, BLOCK_QUANTILES)
        return Ratio(float(np.median(ratios)), float(lo), float(hi), "blocks")
    ms, mf = _number(slow, "median_s"), _number(fast, "median_s")
    value = ms / mf
    ns, nf = notch(slow), notch(fast)
    if ns is None or nf is None:
        return Ratio(value, value, value, "none")
    lo = (ms - ns) / (mf + nf)
    hi = (ms + ns) / (mf - nf) if mf > nf else math.inf
    return Ratio(value, lo, hi, "notches")


def speedup_over(baseline, best) -> Ratio:
    """time(baseline) / time(best): the harness's ratio_to_baseline when `best` carries it for
    this baseline, else `pairwise_ratio(baseline, best)`."""
    if best.get("strategy") == baseline.get("strategy"):
        return Ratio(1.0, 1.0, 1.0, "same")
    ratio = _number(best, "ratio_to_baseline")
    lo, hi = _number(best, "ratio_to_baseline_lo"), _number(best, "ratio_to_baseline_hi")
    named = best.get("baseline_strategy")
    named = named if isinstance(named, str) else baseline.get("strategy")
    if ratio and lo and hi and named == baseline.get("strategy"):
        return Ratio(1 / ratio, 1 / hi, 1 / lo, "harness")
    return pairwise_ratio(baseline, best)


# -- what to avoid -----------------------------------------------------------------------------
def short_reason(record, limit: int = 110) -> str:
    """Why a case is to be avoided, in a few words: its status and the first line of its error
    (without the source location the harness appends)."""
    status = record.get("status")
    if status == "wrong":
        err, tol = _number(record, "grad_rel_err"), _number(record, "tolerance")
        if err is not None and tol is not None:
            return f"wrong: error {err:.1e} > tolerance {tol:.1e}"
    error = str(record.get("error") or "").strip().splitlines()
    message = re.sub(r" at [\w./<>-]+\.py:\d+$", "", error[0]) if error else ""
    text = f"{status}: {message}" if message else str(status)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def avoid_list(adoptable: pd.DataFrame, best_median: float | None) -> list[Avoid]:
    """The adoptable cases of one group a user should not pick, with the reason."""
    out = []
    for _, r in adoptable.sort_values("strategy").iterrows():
        if r["status"] in AVOID_STATUSES:
            out.append(Avoid(r["strategy"], short_reason(r), str(r.get("error") or "")))
        elif r["status"] == "ok" and best_median and r["median_s"] > AVOID_FACTOR * best_median:
            factor = r["median_s"] / best_median
            reason = dropped_text(r) or f"{factor:.0f}× slower"
            out.append(Avoid(r["strategy"], reason, str(r.get("dropped_reason") or "")))
    return out


def dropped_text(record) -> str:
    """How a case the race stopped timing reads (never as a precise time it did not earn):
    "≥ 3.1× the fastest, dropped after 4 blocks", or "410× the fastest's first call, best of 2
    warm calls" (a record older than the check call: "timed once"); "" for a case timed to the end."""
    after = _number(record, "dropped_after_blocks")
    ratio, lo = _number(record, "ratio_to_fastest"), _number(record, "ratio_to_fastest_lo")
    if after is None or ratio is None:
        return ""
    if after == 0:
        calls = _number(record, "rounds") or 1
        return f"{ratio:.0f}× the fastest's first call, " + (
            "timed once" if calls == 1 else f"best of {calls:.0f} warm calls"
        )
    return f"≥ {lo if lo is not None else ratio:.3g}× the fastest, dropped after {after:.0f} blocks"


def why_none(adoptable: pd.DataFrame, group: pd.DataFrame) -> str:
    if adoptable.empty:
        return "only the hand-written floor ran" if len(group) else "nothing ran"
    counts = adoptable["status"].value_counts()
    parts = ", ".join(f"{n} {s}" for s, n in counts.items())
    if set(counts.index) <= {"unsupported", "skipped"}:
        return f"no AD strategy can run here ({parts})"
    return f"no AD strategy passed the reference check ({parts})"


def spellings_list(g: pd.DataFrame, problem: str) -> list[Spelling]:
    """The named spellings in one group, with time(spelling) / time(its strategy) from the
    interleaved blocks (None when either is not ok)."""
    out = []
    ok = g[g["status"] == "ok"]
    for _, r in g.sort_values("strategy").iterrows():
        parent = spelling_of(problem, r["strategy"])
        if parent is None:
            continue
        base = ok[ok["strategy"] == parent]
        if r["status"] == "ok" and len(base):
            ratio = pairwise_ratio(r, base.iloc[0])
            out.append(
                Spelling(parent, r["strategy"], r["status"], ratio.value, ratio.lo, ratio.hi, ratio.method)
            )
        else:
            out.append(Spelling(parent, r["strategy"], r["status"]))
    return out


def spellings_text(entries) -> str:
    """Each spelling's time over its strategy's: "rev-over-fwd:jacfwd 1.62× (1.55–1.70); …"."""
    parts = []
    for e in entries:
        if e.ratio is None:
            parts.append(f"{e.spelling} ({e.status})")
        else:
            parts.append(f"{e.spelling} {format_ratio(e.ratio, e.lo, e.hi, e.method)}")
    return "; ".join(parts)


def spellings_compete(g: pd.DataFrame) -> bool:
    """Whether the group's spellings are candidates for the answer (`reports.runs.spellings_compete`:
    a run about one user configuration, `make advise`), not only the spread of their strategy."""
    if "spellings_compete" not in g:
        return False
    return bool(g["spellings_compete"].map(lambda v: flag(v) is True).any())


# -- the verdict -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Avoid:
    strategy: str
    reason: str
    """A few words: the status and the first line of the error, or "18× slower"."""
    full: str = ""
    """The whole error or the race's reason (a tooltip)."""


@dataclass(frozen=True)
class Spelling:
    strategy: str
    spelling: str
    status: str
    ratio: float | None = None
    """time(spelling) / time(strategy), from the interleaved blocks (None unless both are ok)."""
    lo: float | None = None
    hi: float | None = None
    method: str | None = None


@dataclass(frozen=True)
class Verdict:
    """The decision for one comparison group (GROUP), computed once by `verdicts`."""

    instance: str
    backend: str
    compile_mode: str
    dtype: str
    device: str
    env_id: str
    problem: str
    family: str
    label: str
    order_key: tuple
    adoptable: tuple[str, ...]
    """The candidates the verdict may name (`reports.roles.adoptable`), every status."""
    strategies_ok: int
    """Adoptable candidates whose gradient passed the reference check (and were timed)."""
    baseline: str | None
    leader: str | None = None
    """The recommended strategy (or spelling, where spellings compete); None: see `why_none`."""
    why_none: str = ""
    median_s: float | None = None
    speedup: Ratio | None = None
    """time(baseline) / time(leader) (None when the baseline did not pass: `baseline_status`)."""
    baseline_status: str | None = None
    runner_up: str | None = None
    margin: Ratio | None = None
    """time(runner-up) / time(leader), ≥ 1."""
    settled: bool = True
    """False (⚠) when the leader is within noise of the runner-up (not a race's tie) or the race
    stopped at its time limit first."""
    caveats: tuple[str, ...] = ()
    """What is not settled, and competing load, in words."""
    avoid: tuple[Avoid, ...] = ()
    spellings: tuple[Spelling, ...] = ()
    spellings_compete: bool = False
    floor: str | None = None
    over_group_floor: float | None = None
    """time(leader) / the fastest floor case of this group (same framework and compile mode)."""
    peak_memory_bytes: float | None = None
    memory_method: str | None = None
    xla_temp_bytes: float | None = None
    compile_s: float | None = None
    compile_parallel: bool = False
    """The leader's compile_s was measured beside a parallel build (`bench/prebuild.py`)."""
    leader_spelling_of: str | None = field(default=None)

    @property
    def within_noise(self) -> bool | None:
        return self.margin.within_noise if self.margin is not None else None

    @property
    def key(self) -> tuple:
        return tuple(getattr(self, k) for k in GROUP)

    def row(self) -> dict:
        """The verdict as one row of the `decide` frame (flat columns; the ratios split into value,
        lo, hi and method)."""
        row = {k: getattr(self, k) for k in GROUP + ["problem", "family", "label", "order_key"]}
        row.update(
            recommended=self.leader,
            recommended_spelling_of=self.leader_spelling_of,
            median_s=self.median_s,
            baseline=self.baseline,
            baseline_status=self.baseline_status,
            runner_up=self.runner_up,
            within_noise=self.within_noise,
            settled=self.settled,
            peak_memory_bytes=self.peak_memory_bytes,
            memory_method=self.memory_method,
            xla_temp_bytes=self.xla_temp_bytes,
            compile_s=self.compile_s,
            compile_parallel=self.compile_parallel,
            floor=self.floor,
            over_group_floor=self.over_group_floor,
            caveats=list(self.caveats),
            avoid="; ".join(f"{a.strategy} ({a.reason})" for a in self.avoid),
            avoid_list=[asdict(a) for a in self.avoid],
            spellings=spellings_text(self.spellings),
            spellings_list=[asdict(s) for s in self.spellings],
            spellings_compete=self.spellings_compete,
            why_none=self.why_none,
            strategies_ok=self.strategies_ok,
            strategies_tried=len(self.adoptable),
            adoptable=list(self.adoptable),
        )
        for name in ("speedup", "margin"):
            ratio = getattr(self, name)
            row.update({name: None, f"{name}_lo": None, f"{name}_hi": None, f"{name}_method": None})
            if ratio is not None:
                row.update({name: ratio.value, f"{name}_lo": ratio.lo, f"{name}_hi": ratio.hi,
                            f"{name}_method": ratio.method})  # fmt: skip
        return row


def _caveats(best, runner, margin: Ratio | None) -> tuple[list[str], bool]:
    """What is not settled (⚠) — a leader within noise of the runner-up (unless the race settled
    them as a tie within its band), a group the race stopped at its time limit before its ranking
    settled — and competing load; and whether the ranking is settled."""
    notes = []
    loaded = [r for r in (best, runner) if r is not None and flag(r.get("contended")) is True]
    if loaded:
        note = loaded[0].get("load_note")
        names = " and ".join(r["strategy"] for r in loaded)
        notes.append(f"{names} measured under competing load" + (f" ({note})" if note else ""))
    verdict = best.get("race_verdict")
    out_of_time = " when the timing reached its time limit" if verdict == "budget" else ""
    settled = True
    if runner is not None and margin is not None and margin.within_noise and verdict != "tie":
        notes.append(
            f"{best['strategy']} within noise of {runner['strategy']}{out_of_time}: either may be faster"
        )
        settled = False
    elif out_of_time:
        notes.append("the timing reached its time limit before the ranking settled")
        settled = False
    return notes, settled


def adoptable_mask(df: pd.DataFrame) -> pd.Series:
    """`reports.roles.adoptable` for every row of a tidy frame (its `spellings_compete` column
    says whether spellings compete in the row's run)."""
    if df.empty:
        return pd.Series(dtype=bool, index=df.index)
    compete = df["spellings_compete"] if "spellings_compete" in df else pd.Series(False, index=df.index)
    values = [adoptable(p, s, flag(c) is True) for p, s, c in zip(df["problem"], df["strategy"], compete)]
    return pd.Series(values, index=df.index, dtype=bool)


def leader_of(ok: pd.DataFrame):
    """(leader, runner-up, margin) among `ok`, the correct adoptable cases of one comparison group,
    by the rule of `reports.leader`; (None, None, None) when empty. Every place that names a
    winner (the verdicts, the heatmap, the ranking figures, the findings) takes it from here."""
    first_two = [r for _, r in ok.sort_values(["median_s", "strategy"]).head(2).iterrows()]
    ranked = standing(first_two, pairwise_ratio, lambda r: r.value)
    margin = ranked.ratio
    if ranked.swapped:
        # the medians over all rounds and the per-block ratio of the two disagree (they are within
        # noise of each other): the direct, interleaved comparison of the two decides
        upper = 1 / margin.lo if margin.lo > 0 else math.inf
        margin = Ratio(1 / margin.value, 1 / margin.hi, upper, margin.method)
    return ranked.leader, ranked.runner_up, margin


def adoptable_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The rows of `df` a verdict, finding or figure may name as a winner (`adoptable_mask`)."""
    return df[adoptable_mask(df)] if len(df) else df


def verdict_of(g: pd.DataFrame) -> Verdict:
    """The verdict for one group (cases of one instance, backend, compile_mode, dtype, device, env),
    labelled (`reports.labels.add_labels`)."""
    first = g.iloc[0]
    problem = first["problem"]
    compete = spellings_compete(g)
    spelling = g["strategy"].map(lambda s: spelling_of(problem, s) is not None).astype(bool)
    floor = g["strategy"].map(lambda s: is_floor(problem, s)).astype(bool)
    considered = g if compete else g[~spelling]  # without competing spellings, they are a spread only
    candidates = g[[adoptable(problem, s, compete) for s in g["strategy"]]]
    ok = candidates[candidates["status"] == "ok"].sort_values(["median_s", "strategy"])
    proper = candidates[~spelling[candidates.index]]  # what `avoid` lists: strategies, not spellings
    baseline = baseline_of(problem)
    common = dict(
        **{k: first[k] for k in GROUP},
        problem=problem,
        family=first["family"],
        label=first["label"],
        order_key=first["order_key"],
        adoptable=tuple(candidates["strategy"]),
        strategies_ok=len(ok),
        baseline=baseline,
        spellings=tuple(spellings_list(g, problem)),
        spellings_compete=compete,
    )
    if ok.empty:
        return Verdict(
            **common, why_none=why_none(candidates, considered), avoid=tuple(avoid_list(proper, None))
        )
    best, runner, margin = leader_of(ok)
    base = ok[ok["strategy"] == baseline]
    if len(base):
        speedup, baseline_status = speedup_over(base.iloc[0], best), None
    else:
        status = candidates.loc[candidates["strategy"] == baseline, "status"]
        speedup, baseline_status = None, (status.iloc[0] if len(status) else "not run")
    floors = considered[floor[considered.index] & (considered["status"] == "ok")]
    caveats, settled = _caveats(best, runner, margin)
    return Verdict(
        **common,
        leader=best["strategy"],
        leader_spelling_of=spelling_of(problem, best["strategy"]),
        median_s=float(best["median_s"]),
        speedup=speedup,
        baseline_status=baseline_status,
        runner_up=runner["strategy"] if runner is not None else None,
        margin=margin,
        settled=settled,
        caveats=tuple(caveats),
        avoid=tuple(avoid_list(proper, float(best["median_s"]))),
        floor=floors.sort_values("median_s").iloc[0]["strategy"] if len(floors) else None,
        over_group_floor=float(best["median_s"] / floors["median_s"].min()) if len(floors) else None,
        peak_memory_bytes=_number(best, "peak_memory_bytes"),
        memory_method=best.get("memory_method") if isinstance(best.get("memory_method"), str) else None,
        xla_temp_bytes=_number(best, "xla_temp_bytes"),
        compile_s=_number(best, "compile_s"),
        compile_parallel=bool(best.get("compile_parallel") == True),  # noqa: E712 - NaN, None: False
    )


def verdicts(df: pd.DataFrame) -> list[Verdict]:
    """One verdict per group (GROUP), in reading order (family, size, framework, default compile
    mode first, dtype, device)."""
    if df.empty:
        return []
    if "label" not in df:
        df = add_labels(df)
    out = [verdict_of(g) for _, g in df.groupby(GROUP, dropna=False, sort=False)]

    def order(v: Verdict):
        default = 0 if DEFAULT_COMPILE_MODE.get(v.backend) == v.compile_mode else 1
        return (
            v.order_key,
            str(v.backend),
            default,
            *(str(getattr(v, k)) for k in ("compile_mode", "dtype", "device", "env_id")),
        )

    return sorted(out, key=order)


def verdict_frame(items: list[Verdict]) -> pd.DataFrame:
    """Verdicts as a frame, one row each (`Verdict.row`)."""
    if not items:
        empty = Verdict(*[""] * 9, order_key=(), adoptable=(), strategies_ok=0, baseline=None)
        return pd.DataFrame(columns=list(empty.row()))
    return pd.DataFrame([v.row() for v in items])


def decide(df: pd.DataFrame) -> pd.DataFrame:
    """The verdicts of `df` as a frame, one row per group, in reading order."""
    return verdict_frame(verdicts(df))
