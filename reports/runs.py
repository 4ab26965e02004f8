"""Run directories (and external results) as one tidy frame, one row per case and run."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from bench.cases import instance_of
from bench.results import load_records
from reports.derived import add_derived
from reports.external import load_external
from reports.schema import COLUMNS

DECISION_FILE = "decision.json"
"""A run directory's decision settings, written by `bench.advise`: {"spellings_compete": true} makes
every spelling a candidate for the answer (one user configuration: the answer is the code to
write). Runs without it (the named sets) keep a strategy's name for its kept spelling."""


def spellings_compete(run: Path) -> bool:
    path = Path(run) / DECISION_FILE
    if not path.exists():
        return False
    try:
        return json.loads(path.read_text()).get("spellings_compete") is True
    except (json.JSONDecodeError, AttributeError):
        return False


def with_pinn_dim(df: pd.DataFrame) -> pd.DataFrame:
    """`dim` on the PINN rows whose instance names its network by `layers` (d = the input width),
    so that every d-scaling figure and finding sees it."""
    if "layers" not in df:
        return df
    pinn = df["problem"].isin(["poisson", "biharmonic"]) & df["layers"].notna()
    if "dim" in df:
        pinn &= df["dim"].isna()
    if not pinn.any():
        return df
    df = df.copy()
    df.loc[pinn, "dim"] = df.loc[pinn, "layers"].map(lambda v: int(str(v).split("-")[0]))
    return df


def load_runs(run_dirs: list[Path], external: list[Path] = ()) -> tuple[pd.DataFrame, list[dict]]:
    """Tidy frame of all records (the last record of a case in a run wins), plus validated
    external rows (labelled `[external]`), and the runs' environments."""
    frames, envs = [], []
    for run in run_dirs:
        run = Path(run)
        records = load_records(run / "results.jsonl")
        env = {}
        if (run / "environment.json").exists():
            env = json.loads((run / "environment.json").read_text())
            envs.append({"run_id": run.name, **env})
        if records:
            df = pd.DataFrame(records).drop_duplicates("case_id", keep="last")
            df["run_id"] = run.name
            df["env_id"] = env.get("env_id", "")
            df["instance"] = df["case_id"].map(instance_of)
            df["spellings_compete"] = spellings_compete(run)
            frames.append(with_pinn_dim(df))
    for path in external:
        frames.append(load_external(path))
        envs.append(
            {
                "run_id": f"external:{Path(path).name}",
                "env_id": f"external:{Path(path).stem}",
                "cpu": "measured elsewhere (see the rows' source column)",
            }
        )
    if not frames:
        return pd.DataFrame(columns=list(COLUMNS)), envs
    df = pd.concat(frames, ignore_index=True)
    for col in COLUMNS:
        if col not in df:
            df[col] = None
    df = add_derived(df)
    extra = [c for c in df.columns if c not in COLUMNS]
    return df[list(COLUMNS) + extra], envs
