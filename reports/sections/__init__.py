"""Report sections: each module defines `render(ctx) -> str | None` (None: nothing to show).

Sections appear in the order of `SECTION_MODULES`: the decision first (the first screen), then
one glance per question (a figure with its findings in words), the code behind the verdicts, and
the full data on demand. A problem-specific section (UDE, order scaling, PINN operators, the
ranking against network size) lives in its own module and returns None when the run has no rows
of its problem, so one renderer serves any mix of runs.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from reports.labels import add_labels
from reports.verdict import Verdict, verdict_frame, verdicts

SECTION_MODULES = (
    "reports.sections.decision",
    "reports.sections.overview",
    "reports.sections.penalty",
    "reports.sections.compile_modes",
    "reports.sections.ranking",
    "reports.sections.devices",
    "reports.sections.architectures",
    "reports.sections.ude",
    "reports.sections.order_scaling",
    "reports.sections.pinn",
    "reports.sections.pde",
    "reports.sections.paper",
    "reports.sections.cost",
    "reports.sections.correctness",
    "reports.sections.code",
    "reports.sections.data",
    "reports.sections.environment",
)


@dataclass
class Context:
    """What every section sees: the tidy frame (one row per case), environments, run dirs, and
    the CSV written beside the page (linked from it)."""

    df: pd.DataFrame
    envs: list[dict] = field(default_factory=list)
    run_dirs: list[Path] = field(default_factory=list)
    csv_path: Path | None = None

    @cached_property
    def latest(self) -> pd.DataFrame:
        """One row per case and environment (a case re-run on the same machine: the last run),
        with readable labels (`reports.labels.add_labels`)."""
        return add_labels(self.df.drop_duplicates(["case_id", "env_id"], keep="last"))

    @property
    def ok(self) -> pd.DataFrame:
        latest = self.latest
        return latest[latest["status"] == "ok"]

    @cached_property
    def verdicts(self) -> list[Verdict]:
        """One verdict per comparison group (`reports.verdict`), computed once for every section."""
        return verdicts(self.latest)

    @cached_property
    def decisions(self) -> pd.DataFrame:
        """The verdicts as a frame (`reports.verdict.verdict_frame`), for the findings."""
        return verdict_frame(self.verdicts)


def render_sections(ctx: Context) -> list[tuple[str, str, str]]:
    """(anchor, title, html) for every section that has something to show."""
    out = []
    for name in SECTION_MODULES:
        module = importlib.import_module(name)
        body = module.render(ctx)
        if body:
            out.append((module.ANCHOR, module.TITLE, body))
    return out
