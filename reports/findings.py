"""Findings in words, computed from the data: the sentences the report puts next to its figures
and the README repeats. No number in them is typed by hand; each function takes the labelled tidy
frame (`reports.labels.add_labels`) or the decisions (`reports.verdict.decide`) and returns
plain-text sentences (empty when its data is absent).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd

from backends import DEFAULT_COMPILE_MODE
from reports.crossover import crossovers, has_size_data, panels, size_contexts, size_frame, winners
from reports.growth import growth_summary, polynomial_fit
from reports.labels import config_of, family, format_option, format_range, framework, series_label
from reports.roles import strategy_order
from reports.text import count_label, factor, format_bytes, format_seconds, percent
from reports.verdict import AVOID_FACTOR, adoptable_rows, flag, leader_of, pairwise_ratio, short_reason


def _join(items: list[str]) -> str:
    items = [i for i in items if i]
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _end(sentence: str) -> str:
    """A sentence with one final stop (none after an ellipsis or another stop)."""
    return sentence if sentence.endswith((".", "…", "!", "?")) else sentence + "."


def _ok(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["status"] == "ok"] if "status" in df else df


def _where(backend: str, compile_mode: str, dtype: str, device: str, several_devices: bool = False) -> str:
    text = f"{framework(backend)} {compile_mode}, {dtype}"
    return text + (f" on {device}" if several_devices else "")


# -- winners along a size ---------------------------------------------------------------------
def winners_along(rows: pd.DataFrame, x: str) -> list[tuple[float, str, float, str | None]]:
    """(x, fastest strategy, its median, the runner-up if within noise of it) at every measured x
    of `rows` (ok, adoptable, one comparison context per x)."""
    out = []
    for value, g in rows.groupby(x, sort=True):
        best, runner, margin = leader_of(g)
        tie = runner["strategy"] if runner is not None and margin.within_noise is True else None
        out.append((float(value), best["strategy"], float(best["median_s"]), tie))
    return out


def ties_text(winners, option: str) -> str:
    """The sizes whose runner-up is within noise of the fastest, as a clause of the sentence:
    "; within noise of it: rev-over-rev at 10,000 points"."""
    ties = [f"{w[3]} at {_option_fmt(option)(w[0])}" for w in winners if len(w) > 3 and w[3]]
    return f"; within noise of it: {_join(ties)}" if ties else ""


def describe_winners(winners: list[tuple], option: str) -> str:
    """Where each strategy is the fastest along a size, e.g. "taylor up to k = 2, nested-rev from
    k = 3" or "fwd-over-rev at every measured size (d = 2–32)"; `option` names the size (points,
    order, dim, or n_params for the parameter count)."""
    if not winners:
        return ""
    fmt = _option_fmt(option)
    segments: list[list] = []
    for x, strategy, *_ in winners:
        if segments and segments[-1][0] == strategy:
            segments[-1][2] = x
        else:
            segments.append([strategy, x, x])
    if len(segments) == 1:
        s, lo, hi = segments[0]
        return f"{s} at every measured size ({_size_range(option, lo, hi)})"
    parts = []
    for i, (s, lo, hi) in enumerate(segments):
        if i == 0:
            parts.append(f"{s} up to {fmt(hi)}" if lo != hi else f"{s} at {fmt(lo)}")
        elif i == len(segments) - 1:
            parts.append(f"{s} from {fmt(lo)}")
        else:
            parts.append(f"{s} from {fmt(lo)} to {fmt(hi)}" if lo != hi else f"{s} at {fmt(lo)}")
    return ", ".join(parts)


def _option_fmt(option: str) -> Callable[[float], str]:
    """How a size reads: "10,000 points", "k = 3", "2.27k parameters"."""
    if option == "n_params":
        return lambda v: f"{count_label(v)} parameters"
    return lambda v: format_option(option, _int(float(v)))


def _size_range(option: str, lo: float, hi: float) -> str:
    if option == "n_params":
        return f"{count_label(lo)}–{count_label(hi)} parameters" if lo != hi else _option_fmt(option)(lo)
    return format_range(option, _int(float(lo)), _int(float(hi)))


# -- the decision as a whole ------------------------------------------------------------------
def overview_findings(decisions: pd.DataFrame) -> list[str]:
    if decisions.empty:
        return []
    out = []
    rec = decisions[decisions["recommended"].map(lambda v: isinstance(v, str))]
    counts = rec["recommended"].value_counts()
    if len(rec):
        top = _join([f"{name} in {n}" for name, n in counts.head(4).items()])
        out.append(
            f"{len(rec)} of {len(decisions)} comparisons have a recommendation: {top}"
            + (" (others fewer)." if len(counts) > 4 else ".")
        )
    none = decisions[~decisions.index.isin(rec.index)]
    for _, r in none.iterrows():
        out.append(
            f"No recommendation for {family(r['problem'])}, {r['label']}, "
            f"{_where(r['backend'], r['compile_mode'], r['dtype'], r['device'])}: {r['why_none']}."
        )
    noise = rec[rec["within_noise"].map(lambda v: flag(v) is True)]
    if len(noise):
        out.append(
            f"In {len(noise)} of {len(rec)} the runner-up is within noise of the recommended strategy "
            '(marked "within noise" in the table): either will do there.'
        )
    floors = pd.to_numeric(rec["over_group_floor"], errors="coerce").dropna()
    if len(floors):
        spread = (
            factor(floors.min())
            if factor(floors.min()) == factor(floors.max())
            else f"{factor(floors.min())}–{factor(floors.max())} (median {factor(floors.median())})"
        )
        out.append(
            f"Against the hand-written floor of the same framework and compile mode ({len(floors)} "
            f"comparisons), the recommended AD strategy takes {spread} its time."
        )
    return out


# -- seed penalty -------------------------------------------------------------------------------
def penalty_findings(df: pd.DataFrame) -> list[str]:
    ok = adoptable_rows(_ok(df[df["problem"] == "penalty"]))
    if ok.empty:
        return []
    several = ok["device"].nunique() > 1
    ok = ok.assign(_config=ok["instance"].map(lambda i: config_of(i, "points")))
    several_configs = ok["_config"].nunique() > 1
    out = []
    for (config, backend, compile_mode, dtype, device), g in ok.groupby(
        ["_config", "backend", "compile_mode", "dtype", "device"]
    ):
        winners = winners_along(g, "points")
        text = describe_winners(winners, "points") + ties_text(winners, "points")
        where = _where(backend, compile_mode, dtype, device, several) + (
            f", {config}" if several_configs and config else ""
        )
        out.append(f"{where}: fastest {text}.")
    slowest = []
    for _, g in ok.groupby(["instance", "backend", "compile_mode", "dtype", "device"]):
        g = g.sort_values("median_s")
        if len(g) > 1:
            slowest.append((g.iloc[-1]["strategy"], g.iloc[-1]["median_s"] / g.iloc[0]["median_s"]))
    if slowest:
        names = {s for s, _ in slowest}
        ratios = [r for _, r in slowest]
        if len(names) == 1:
            out.append(
                f"The slowest everywhere is {names.pop()}: {factor(min(ratios))}–{factor(max(ratios))} "
                "the fastest."
            )
        else:
            worst = max(slowest, key=lambda t: t[1])
            out.append(
                f"The slowest strategy varies ({_join(sorted(names))}); at worst {worst[0]} takes "
                f"{factor(worst[1])} the fastest."
            )
    return out


# -- compile modes --------------------------------------------------------------------------------
MODE_NAMES = {("torch", "compile"): "torch.compile", ("jax", "eager"): "JAX without jit (eager)"}


def compile_pairs(df: pd.DataFrame) -> pd.DataFrame:
    """Each case measured in a non-default compile mode next to the same case in the default
    mode: statuses, medians, compile times, speed-up (default / mode) and break-even calls."""
    if df.empty:
        return pd.DataFrame()
    df = df.assign(_default=df["backend"].map(DEFAULT_COMPILE_MODE))
    key = ["instance", "backend", "strategy", "dtype", "device", "env_id"]
    base = df[df["compile_mode"] == df["_default"]].set_index(key)
    rows = []
    for _, r in df[df["compile_mode"] != df["_default"]].iterrows():
        k = tuple(r[c] for c in key)
        if k not in base.index:
            continue
        b = base.loc[k]
        b = b.iloc[0] if isinstance(b, pd.DataFrame) else b
        row = {c: r[c] for c in key + ["compile_mode", "problem", "label", "status", "error"]}
        row.update(
            default_status=b["status"],
            default_s=b.get("median_s"),
            mode_s=r.get("median_s"),
            compile_s=r.get("compile_s"),
            default_compile_s=b.get("compile_s"),
        )
        if r["status"] == "ok" and b["status"] == "ok":
            ratio = pairwise_ratio(b, r, paired=False)  # different groups: not measured interleaved
            row.update(
                speedup=ratio.value, speedup_lo=ratio.lo, speedup_hi=ratio.hi, within_noise=ratio.within_noise
            )
            saved = b["median_s"] - r["median_s"]
            extra = (r.get("compile_s") or 0) - (b.get("compile_s") or 0)
            useful = saved > 0 and extra > 0 and ratio.within_noise is not True
            row["break_even_calls"] = extra / saved if useful else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def compile_findings(df: pd.DataFrame) -> list[str]:
    pairs = compile_pairs(df)
    if pairs.empty:
        return []
    out = []
    several_dtypes = pairs["dtype"].nunique() > 1
    for (backend, compile_mode), g in pairs.groupby(["backend", "compile_mode"], sort=True):
        mode = MODE_NAMES.get((backend, compile_mode), f"{framework(backend)} {compile_mode}")
        order = strategy_order(list(dict.fromkeys(g["problem"])), set(g["strategy"]))
        for strategy in order:
            s = g[g["strategy"] == strategy]
            timed = s[s["speedup"].notna()] if "speedup" in s else s.iloc[0:0]
            where = lambda r: r["label"] + (f" {r['dtype']}" if several_dtypes else "")  # noqa: E731
            if len(timed):
                effects = _join(
                    [f"{_speed(r['speedup'], r['within_noise'])} at {where(r)}" for _, r in timed.iterrows()]
                )
                text = f"{mode}, {strategy}: {effects}"
                compile_s = pd.to_numeric(timed["compile_s"], errors="coerce").dropna()
                if len(compile_s):
                    lo, hi = compile_s.min(), compile_s.max()
                    text += (
                        f"; compiling takes {lo:.2g} s"
                        if lo == hi
                        else f"; compiling takes {lo:.2g}–{hi:.2g} s"
                    )
                calls = pd.to_numeric(timed.get("break_even_calls"), errors="coerce").dropna()
                if len(calls):
                    text += f", repaid after {_calls(calls.min())}" + (
                        f"–{_calls(calls.max())}" if len(calls) > 1 else ""
                    )
                    text += " calls"
                out.append(text + ".")
            broken = s[(s["status"] != "ok") & (s["default_status"] == "ok")]
            by_reason: dict[str, list[str]] = {}
            for _, r in broken.iterrows():
                by_reason.setdefault(short_reason(r), []).append(where(r))
            for reason, labels in by_reason.items():
                out.append(_end(f"{mode}, {strategy} at {_join(labels)} (correct without it): {reason}"))
    return out


def _speed(speedup: float, within_noise=None) -> str:
    if flag(within_noise) is True:
        return f"no measurable change ({factor(speedup)})"
    return f"{factor(speedup)} faster" if speedup >= 1 else f"{factor(1 / speedup)} slower"


def _calls(n: float) -> str:
    return f"{n:,.0f}" if n >= 10 else f"{n:.2g}"


# -- UDE ---------------------------------------------------------------------------------------------
def ude_findings(df: pd.DataFrame) -> list[str]:
    ok = _ok(df[df["problem"] == "lv-ude"])
    if ok.empty:
        return []
    out = []
    has_parts = "penalty_median_s" in ok and ok["penalty_median_s"].notna().any()
    for (dtype, _device), g in ok.groupby(["dtype", "device"], sort=True):
        fastest = {}
        for backend, b in g.groupby("backend", sort=True):
            best = b.sort_values("median_s").iloc[0]
            fastest[backend] = best
            if has_parts and b["penalty_median_s"].notna().any():
                share = (b["penalty_median_s"] / b["median_s"]).dropna()
                share_best = percent(best["penalty_median_s"] / best["median_s"])
                step = f"{best['label']} with {best['strategy']}, {format_seconds(best['median_s'])}"
                text = f"{framework(backend)} ({dtype}): the penalty takes {share_best} of the fastest step"
                text += f" ({step})"
                if len(share) > 1 and percent(share.min()) != percent(share.max()):
                    text += f", {percent(share.min())}–{percent(share.max())} over its {len(share)} cases"
                out.append(text + ".")
        if len(fastest) == 2 and {"jax", "torch"} <= set(fastest):
            ratio = fastest["torch"]["median_s"] / fastest["jax"]["median_s"]
            out.append(
                f"The fastest PyTorch step ({fastest['torch']['label']}) takes {factor(ratio)} the fastest "
                f"JAX step ({fastest['jax']['label']}) in {dtype}."
            )
    return out


# -- growth with the derivative order and the dimension ----------------------------------------------
def _config_groups(df: pd.DataFrame, problem: str, x: str):
    rows = adoptable_rows(_ok(df[df["problem"] == problem]))
    if rows.empty or x not in rows:
        return
    rows = rows.assign(**{x: pd.to_numeric(rows[x], errors="coerce")})
    rows = rows[rows[x].notna()]
    if rows.empty:
        return
    others = [
        c for c in ("points", "width", "depth", "samples", "layers", "activation") if c in rows and c != x
    ]
    keys = others + ["dtype", "device"]
    for key, g in rows.groupby([k for k in keys], dropna=False, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        parts = [format_option(k, _int(v)) for k, v in zip(others, key) if pd.notna(v)]
        yield ", ".join(parts + [str(key[-2])]), g


def _int(v):
    return int(v) if isinstance(v, float) and v.is_integer() else v


def order_findings(df: pd.DataFrame) -> list[str]:
    out = []
    for config, g in _config_groups(df, "derivative-order", "order") or []:
        fits = []
        for (backend, strategy, compile_mode), s in g.groupby(["backend", "strategy", "compile_mode"]):
            summary = growth_summary(s["order"], s["median_s"])
            if summary["fit_points"] >= 2:
                fits.append((series_label(backend, strategy, compile_mode), summary, s["order"]))
        if not fits:
            continue
        fits.sort(key=lambda f: -f[1]["factor_per_step"])
        k = g["order"]
        parts = []
        for name, summ, _ in fits:
            text = f"{name} {factor(summ['factor_per_step'])}"
            if summ["better_fit"] == "polynomial":
                text += f" (better fit: polynomial, degree {summ['degree']:.1f})"
            parts.append(text)
        out.append(
            f"Time per derivative order ({config}, k = {int(k.min())}–{int(k.max())}, growth factor "
            f"e^b of the fit log t = a + b·k): {_join(parts)}."
        )
        for (backend, compile_mode), b in g.groupby(["backend", "compile_mode"], sort=True):
            winners = winners_along(b, "order")
            text = describe_winners(winners, "order") + ties_text(winners, "order")
            out.append(f"{framework(backend)} {compile_mode}: fastest {text}.")
    return out


def pinn_findings(df: pd.DataFrame) -> list[str]:
    out = []
    for problem in ("poisson", "biharmonic"):
        for config, g in _config_groups(df, problem, "dim") or []:
            name = family(problem)
            for (backend, compile_mode), b in g.groupby(["backend", "compile_mode"], sort=True):
                winners = winners_along(b, "dim")
                text = describe_winners(winners, "dim") + ties_text(winners, "dim")
                out.append(f"{name} ({config}), {framework(backend)} {compile_mode}: fastest {text}.")
                if winners and "collapsed-taylor" in set(b["strategy"]):
                    out.append(_collapsed_sentence(name, framework(backend), winners))
                degrees = []
                for strategy, s in b.groupby("strategy", sort=True):
                    fit = polynomial_fit(s["dim"], s["median_s"])
                    if fit is not None and fit.points >= 2:
                        degrees.append(f"{strategy} d^{fit.slope:.1f}")
                if degrees:
                    out.append(
                        f"{name}, {framework(backend)}: time grows like {_join(degrees)} "
                        "(slope of log time against log d)."
                    )
    return out


def _collapsed_sentence(name: str, fw: str, winners) -> str:
    """The dimension from which collapsed Taylor mode is the fastest for every larger d."""
    dims = [w[0] for w in winners]
    since = None
    for x, strategy, *_ in reversed(winners):
        if strategy != "collapsed-taylor":
            break
        since = x
    if since is None:
        return f"{name}, {fw}: collapsed Taylor mode is not the fastest at the largest d = {dims[-1]:g}."
    if since == dims[0]:
        return f"{name}, {fw}: collapsed Taylor mode wins from the smallest measured d = {since:g} on."
    return f"{name}, {fw}: collapsed Taylor mode wins from d = {since:g} on."


# -- correctness and failures ---------------------------------------------------------------------
def correctness_findings(df: pd.DataFrame) -> list[str]:
    checked = df[df["status"].isin(["ok", "wrong"])]
    if checked.empty:
        return []
    out = []
    ok = checked[checked["status"] == "ok"]
    errors = pd.to_numeric(ok.get("grad_rel_err"), errors="coerce")
    tol = pd.to_numeric(ok.get("tolerance"), errors="coerce")
    text = f"{len(ok)} of {len(checked)} checked cases matched their float64 reference and were timed"
    used = (errors / tol).replace([math.inf, -math.inf], math.nan).dropna()
    if len(used):
        text += f"; the closest to its bound used {percent(used.max())} of its tolerance"
    out.append(text + ".")
    for dtype, g in ok.groupby("dtype", sort=True):
        e = pd.to_numeric(g["grad_rel_err"], errors="coerce").dropna()
        if len(e):
            out.append(f"{dtype}: gradient errors {e.min():.1e}–{e.max():.1e}.")
    for _, r in checked[checked["status"] == "wrong"].iterrows():
        out.append(
            f"Wrong (not timed): {family(r['problem'])}, {r['label']}, "
            f"{series_label(r['backend'], r['strategy'], r['compile_mode'])} {r['dtype']}: "
            f"{short_reason(r)[len('wrong: ') :]}."
        )
    return out


def failure_findings(df: pd.DataFrame) -> list[str]:
    bad = df[~df["status"].isin(["ok", "wrong"])]
    if bad.empty:
        return []
    out = []
    for status, g in bad.groupby("status", sort=True):
        by_reason: dict[str, list[str]] = {}
        for _, r in g.iterrows():
            message = short_reason(r).split(": ", 1)[-1] if r.get("error") else status
            series = series_label(r["backend"], r["strategy"], r["compile_mode"])
            who = f"{series} ({family(r['problem'])}, {r['label']})"
            by_reason.setdefault(message, []).append(who)
        if status in ("unsupported", "skipped"):
            out.append(f"{len(g)} {status}, for {len(by_reason)} reason(s) (listed in the failures table).")
            continue
        for message, who in by_reason.items():
            shown = _join(who[:4]) + (f" and {len(who) - 4} more" if len(who) > 4 else "")
            out.append(_end(f"{status}: {shown}: {message}"))
    return out


MEMORY_NOTEWORTHY = 2**20
"""Peak memory below this is left out of the memory findings: CPU resident memory is measured in
pages, so small peaks differ by page rounding rather than by strategy."""


def memory_findings(df: pd.DataFrame) -> list[str]:
    """Where one strategy needs far more memory than the others of the same instance: the largest
    peak against the median of that instance's peaks."""
    ok = adoptable_rows(_ok(df))
    if ok.empty or "peak_memory_bytes" not in ok or ok["peak_memory_bytes"].notna().sum() == 0:
        return []
    out = []
    for (problem, label), g in ok.groupby(["problem", "label"], sort=False):
        g = g[g["peak_memory_bytes"].notna() & (g["peak_memory_bytes"] > 0)]
        if len(g) < 3:
            continue
        hi = g.loc[g["peak_memory_bytes"].idxmax()]
        median = g["peak_memory_bytes"].median()
        if hi["peak_memory_bytes"] >= MEMORY_NOTEWORTHY and hi["peak_memory_bytes"] >= AVOID_FACTOR * median:
            out.append(
                f"{family(problem)}, {label}: "
                f"{series_label(hi['backend'], hi['strategy'], hi['compile_mode'])} "
                f"{hi['dtype']} needs {format_bytes(hi['peak_memory_bytes'])} at its peak, "
                f"{factor(hi['peak_memory_bytes'] / median)} the median of this instance's cases "
                f"({format_bytes(median)})."
            )
    return out


