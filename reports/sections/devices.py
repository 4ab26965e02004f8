"""CPU versus GPU: where the ranking of strategies changes between devices.

For every comparison measured on more than one device (same instance, framework, compile mode
and dtype), the strategies' median times per device side by side: which is fastest on each, how
the order changes, and each strategy's speed-up from one device to the other. Renders nothing
when the runs hold one device only (give `reports.render` a CPU run and a GPU run together).
Times on two devices come from two processes, usually two machines: they are absolute medians,
not interleaved ratios, so a change of order between close strategies is only as sure as the
medians' spread (the table keeps each device's ratio to its own baseline, which is interleaved).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from bench.cases import instance_of
from reports.figures import log_axis
from reports.findings import _join
from reports.html import details, figure, findings, table
from reports.labels import compile_mode_label, family
from reports.palette import strategy_colour
from reports.text import factor
from reports.verdict import adoptable_rows

ANCHOR, TITLE = "devices", "CPU versus GPU: where the ranking changes"

NOTE = (
    "<p class='note'>Each panel is one comparison (instance, framework, compile mode, dtype) measured on "
    "both devices: each strategy's median time per loss + weight gradient on each device (log scale), a "
    "line per strategy. Lines that cross are strategies whose order changes between devices. The two "
    "devices' medians come from separate runs (usually separate machines): a crossing of two strategies "
    "within a few per cent of each other is within noise.</p>"
)

KEYS = ["instance", "problem", "label", "backend", "compile_mode", "dtype"]


def device_pairs(ok: pd.DataFrame) -> pd.DataFrame:
    """One row per comparison × strategy × device, for the comparisons that ran on ≥ 2 devices,
    with `rank` (1: fastest on that device, hand-derived floor and spellings excluded from the
    ranking) and `speedup` (the median on the first device, in sorted order (cpu), over this one)."""
    ok = adoptable_rows(ok)
    if ok.empty or ok["device"].nunique() < 2:
        return pd.DataFrame()
    ok = ok.assign(instance=ok["case_id"].map(instance_of))
    rows = []
    for key, group in ok.groupby(KEYS, sort=False):
        devices = sorted(group["device"].unique())
        if len(devices) < 2:
            continue
        shared = set.intersection(*(set(group.loc[group["device"] == d, "strategy"]) for d in devices))
        group = group[group["strategy"].isin(shared)]
        if len(shared) < 2:
            continue
        for device in devices:
            sub = group[group["device"] == device].sort_values("median_s")
            for rank, (_, r) in enumerate(sub.iterrows(), start=1):
                first = group[(group["device"] == devices[0]) & (group["strategy"] == r["strategy"])]
                speedup = float(first["median_s"].iloc[0]) / r["median_s"]
                rows.append({**dict(zip(KEYS, key)), "strategy": r["strategy"], "device": device,
                             "rank": rank, "median_s": r["median_s"], "speedup": speedup})  # fmt: skip
    return pd.DataFrame(rows)


def _comparison_name(key: tuple) -> str:
    _, problem, label, backend, compile_mode, dtype = key
    return f"{family(problem)}, {label}, {compile_mode_label(backend, compile_mode)}, {dtype}"


def device_findings(pairs: pd.DataFrame) -> list[str]:
    """Per comparison: the fastest strategy on each device, whether the order changed, and the
    range of the strategies' speed-ups between the devices."""
    out = []
    for key, group in pairs.groupby(KEYS, sort=False):
        devices = sorted(group["device"].unique())
        first, others = devices[0], devices[1:]
        order = {d: list(group[group["device"] == d].sort_values("rank")["strategy"]) for d in devices}
        for other in others:
            fastest = f"fastest on {first}: {order[first][0]}, on {other}: {order[other][0]}"
            moved = [s for s in order[first] if order[first].index(s) != order[other].index(s)]
            if order[first][0] != order[other][0]:
                change = f"the winner changes ({fastest})"
            elif moved:
                change = f"the same winner ({order[first][0]}), but {_join(moved)} change place"
            else:
                change = f"the same order ({fastest.split(':')[1].split(',')[0].strip()} first)"
            speedups = group[group["device"] == other].set_index("strategy")["speedup"]
            best, worst = speedups.idxmax(), speedups.idxmin()
            out.append(
                f"{_comparison_name(key)}: {change}. On {other}, time relative to {first}: {best} gains "
                f"most ({factor(speedups[best])} faster), {worst} least ({factor(speedups[worst])})."
            )
    return out


def device_figure(pairs: pd.DataFrame):
    """Slope chart per comparison: median time on each device, one line per strategy."""
    keys = list(dict.fromkeys(map(tuple, pairs[KEYS].itertuples(index=False))))
    ncols = min(3, len(keys))
    nrows = int(np.ceil(len(keys) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.6 * nrows), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        sub = pairs[(pairs[KEYS] == pd.Series(key, index=KEYS)).all(axis=1)]
        devices = sorted(sub["device"].unique())
        for strategy, rows in sub.groupby("strategy"):
            rows = rows.set_index("device").reindex(devices)
            colour = strategy_colour(strategy)
            ax.plot(range(len(devices)), rows["median_s"], "o-", color=colour, lw=1.4, ms=5)
            ax.annotate(strategy, (len(devices) - 1, rows["median_s"].iloc[-1]), xytext=(4, 0),
                        textcoords="offset points", fontsize=7, va="center")  # fmt: skip
        log_axis(ax, "y", list(sub["median_s"]), unit="seconds")
        ax.set_xticks(range(len(devices)), devices)
        ax.set_xlim(-0.3, len(devices) - 0.3)
        ax.set_title(_comparison_name(key), fontsize=8)
        ax.set_ylabel("median time (log)")
        ax.grid(True, axis="y", which="both", alpha=0.3)
    for ax in list(axes.flat)[len(keys) :]:
        ax.remove()
    fig.tight_layout()
    return fig


def sentences(ctx) -> list[str]:
    """The findings of this section (the README's too, `reports.results`)."""
    pairs = device_pairs(ctx.ok)
    return device_findings(pairs) if len(pairs) else []


def render(ctx) -> str | None:
    pairs = device_pairs(ctx.ok)
    if pairs.empty:
        return None
    body = NOTE + figure(device_figure(pairs), "median time per device, one line per strategy")
    body += findings(sentences(ctx), "Findings")
    cols = ["problem", "label", "backend", "compile_mode", "dtype", "strategy", "device", "rank", "median_s",
            "speedup"]  # fmt: skip
    body += details("Every strategy on every device", table(pairs, cols, "devices"))
    return body
