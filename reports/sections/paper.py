"""Against the collapsed-Taylor paper (Dangel, Siebert, Zeinhofer and Walther, "Collapsing Taylor
Mode Automatic Differentiation", NeurIPS 2025): for the exact Laplacian at D = 50 on their
50-768-768-512-512-1 tanh network, the paper reports collapsed Taylor mode about 2.1× faster
than nested backpropagation and folx's forward Laplacian about 2.0×, on an RTX 6000. Here: the
same ratios from our own medians of that network (nested-rev over collapsed-taylor in PyTorch,
over forward-laplacian in JAX), per device, dtype and compile mode. Renders nothing when the run
has no case of that network; every number shown is measured, none is taken from the paper but
its two reference figures."""

from __future__ import annotations

import pandas as pd

from reports.html import findings, table
from reports.labels import compile_mode_label
from reports.text import factor

ANCHOR, TITLE = "paper", "Against the collapsed-Taylor paper"

PAPER_LAYERS = "50-768-768-512-512-1"
BASELINE = "nested-rev"
PAPER = {  # strategy: (the paper's name for it, its reported speed-up over nested, the framework here)
    "collapsed-taylor": ("collapsed Taylor mode", 2.1, "torch"),
    "forward-laplacian": ("folx's forward Laplacian", 2.0, "jax"),
}

NOTE = (
    "<p class='note'>The paper's figures: the exact Laplacian at D = 50 on the 50-768-768-512-512-1 tanh "
    "network, RTX 6000, collapsed Taylor ≈ 2.1× and folx ≈ 2.0× faster than nested backpropagation. Ours "
    "time the Poisson loss <i>and its weight gradient</i> (the operator inside a training step), so the "
    "ratios answer the same question one step later; <b>speed-up</b> = median of nested-rev / median of "
    "the strategy, same run, device, dtype and compile mode.</p>"
)


def paper_rows(ok: pd.DataFrame) -> pd.DataFrame:
    """Our speed-up over nested-rev of each strategy the paper reports, on the paper's network."""
    if ok.empty or "layers" not in ok:
        return pd.DataFrame()
    net = ok[(ok["problem"] == "poisson") & (ok["layers"] == PAPER_LAYERS)]
    rows = []
    for (backend, compile_mode, dtype, device, points), group in net.groupby(
        ["backend", "compile_mode", "dtype", "device", "points"], sort=True
    ):
        times = group.set_index("strategy")["median_s"]
        for strategy, (name, reported, framework) in PAPER.items():
            if backend == framework and strategy in times and BASELINE in times:
                nested, own = times[BASELINE], times[strategy]
                rows.append(
                    {
                        "backend": backend,
                        "compile_mode": compile_mode,
                        "dtype": dtype,
                        "device": device,
                        "points": points,
                        "strategy": strategy,
                        "paper_name": name,
                        "nested_s": nested,
                        "strategy_s": own,
                        "speedup": nested / own,
                        "paper_speedup": reported,
                    }
                )
    return pd.DataFrame(rows)


def paper_findings(rows: pd.DataFrame, device_names: dict[str, str]) -> list[str]:
    out = []
    for _, r in rows.iterrows():
        where = device_names.get(r["device"]) or r["device"]
        out.append(
            f"{r['paper_name']} ({compile_mode_label(r['backend'], r['compile_mode'])}, {r['dtype']}, "
            f"{where}, "
            f"{int(r['points'])} points): {factor(r['speedup'])} the speed of nested-rev here; "
            f"the paper reports ≈ {factor(r['paper_speedup'])} on an RTX 6000."
        )
    return out


def _device_names(latest: pd.DataFrame) -> dict[str, str]:
    names = {}
    if "device_name" in latest:
        for device, name in zip(latest["device"], latest["device_name"]):
            if isinstance(name, str) and name:
                names.setdefault(device, f"{device} ({name})")
    return names


def sentences(ctx) -> list[str]:
    """The findings of this section (the README's too, `reports.results`)."""
    rows = paper_rows(ctx.ok)
    return paper_findings(rows, _device_names(ctx.latest)) if len(rows) else []


def render(ctx) -> str | None:
    rows = paper_rows(ctx.ok)
    if rows.empty:
        return None
    cols = ["strategy", "backend", "compile_mode", "dtype", "device", "points", "nested_s", "strategy_s",
            "speedup", "paper_speedup"]  # fmt: skip
    return NOTE + findings(sentences(ctx), "Measured here") + table(rows, cols, "paper")