# -- where the ranking changes with size --------------------------------------------------------
def _size_text(x: str, value: float, approximate: bool = False) -> str:
    """A size along `x`; `approximate` (an interpolated crossover): two significant digits,
    "about 1.9k parameters"."""
    if approximate:
        value = float(f"{value:.2g}")
    text = _option_fmt(x)(value)
    return f"about {text}" if approximate else text


def size_sentence(rows: pd.DataFrame, x: str, where: str) -> str:
    """The fastest adoptable strategy along `x` (n_params or points) and where the curves cross."""
    win = winners(rows, x)
    if not win:
        return ""
    text = describe_winners(win, x)
    cross = [c for c in crossovers(rows, x) if c.x is not None]
    if cross:
        text += "; the curves cross at " + ", ".join(
            f"{_size_text(x, c.x, approximate=True)} ({c.before} → {c.after})" for c in cross
        )
    return f"{where}: fastest {text}."


def ranking_findings(df: pd.DataFrame, x: str | None = None) -> list[str]:
    """For every run context with several network sizes: along the parameter count at each number
    of points (`x` = "n_params") and along the points for each network (`x` = "points"); both
    when `x` is None."""
    if not has_size_data(df):
        return []
    out = []
    for title, g in size_contexts(size_frame(df)):
        for axis, fixed in (("n_params", "points"), ("points", "n_params")):
            if x not in (None, axis):
                continue
            for (backend, compile_mode), value in panels(g, axis, fixed):
                rows = g[
                    (g["backend"] == backend) & (g["compile_mode"] == compile_mode) & (g[fixed] == value)
                ]
                fixed_text = _size_text(fixed, value)
                if fixed == "n_params":
                    fixed_text = f"{rows['network'].iloc[0]} ({fixed_text})"
                where = f"{title}, {framework(backend)} {compile_mode}, {fixed_text}"
                sentence = size_sentence(rows[rows["adoptable"]], axis, where)
                if sentence:
                    out.append(sentence)
    return out
