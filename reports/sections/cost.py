"""Cost of each strategy: gradient/loss ratio, ratio to the hand-derived floor, peak memory."""

from __future__ import annotations

import matplotlib.pyplot as plt
import seaborn as sns

from reports.html import figure_png, img, table

ANCHOR, TITLE = "cost", "Cost ratios and memory"

NOTE = (
    "<p class='note'><b>grad/loss</b> = time(loss + weight gradient) / time(loss alone) with the "
    "same input-derivative method (the cheap-gradient principle predicts a small constant for "
    "reverse mode). <b>× floor</b> = time / time of the fastest hand-derived, fused implementation "
    "(no AD) of the same instance, device and dtype. <b>peak memory</b>: extra resident memory at "
    "the peak of one evaluation (CPU: kernel high-water mark after malloc_trim and a reset; "
    "CUDA: allocator peak), the largest of three calls, measured the same way for both frameworks; "
    "for JAX, XLA's planned scratch memory (<b>xla_temp_bytes</b>) is shown beside it as a "
    "cross-check (allocators can serve a warm call from memory kept from an earlier one). "
    "<b>program_ops</b>: HLO instructions of the compiled JAX program / nodes of PyTorch's "
    "captured graph.</p>"
)


def memory_figure(ok) -> str | None:
    data = ok[ok["peak_memory_bytes"].notna()].copy()
    if data.empty:
        return None
    data["MiB"] = data["peak_memory_bytes"] / 2**20
    data["size"] = data["instance"] + " " + data["dtype"]
    g = sns.catplot(data=data, kind="bar", x="MiB", y="strategy", hue="backend", col="size",
                    col_wrap=2, height=3, aspect=1.6, sharex=False, errorbar=None)  # fmt: skip
    g.set_axis_labels("peak extra memory of one evaluation [MiB]", "")
    fig = g.figure
    out = figure_png(fig)
    plt.close(fig)
    return out


def render(ctx) -> str | None:
    ok = ctx.ok
    if ok.empty or "over_floor" not in ok:
        return None
    cols = ["instance", "device", "dtype", "backend", "variant", "strategy", "median_s",
            "loss_median_s", "grad_over_loss", "over_floor", "peak_memory_bytes", "xla_temp_bytes",
            "program_ops"]  # fmt: skip
    body = NOTE
    png = memory_figure(ok) if "peak_memory_bytes" in ok else None
    if png:
        body += img(png, "peak memory per strategy")
    body += table(ok.sort_values(["instance", "device", "dtype", "backend", "over_floor"]), cols, "cost")
    return body
