"""Report sections: each module defines `render(ctx) -> str | None` (None: nothing to show).

Sections appear in the order of `SECTION_MODULES`. A problem-specific section (UDE training
curves, order scaling...) lives in its own module here and returns None when the run has no rows
of its problem, so one renderer serves any mix of runs.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

SECTION_MODULES = (
    "reports.sections.summary",
    "reports.sections.penalty",
    "reports.sections.ude",
    "reports.sections.order_scaling",
    "reports.sections.pinn",
    "reports.sections.cost",
    "reports.sections.correctness",
    "reports.sections.failures",
    "reports.sections.environment",
)


@dataclass
class Context:
    """What every section sees: the tidy frame (one row per case), environments, run dirs."""

    df: pd.DataFrame
    envs: list[dict] = field(default_factory=list)
    run_dirs: list[Path] = field(default_factory=list)

    @property
    def latest(self) -> pd.DataFrame:
        """One row per case and environment (a case re-run on the same machine: the last run)."""
        return self.df.drop_duplicates(["case_id", "env_id"], keep="last")

    @property
    def ok(self) -> pd.DataFrame:
        latest = self.latest
        return latest[latest["status"] == "ok"]


def render_sections(ctx: Context) -> list[tuple[str, str, str]]:
    """(anchor, title, html) for every section that has something to show."""
    out = []
    for name in SECTION_MODULES:
        module = importlib.import_module(name)
        body = module.render(ctx)
        if body:
            out.append((module.ANCHOR, module.TITLE, body))
    return out
