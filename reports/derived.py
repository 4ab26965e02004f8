"""Columns derived from the measured ones: the cost ratios every case is judged by.

- `grad_over_loss` = time(loss + gradient) / time(loss): the cheap-gradient principle says a few
  units for reverse mode; larger values show the cost of differentiating through the derivative.
- `over_floor` = time / time(floor): the floor is the fastest case of the strategy the problem's
  catalogue marks as its floor (`hand-derived` for the penalty: fused, hand-written Jacobian
  propagation and adjoint) of the same problem instance, device, dtype and environment, over
  both frameworks and compile modes. (The decision's `over_group_floor`, `reports.verdict`, divides
  the leader's time by the floor of its own framework and compile mode: another quantity.)
- `dropped`: for a case the race stopped timing, "≥ 3.1× the fastest, dropped after 5 blocks"
  (its time rests on those blocks; it is read as that bound, not as a precise time).
"""

from __future__ import annotations

import pandas as pd

from reports.roles import is_floor
from reports.verdict import dropped_text

FLOOR_GROUP = ["instance", "device", "dtype", "env_id"]


def add_derived(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    if "loss_median_s" in df:
        df["grad_over_loss"] = df["median_s"] / df["loss_median_s"]
    else:
        df["grad_over_loss"] = float("nan")
    floor = [is_floor(p, s) for p, s in zip(df["problem"], df["strategy"])]
    ok = df[(df["status"] == "ok") & pd.Series(floor, index=df.index, dtype=bool)]
    floors = ok.groupby(FLOOR_GROUP, dropna=False)["median_s"].min().rename("floor_median_s")
    df = df.drop(columns=["floor_median_s"], errors="ignore").join(floors, on=FLOOR_GROUP)
    df["over_floor"] = df["median_s"] / df["floor_median_s"]
    df["dropped"] = [dropped_text(r) for _, r in df.iterrows()] if len(df) else []
    return df
