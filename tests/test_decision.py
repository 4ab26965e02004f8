"""The decision (`reports.decision`): the floor never wins, every group has a recommendation or says
why not, what to avoid and why, and the pairwise uncertainty of speed-up and margin — from
interleaved blocks where records carry them, from the medians' notches where they do not."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reports.decision import main, terminal_table
from reports.runs import load_runs
from reports.verdict import decide, flag, pairwise_ratio, speedup_over, verdicts
from reports.wording import memory_text
from tests.synthetic import blocks, full_records, record, write_run

EXAMPLE = Path(__file__).parents[1] / "reports" / "example" / "cpu-2026-11-25"
P101 = {"points": 101}


def _decide(tmp_path, records):
    df, _ = load_runs([write_run(tmp_path / "run", records)])
    return decide(df)


def _row(decisions, **where):
    mask = np.ones(len(decisions), dtype=bool)
    for k, v in where.items():
        mask &= decisions[k] == v
    assert mask.sum() == 1, where
    return decisions[mask].iloc[0]


def test_the_floor_never_wins_and_is_quoted_as_a_reference(tmp_path):
    d = _decide(tmp_path, full_records())
    rec = d[d["recommended"].map(lambda v: isinstance(v, str))]
    assert "hand-derived" not in set(rec["recommended"])
    r = _row(d, instance="penalty[points=101]", backend="jax", dtype="float32")
    assert r["recommended"] == "fwd-over-rev" and r["runner_up"] == "rev-over-rev"
    assert r["floor"] == "hand-derived" and r["over_group_floor"] == pytest.approx(0.8 / 0.5)
    assert r["speedup"] == pytest.approx(1.0 / 0.8) and r["speedup_method"] == "notches"


def test_every_group_has_a_recommendation_or_says_why_not(tmp_path):
    records = full_records() + [
        record(
            "penalty", {"points": 7}, "jax", "rev-over-rev", status="wrong", grad_rel_err=1e-3, tolerance=1e-5
        ),
        record("penalty", {"points": 7}, "jax", "taylor", status="failed", error="ValueError: no rule\nmore"),
        record("penalty", {"points": 7}, "jax", "hand-derived", 1e-5),
        record("penalty", {"points": 9}, "jax", "rev-over-rev-func", status="unsupported"),
        record("penalty", {"points": 11}, "torch", "hand-derived", 1e-5),
    ]
    d = _decide(tmp_path, records)
    for _, r in d.iterrows():
        assert isinstance(r["recommended"], str) or r["why_none"], r.to_dict()
    wrong = _row(d, instance="penalty[points=7]")
    assert (
        not isinstance(wrong["recommended"], str)
        and "no AD strategy passed the reference check" in wrong["why_none"]
    )
    assert "1 wrong" in wrong["why_none"] and "1 failed" in wrong["why_none"]
    assert "can run" in _row(d, instance="penalty[points=9]")["why_none"]
    assert "only the hand-written floor" in _row(d, instance="penalty[points=11]")["why_none"]


def test_avoid_lists_wrong_failed_out_of_memory_and_slow_strategies_with_the_reason(tmp_path):
    records = [
        record("penalty", P101, "torch", "rev-over-rev", 1e-4, compile_mode="compile"),
        record("penalty", P101, "torch", "fwd-over-fwd", 2e-3, compile_mode="compile"),  # 20× slower
        record("penalty", P101, "torch", "taylor", 5e-4, compile_mode="compile"),  # 5×: fine
        record(
            "penalty",
            P101,
            "torch",
            "fd-central",
            status="wrong",
            compile_mode="compile",
            grad_rel_err=8.5e-4,
            tolerance=6.7e-4,
        ),
        record(
            "penalty",
            P101,
            "torch",
            "rev-over-fwd",
            status="failed",
            compile_mode="compile",
            error="RuntimeError: double backward at runtime_wrappers.py:3560\ntraceback",
        ),
        record("penalty", P101, "torch", "fwd-over-rev", status="out of memory", compile_mode="compile"),
        record("penalty", P101, "torch", "rev-over-rev-func", status="unsupported", compile_mode="compile"),
    ]
    r = _decide(tmp_path, records).iloc[0]
    reasons = {a["strategy"]: a["reason"] for a in r["avoid_list"]}
    assert reasons == {
        "fwd-over-fwd": "20× slower",
        "fd-central": "wrong: error 8.5e-04 > tolerance 6.7e-04",
        "rev-over-fwd": "failed: RuntimeError: double backward",
        "fwd-over-rev": "out of memory: synthetic out of memory",
    }
    assert "fd-central (wrong" in r["avoid"] and r["recommended"] == "rev-over-rev"


def test_pairwise_ratio_from_interleaved_blocks():
    fast = {"strategy": "a", "median_s": 1.0, "block_medians_s": [1.0] * 5}
    slow = {"strategy": "b", "median_s": 1.2, "block_medians_s": [1.0, 1.1, 1.2, 1.3, 1.4]}
    r = pairwise_ratio(slow, fast)
    assert r.method == "blocks" and r.value == pytest.approx(1.2)
    assert (r.lo, r.hi) == pytest.approx((1.04, 1.36))  # 10th and 90th percentiles of the block ratios
    assert r.within_noise is False
    # Drift that moves both strategies together cancels in the per-block ratio:
    drift = [1.0, 1.3, 0.8, 1.5, 0.9, 1.2]
    steady = pairwise_ratio({"block_medians_s": blocks(1.1, drift)}, {"block_medians_s": blocks(1.0, drift)})
    assert steady.lo == pytest.approx(1.1) and steady.hi == pytest.approx(1.1) and not steady.within_noise
    noisy = pairwise_ratio({"block_medians_s": [1.05, 0.95, 1.1, 0.97]}, {"block_medians_s": [1.0] * 4})
    assert noisy.within_noise is True


def test_pairwise_ratio_falls_back_to_notches_without_comparable_blocks():
    # notch = 1.57 · IQR / √rounds = 1.57 · 0.1 / 4
    fast = {"median_s": 1.0, "iqr_s": 0.1, "rounds": 16}
    clear = pairwise_ratio({"median_s": 1.1, "iqr_s": 0.1, "rounds": 16}, fast)
    notch = 1.57 * 0.1 / 4
    assert clear.method == "notches" and clear.lo == pytest.approx((1.1 - notch) / (1.0 + notch))
    assert clear.within_noise is False
    assert pairwise_ratio({"median_s": 1.05, "iqr_s": 0.1, "rounds": 16}, fast).within_noise is True
    unequal = pairwise_ratio(
        {**fast, "median_s": 1.1, "block_medians_s": [1.1] * 3}, {**fast, "block_medians_s": [1.0] * 4}
    )
    assert unequal.method == "notches"
    unpaired = pairwise_ratio(
        {**fast, "block_medians_s": [2.0] * 4}, {**fast, "block_medians_s": [1.0] * 4}, paired=False
    )
    assert unpaired.method == "notches"
    unknown = pairwise_ratio({"median_s": 2.0}, {"median_s": 1.0})
    assert unknown.method == "none" and unknown.within_noise is None and unknown.value == 2.0


def test_speedup_uses_the_harness_ratio_to_the_baseline():
    baseline = {"strategy": "rev-over-rev", "median_s": 2.0}
    best = {
        "strategy": "taylor",
        "median_s": 1.0,
        "ratio_to_baseline": 0.5,
        "ratio_to_baseline_lo": 0.4,
        "ratio_to_baseline_hi": 0.625,
        "baseline_strategy": "rev-over-rev",
    }
    s = speedup_over(baseline, best)
    assert (
        s.method == "harness" and s.value == pytest.approx(2.0) and (s.lo, s.hi) == pytest.approx((1.6, 2.5))
    )
    other = speedup_over(baseline, {**best, "baseline_strategy": "nested-rev"})
    assert other.method == "none" and other.value == pytest.approx(2.0)
    assert speedup_over(baseline, baseline).method == "same"


def test_decisions_with_the_timing_harness_fields(tmp_path):
    drift = [1.0, 1.2, 0.9, 1.1, 1.0, 1.3]
    common = {"dtype": "float32"}
    records = [
        record(
            "penalty",
            P101,
            "jax",
            "rev-over-rev",
            1.0e-4,
            block_medians_s=blocks(1.0e-4, drift),
            ratio_to_baseline=1.0,
            ratio_to_baseline_lo=1.0,
            ratio_to_baseline_hi=1.0,
            baseline_strategy="rev-over-rev",
            **common,
        ),
        record(
            "penalty",
            P101,
            "jax",
            "fwd-over-rev",
            0.99e-4,
            block_medians_s=blocks(0.99e-4, drift[::-1]),
            ratio_to_baseline=0.99,
            ratio_to_baseline_lo=0.8,
            ratio_to_baseline_hi=1.2,
            baseline_strategy="rev-over-rev",
            contended=True,
            load_note="load average 3.1 on 2 cores",
            **common,
        ),
        record("penalty", P101, "jax", "taylor", 2e-4, block_medians_s=blocks(2e-4, drift), **common),
    ]
    r = _decide(tmp_path, records).iloc[0]
    assert r["recommended"] == "fwd-over-rev" and r["runner_up"] == "rev-over-rev"
    assert r["margin_method"] == "blocks" and flag(r["within_noise"]) is True  # drift in opposite directions
    assert r["speedup_method"] == "harness" and r["speedup_lo"] == pytest.approx(1 / 1.2)
    assert any("competing load" in c and "load average 3.1" in c for c in r["caveats"])


def test_the_interleaved_ratio_decides_between_two_fastest_that_the_medians_rank_otherwise(tmp_path):
    """Medians over all rounds say `a` (0.99) before `b` (1.0), but block by block `b` was faster in
    most interleaved rounds: the direct comparison decides, and the margin stays ≥ 1."""
    mixed = [1.05e-4, 1.04e-4, 1.06e-4, 0.80e-4, 0.99e-4]
    records = [
        record("penalty", P101, "jax", "fwd-over-rev", 0.99e-4, block_medians_s=mixed),
        record("penalty", P101, "jax", "rev-over-rev", 1.0e-4, block_medians_s=[1.0e-4] * 5),
        record("penalty", P101, "jax", "taylor", 2e-4, block_medians_s=[2e-4] * 5),
    ]
    r = _decide(tmp_path, records).iloc[0]
    assert r["recommended"] == "rev-over-rev" and r["runner_up"] == "fwd-over-rev"
    assert r["margin"] == pytest.approx(1.04) and r["margin"] >= 1 and r["margin_method"] == "blocks"
    assert r["margin_lo"] <= r["margin"] <= r["margin_hi"]


def test_the_committed_example_decides_every_group():
    df, _ = load_runs([EXAMPLE])
    d = decide(df)
    assert len(d) == df.groupby(["instance", "backend", "compile_mode", "dtype", "device"]).ngroups
    assert d["recommended"].map(lambda v: isinstance(v, str)).all()
    assert not d["recommended"].isin(["hand-derived"]).any()
    assert all(math.isfinite(v) and v >= 1 for v in d["margin"].dropna())
    assert list(d["family"].drop_duplicates()) == [
        "Seed penalty",
        "UDE training step",
        "k-th derivative",
        "Laplacian (Poisson)",
    ]


def test_terminal_table_and_cli(tmp_path, capsys):
    run = write_run(tmp_path / "run", full_records())
    assert main([str(run)]) == 0
    out = capsys.readouterr().out
    assert "Seed penalty" in out and "101 points · JAX jit · float32 cpu: use fwd-over-rev" in out
    assert "avoid: fd-central (wrong" in out and "hand-derived" not in out.split("avoid")[0].split("use ")[1]
    assert main([str(tmp_path / "missing")]) == 2
    assert "no results.jsonl" in capsys.readouterr().err
    assert terminal_table(verdicts(pd.DataFrame())) == ""


def test_a_named_spelling_is_never_recommended_but_shown_as_its_strategys_spread(tmp_path, capsys):
    """`taylor:per-point` (a spelling of taylor) is the fastest case of its group: it is neither
    recommended, runner-up nor avoided; its time over its strategy's, with the per-block spread,
    is listed; a spelling that failed is listed with its status."""
    drift = [1.0, 1.3, 0.8, 1.1, 0.9, 1.2]
    records = [
        record("penalty", P101, "jax", "rev-over-rev", 3e-4, block_medians_s=blocks(3e-4, drift)),
        record("penalty", P101, "jax", "taylor", 2e-4, block_medians_s=blocks(2e-4, drift)),
        record("penalty", P101, "jax", "taylor:per-point", 1e-4, block_medians_s=blocks(1e-4, drift)),
        record("penalty", P101, "jax", "rev-over-fwd", 4e-3, block_medians_s=blocks(4e-3, drift)),
        record("penalty", P101, "jax", "rev-over-fwd:jacfwd", status="failed", error="RuntimeError: boom"),
    ]
    run = write_run(tmp_path / "run", records)
    d = _decide(tmp_path / "again", records)
    r = _row(d, instance="penalty[points=101]", backend="jax")
    assert r["recommended"] == "taylor" and r["runner_up"] == "rev-over-rev"
    assert r["strategies_tried"] == 3 and r["strategies_ok"] == 3
    assert [a["strategy"] for a in r["avoid_list"]] == ["rev-over-fwd"]  # 20× slower; its spelling not
    spellings = {e["spelling"]: e for e in r["spellings_list"]}
    assert set(spellings) == {"taylor:per-point", "rev-over-fwd:jacfwd"}
    assert spellings["taylor:per-point"]["strategy"] == "taylor"
    assert spellings["taylor:per-point"]["ratio"] == pytest.approx(0.5)
    assert spellings["taylor:per-point"]["method"] == "blocks"
    assert spellings["rev-over-fwd:jacfwd"]["ratio"] is None
    assert "taylor:per-point 0.50×" in r["spellings"] and "rev-over-fwd:jacfwd (failed)" in r["spellings"]
    assert main([str(run)]) == 0
    assert "spellings (time over their strategy's): " in capsys.readouterr().out


def test_in_a_run_about_one_configuration_a_spelling_that_wins_is_the_answer(tmp_path, capsys):
    """`make advise` marks its run (decision.json): spellings compete like strategies, and the
    decision names the fastest code, the spelling, with its margin; its strategy (19× slower) is
    avoided. The same records in a run without the mark keep today's meaning."""
    drift = [1.0, 1.3, 0.8, 1.1, 0.9, 1.2]
    records = [
        record("penalty", P101, "torch", "rev-over-rev", 4e-3, block_medians_s=blocks(4e-3, drift)),
        record("penalty", P101, "torch", "fwd-over-rev", 1.9e-2, block_medians_s=blocks(1.9e-2, drift)),
        record("penalty", P101, "torch", "fwd-over-rev:func", 1e-3, block_medians_s=blocks(1e-3, drift)),
        record("penalty", P101, "torch", "rev-over-fwd:jacfwd", status="failed", error="RuntimeError: boom"),
    ]
    run = write_run(tmp_path / "advise", records, decision={"spellings_compete": True})
    r = _row(decide(load_runs([run])[0]), instance="penalty[points=101]", backend="torch")
    assert r["recommended"] == "fwd-over-rev:func" and r["recommended_spelling_of"] == "fwd-over-rev"
    assert r["runner_up"] == "rev-over-rev" and r["margin"] == pytest.approx(4.0)
    assert [a["strategy"] for a in r["avoid_list"]] == ["fwd-over-rev"]  # spellings are never avoided
    assert main([str(run)]) == 0
    out = capsys.readouterr().out
    assert "use fwd-over-rev written as torch.func.jvp over torch.func.grad (`fwd-over-rev:func`)" in out
    assert "4.00× (4.00–4.00) over rev-over-rev" in out

    plain = _row(_decide(tmp_path / "set", records), instance="penalty[points=101]", backend="torch")
    assert plain["recommended"] == "rev-over-rev" and plain["runner_up"] == "fwd-over-rev"


