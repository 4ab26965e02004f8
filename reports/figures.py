"""What every figure shares: axes with units in their tick labels, log scales where values span
decades, and the layout checks the tests apply to every figure (no two text boxes overlap, no
empty facet, every axis labelled).

Figure functions in the section modules return a matplotlib `Figure`; `reports.html.figure_png`
encodes it. Keeping them figures (not PNGs) is what lets the tests measure their rendered text.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.legend import Legend  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

from reports.text import bytes_label, count_label, seconds_label  # noqa: E402

plt.rcParams.update(
    {
        "font.size": 9,
        "axes.titlesize": 10,
        "axes.labelsize": 9,
        "legend.fontsize": 8,
        "xtick.labelsize": 8,
        "ytick.labelsize": 8,
        "figure.dpi": 100,
    }
)


FORMATTERS = {
    "seconds": seconds_label,
    "bytes": bytes_label,
    "count": count_label,
    "ratio": lambda v: f"{v:.3g}×",
}


def log_axis(ax, which: str, values: Iterable[float], unit: str = "seconds", base: int = 10) -> None:
    """A log axis whose tick labels carry their unit ("100 µs", "2 MiB"): majors at 1, 2, 5 × 10ⁿ
    when the values span less than two decades, at powers of ten otherwise; minor ticks unlabelled
    (labelled minors are what overlapped)."""
    axis = ax.yaxis if which == "y" else ax.xaxis
    (ax.set_yscale if which == "y" else ax.set_xscale)("log", base=base)
    v = [x for x in values if x is not None and np.isfinite(x) and x > 0]
    span = math.log10(max(v) / min(v)) if len(v) > 1 else 0.0
    if unit == "bytes":  # powers of two: 4 KiB, 16 KiB, 1 MiB rather than 97.7 KiB
        axis.set_major_locator(LogLocator(base=2, numticks=7))
    elif base == 10:
        subs = (1.0, 2.0, 5.0) if span < 1.2 else (1.0, 3.0) if span < 2 else (1.0,)
        axis.set_major_locator(LogLocator(base=10, subs=subs, numticks=12))
    formatter = FORMATTERS[unit]
    axis.set_major_formatter(FuncFormatter(lambda x, _pos: formatter(x)))
    axis.set_minor_formatter(NullFormatter())


def power_of_two_ticks(lo: float, hi: float, most: int = 6) -> list[float]:
    """Powers of two from lo to hi, every 2ᵏ-th so that at most `most` remain (memory ticks: 4 KiB,
    64 KiB, 1 MiB … rather than 9.77 KiB, 97.7 KiB)."""
    first, last = math.ceil(math.log2(lo)), math.floor(math.log2(hi))
    step = max(1, math.ceil((last - first + 1) / most))
    return [2.0**k for k in range(first, last + 1, step)]


# -- layout checks ---------------------------------------------------------------------------------
def _drawn_tick_labels(ax) -> list[Text]:
    """Tick labels matplotlib actually draws: visible, non-empty, inside the view interval."""
    out = []
    for axis in (ax.xaxis, ax.yaxis):
        lo, hi = sorted(axis.get_view_interval())
        span = hi - lo
        for tick in axis.get_major_ticks() + axis.get_minor_ticks():
            loc = tick.get_loc()
            if loc is None or not (lo - 1e-9 * abs(span) <= loc <= hi + 1e-9 * abs(span)):
                continue
            for label in (tick.label1, tick.label2):
                if label.get_visible() and label.get_text().strip():
                    out.append(label)
    return out


def text_boxes(fig) -> list[tuple[str, Bbox]]:
    """(text, rendered bounding box) of every visible text of `fig`: titles, axis labels, drawn
    tick labels, annotations, and each legend as one box."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = []
    skip = set()
    for legend in fig.findobj(Legend):
        skip.update(id(t) for t in legend.get_texts())
        skip.add(id(legend.get_title()))
        if legend.get_visible():
            boxes.append(("legend", legend.get_window_extent(renderer)))
    for ax in fig.axes:
        ticks = ax.xaxis.get_majorticklabels() + ax.xaxis.get_minorticklabels()
        ticks += ax.yaxis.get_majorticklabels() + ax.yaxis.get_minorticklabels()
        for tick in [
            *ax.xaxis.get_major_ticks(),
            *ax.xaxis.get_minor_ticks(),
            *ax.yaxis.get_major_ticks(),
            *ax.yaxis.get_minor_ticks(),
        ]:
            skip.update((id(tick.label1), id(tick.label2)))
        skip.update(id(t) for t in ticks)
        if ax.get_visible():
            boxes.extend((t.get_text(), t.get_window_extent(renderer)) for t in _drawn_tick_labels(ax))
    for text in fig.findobj(Text):
        if id(text) in skip or not text.get_visible() or not text.get_text().strip():
            continue
        if text.axes is not None and not text.axes.get_visible():
            continue
        boxes.append((text.get_text(), text.get_window_extent(renderer)))
    return boxes


def overlapping_texts(fig, tolerance_px: float = 1.0) -> list[tuple[str, str]]:
    """Pairs of texts whose rendered boxes overlap by more than `tolerance_px` in both directions."""
    boxes = text_boxes(fig)
    pairs = []
    for i, (a, box_a) in enumerate(boxes):
        for b, box_b in boxes[i + 1 :]:
            width = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
            height = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
            if width > tolerance_px and height > tolerance_px:
                pairs.append((a, b))
    return pairs


def is_colorbar(ax) -> bool:
    return ax.get_label() == "<colorbar>" or getattr(ax, "_colorbar", None) is not None


def empty_axes(fig) -> list[str]:
    """Titles of visible axes that show no data (an empty facet)."""
    return [
        ax.get_title() or f"axes {i}"
        for i, ax in enumerate(fig.axes)
        if ax.get_visible() and not is_colorbar(ax) and not ax.has_data()
    ]


def unlabelled_axes(fig) -> list[str]:
    """Visible axes with an axis that neither it nor an axes sharing that axis labels (every axis
    states what it shows and in which unit; a colour bar states its quantity)."""
    out = []
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible():
            continue
        name = ax.get_title() or f"axes {i}"
        if is_colorbar(ax):
            if not (ax.get_ylabel().strip() or ax.get_xlabel().strip()):
                out.append(f"colour bar of {name}")
            continue
        for label, shared in (
            (ax.get_xlabel, ax.get_shared_x_axes()),
            (ax.get_ylabel, ax.get_shared_y_axes()),
        ):
            getter = label.__name__
            siblings = [s for s in shared.get_siblings(ax) if s.get_visible()]
            if not any(getattr(s, getter)().strip() for s in siblings):
                out.append(f"{name}: {getter[4:]}")
    return out
