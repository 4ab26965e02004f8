"""The seed penalty: time per strategy per backend (bars, IQR whiskers), one panel per size."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from reports.html import figure_png, img, table

ANCHOR, TITLE = "penalty", "Seed penalty: time per strategy"


def time_figure(ok) -> str:
    panels = sorted(ok["panel"].unique())
    strategies = sorted(ok["strategy"].unique())
    backends = sorted(ok["backend"].unique())
    ncols = min(2, len(panels))
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(7 * ncols, 0.45 * len(strategies) * nrows + 1.5),
                             squeeze=False)  # fmt: skip
    palette = dict(zip(backends, sns.color_palette("colorblind", len(backends))))
    height = 0.8 / len(backends)
    for ax, panel in zip(axes.flat, panels):
        sub = ok[ok["panel"] == panel]
        for b, backend in enumerate(backends):
            for s, strategy in enumerate(strategies):
                row = sub[(sub["backend"] == backend) & (sub["strategy"] == strategy)]
                if row.empty:
                    continue
                y = s - 0.4 + (b + 0.5) * height
                med = row["median_s"].iloc[0] * 1e3
                q1 = row["q1_s"].iloc[0] * 1e3 if "q1_s" in row and row["q1_s"].notna().all() else med
                q3 = row["q3_s"].iloc[0] * 1e3 if "q3_s" in row and row["q3_s"].notna().all() else med
                ax.barh(y, med, height=height, color=palette[backend], label=backend)
                ax.plot([q1, q3], [y, y], color="black", lw=1.2)
        ax.set_yticks(range(len(strategies)), strategies)
        ax.set_xscale("log")
        ax.set_xlabel("median time per loss+gradient [ms] (log); whisker: IQR")
        ax.set_title(panel)
        ax.invert_yaxis()
        handles, labels = ax.get_legend_handles_labels()
        uniq = dict(zip(labels, handles))
        ax.legend(uniq.values(), uniq.keys(), loc="lower right", fontsize=8)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    fig.tight_layout()
    return figure_png(fig)


def scaling_figure(ok) -> str | None:
    """Log-log time against the number of points, one line per strategy, a panel per backend."""
    data = ok[
        ok.groupby(["backend", "strategy", "dtype", "device", "variant"])["points"].transform("nunique") >= 2
    ]
    if data.empty:
        return None
    data = data.assign(ms=data["median_s"] * 1e3, line=data["strategy"] + " (" + data["variant"] + ")")
    g = sns.relplot(
        data=data, kind="line", x="points", y="ms", hue="line", style="dtype", col="backend",
        row="device", marker="o", height=3.6, aspect=1.3, facet_kws={"sharey": False},
    )  # fmt: skip
    g.set(xscale="log", yscale="log")
    g.set_axis_labels("collocation points (log)", "median ms per loss+gradient (log)")
    return figure_png(g.figure)


def render(ctx) -> str | None:
    ok = ctx.ok[ctx.ok["problem"] == "penalty"].copy()
    if ok.empty:
        return None
    scaling = scaling_figure(ok)
    ok["panel"] = ok["points"].astype(int).astype(str) + " points, " + ok["dtype"] + ", " + ok["device"]
    # One bar per backend × strategy: the default compile mode (other modes are in the table).
    default = ok["variant"].isin(["jit"]) | ((ok["backend"] == "torch") & (ok["variant"] == "eager"))
    ok = ok[default | ~ok.duplicated(["panel", "backend", "strategy"], keep=False)]
    ok = ok.sort_values("median_s").drop_duplicates(["panel", "backend", "strategy"])
    body = img(time_figure(ok), "time per strategy")
    if scaling:
        body += "<h3>Scaling with the number of points</h3>" + img(scaling, "time against points")
    cols = ["points", "dtype", "device", "backend", "strategy", "variant", "median_s", "iqr_s", "compile_s"]
    body += table(ok.sort_values(["points", "dtype", "backend", "median_s"]), cols, "penalty")
    return body
