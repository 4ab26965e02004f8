"""Does the architecture change the answer? For each model kind other than the MLP (Fourier
features, modified MLP, PirateNet, residual net), the ranking of the strategies per problem,
framework, compile mode, dtype and points, beside the MLP's ranking in the same setting, with
the changes said in words. Shown only when a run measured a kind other than `mlp`."""

from __future__ import annotations

import html

import pandas as pd

from problems import PROBLEMS, catalogue
from reports.html import findings, table
from reports.roles import adoptable

ANCHOR, TITLE = "architectures", "Does the architecture change the answer?"

SETTING = ["problem", "backend", "compile_mode", "dtype", "device", "points"]
"""What must match for a kind's ranking to be set beside the MLP's."""

KIND_OPTIONS = ["features", "scale", "n_blocks", "alpha"]

NOTE = (
    "<p class='note'>Each row ranks the correct AD strategies (median time per loss + weight gradient, "
    "fastest first; in brackets each one's time over the fastest) on one network kind, beside the "
    "ranking on the MLP measured in the same setting (problem, framework, compile mode, dtype, points). "
    "The hand-derived floor is MLP-only and left out of both. A strategy that is not correct or not "
    "supported on the kind but is on the MLP is named with its status.</p>"
)


def model_label(row) -> str:
    """ "fourier 2-256-256-1 (features=128, scale=10)": the kind, its widths and its options."""
    model = row.get("model") if isinstance(row.get("model"), str) else "mlp"
    extra = [f"{k}={_number(row[k])}" for k in KIND_OPTIONS if k in row and pd.notna(row[k])]
    layers = row.get("layers") if isinstance(row.get("layers"), str) else ""
    return f"{model} {layers}".strip() + (f" ({', '.join(extra)})" if extra else "")


def _number(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _is_ad(problem: str, strategy: str) -> bool:
    """A ranked strategy: in the problem's catalogue and adoptable (`reports.roles.adoptable`:
    not the floor, not a named spelling)."""
    if problem not in PROBLEMS or strategy not in catalogue(PROBLEMS[problem].kind):
        return False
    return adoptable(problem, strategy)


def ranking(rows: pd.DataFrame) -> list[tuple[str, float]]:
    """[(strategy, time / fastest)] of the correct strategies, fastest first."""
    ok = rows[rows["status"] == "ok"].sort_values("median_s")
    if ok.empty:
        return []
    best = float(ok["median_s"].iloc[0])
    return [(s, float(t) / best) for s, t in zip(ok["strategy"], ok["median_s"])]


def ranking_text(ranks: list[tuple[str, float]]) -> str:
    return " < ".join(f"{s} ({r:.3g}×)" if i else s for i, (s, r) in enumerate(ranks)) or "none correct"


def change_words(kind: list[tuple[str, float]], mlp: list[tuple[str, float]], statuses: dict) -> str:
    """The difference between a kind's ranking and the MLP's, in words."""
    if not kind or not mlp:
        return "no correct strategy to compare" if not kind else "the MLP has no correct strategy here"
    words = []
    if kind[0][0] == mlp[0][0]:
        lead = f" by {kind[1][1]:.3g}×" if len(kind) > 1 else ""
        words.append(f"same fastest strategy as on the MLP ({kind[0][0]}{lead})")
    else:
        mlp_place = [s for s, _ in mlp].index(kind[0][0]) + 1 if kind[0][0] in dict(mlp) else None
        where = f", {_ordinal(mlp_place)} on the MLP" if mlp_place else ""
        words.append(f"the answer changes: {kind[0][0]} is fastest{where}, not {mlp[0][0]}")
    shared = [s for s, _ in kind if s in dict(mlp)]
    mlp_order = [s for s, _ in mlp if s in shared]
    moved = [f"{s} {_ordinal(mlp_order.index(s) + 1)} → {_ordinal(i + 1)}" for i, s in enumerate(shared)
             if mlp_order.index(s) != i]  # fmt: skip
    if moved and kind[0][0] == mlp[0][0]:
        words.append("the order below it changes (" + ", ".join(moved) + ")")
    elif not moved:
        words.append("the same order" if len(shared) > 1 else "")
    lost = [f"{s}: {statuses[s]}" for s, _ in mlp if s not in dict(kind) and s in statuses]
    if lost:
        words.append("not correct or not run on this kind: " + ", ".join(lost))
    return "; ".join(w for w in words if w)


def _ordinal(n: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(n, f"{n}th")


def comparisons(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (setting, non-MLP network): its ranking, the MLP's, and the change in words."""
    df = df.copy()
    if "model" not in df:
        return pd.DataFrame()
    df["model"] = df["model"].fillna("mlp")
    df = df[[_is_ad(p, s) for p, s in zip(df["problem"], df["strategy"])]]
    keys = [k for k in SETTING if k in df]
    df["network"] = [model_label(r) for _, r in df.iterrows()]
    out = []
    for setting, group in df.groupby(keys, sort=True, dropna=False):
        mlp_rows = group[group["model"] == "mlp"]
        mlp_ranks = ranking(mlp_rows)
        mlp_label = ", ".join(sorted(set(mlp_rows["network"]))) or "no MLP in this setting"
        for network, rows in group[group["model"] != "mlp"].groupby("network", sort=True):
            statuses = dict(zip(rows["strategy"], rows["status"]))
            ranks = ranking(rows)
            out.append({**dict(zip(keys, setting)), "network": network, "ranking": ranking_text(ranks),
                        "mlp": mlp_label, "mlp_ranking": ranking_text(mlp_ranks),
                        "change": change_words(ranks, mlp_ranks, statuses),
                        "changed": bool(ranks and mlp_ranks and ranks[0][0] != mlp_ranks[0][0])})  # fmt: skip
    return pd.DataFrame(out)


def summary(rows: pd.DataFrame) -> list[str]:
    """Per kind and framework: how often the fastest strategy differs from the MLP's."""
    if rows.empty:
        return []
    sentences = []
    rows = rows.assign(kind=[n.split()[0] for n in rows["network"]])
    for (kind, backend), g in rows.groupby(["kind", "backend"], sort=True):
        changed = g[g["changed"]]
        if changed.empty:
            sentences.append(
                f"{kind}, {backend}: the fastest strategy is the MLP's in all {len(g)} settings."
            )
        else:
            which = "; ".join(sorted({c.split(":", 1)[1].split(",")[0].strip() for c in changed["change"]}))
            sentences.append(f"{kind}, {backend}: the fastest strategy differs from the MLP's in "
                             f"{len(changed)} of {len(g)} settings ({which}).")  # fmt: skip
    return sentences


def _rows(ctx) -> pd.DataFrame:
    df = ctx.latest
    if "model" not in df or not (df["model"].fillna("mlp") != "mlp").any():
        return pd.DataFrame()
    return comparisons(df)


def sentences(ctx) -> list[str]:
    """The findings of this section (the README's too, `reports.results`)."""
    rows = _rows(ctx)
    return summary(rows) if len(rows) else []


def render(ctx) -> str | None:
    rows = _rows(ctx)
    if rows.empty:
        return None
    cols = [c for c in [*SETTING, "network", "ranking", "mlp", "mlp_ranking", "change"] if c in rows]
    body = NOTE + findings(sentences(ctx), "Findings")
    return body + table(rows.drop(columns=["changed"]), cols) if cols else body + html.escape("")