def test_memory_under_one_resident_page_is_not_printed_as_zero():
    """A resident reading of 0 means the heap already held the pages, not that the evaluation
    needs none: it is printed as under a page, with XLA's plan where known; an allocator's peak
    is printed as it is."""
    resident = "resident high-water mark"
    assert memory_text(0, resident, 12288) == "< 4 KiB of new resident pages, XLA plans 12 KiB of scratch"
    assert memory_text(0, resident) == "< 4 KiB of new resident pages"
    assert memory_text(3 * 2**20, resident, 12288) == "3 MiB"
    assert memory_text(31360, "torch allocator peak") == "30.6 KiB"


def test_a_compile_time_measured_beside_a_parallel_build_says_so(tmp_path, capsys):
    compiled = {"compile_mode": "compile", "compile_parallel": True}
    records = [
        record("penalty", P101, "torch", "rev-over-rev-func", 1e-4, compile_s=9.1, **compiled),
        record("penalty", P101, "torch", "taylor", 5e-4, compile_s=4.0, **compiled),
        record("penalty", P101, "torch", "rev-over-rev", 2e-4, compile_mode="eager", compile_s=0.01),
    ]
    assert main([str(write_run(tmp_path / "run", records))]) == 0
    out = capsys.readouterr().out
    assert "use rev-over-rev-func" in out and "compile 9.1 s beside a parallel build" in out
    eager = next(line for line in out.splitlines() if "PyTorch eager" in line)
    assert "compile 0.01 s)" in eager
