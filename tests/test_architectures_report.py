"""The report's section "Does the architecture change the answer?" on synthetic records: a kind
whose fastest strategy differs from the MLP's is said to change the answer, one with the same
winner keeps it, and a strategy unsupported on the kind is named with its status."""

from __future__ import annotations

import pandas as pd

from reports.sections import Context
from reports.sections.architectures import comparisons, render, summary
from tests.synthetic import record

MLP = {"layers": "2-32-32-2", "activation": "tanh", "points": 1000}
FOURIER = {**MLP, "model": "fourier", "features": 16, "scale": 10.0}
PIRATE = {
    "layers": "2-32-2",
    "activation": "tanh",
    "points": 1000,
    "model": "pirate",
    "n_blocks": 1,
    "alpha": 0.5,
}

TIMES = {  # (strategy -> seconds) per network
    "mlp": {"rev-over-rev": 1.0e-3, "fwd-over-rev": 0.8e-3, "taylor": 1.5e-3, "hand-derived": 0.2e-3},
    "fourier": {"rev-over-rev": 2.0e-3, "fwd-over-rev": 3.0e-3, "taylor": 2.6e-3},
    "pirate": {"rev-over-rev": 4.0e-3, "fwd-over-rev": 2.0e-3},
}


def _records():
    out = []
    for options, times in ((MLP, TIMES["mlp"]), (FOURIER, TIMES["fourier"]), (PIRATE, TIMES["pirate"])):
        for strategy, t in times.items():
            out.append(record("penalty", options, "jax", strategy, t, dtype="float32"))
    out.append(record("penalty", PIRATE, "jax", "taylor", status="unsupported", dtype="float32"))
    return out


def test_rankings_beside_the_mlps_in_words():
    rows = comparisons(pd.DataFrame(_records())).set_index("network")
    fourier = rows.loc["fourier 2-32-32-2 (features=16, scale=10)"]
    assert fourier["ranking"] == "rev-over-rev < taylor (1.3×) < fwd-over-rev (1.5×)"
    assert fourier["mlp_ranking"] == "fwd-over-rev < rev-over-rev (1.25×) < taylor (1.88×)"
    assert (
        "the answer changes: rev-over-rev is fastest, 2nd on the MLP, not fwd-over-rev" in fourier["change"]
    )
    pirate = rows.loc["pirate 2-32-2 (n_blocks=1, alpha=0.5)"]
    assert pirate["change"].startswith("same fastest strategy as on the MLP (fwd-over-rev by 2×)")
    assert "taylor: unsupported" in pirate["change"]
    assert "hand-derived" not in fourier["mlp_ranking"]  # the floor is MLP-only: not ranked


def test_summary_and_section_render_only_with_another_kind():
    rows = comparisons(pd.DataFrame(_records()))
    assert summary(rows) == [
        "fourier, jax: the fastest strategy differs from the MLP's in 1 of 1 settings "
        "(rev-over-rev is fastest).",
        "pirate, jax: the fastest strategy is the MLP's in all 1 settings.",
    ]
    assert "the answer changes" in render(Context(_frame(_records())))
    assert render(Context(_frame([r for r in _records() if "model" not in r]))) is None


def _frame(records):
    return pd.DataFrame(records).assign(env_id="synthetic01")
