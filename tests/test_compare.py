"""Run comparison: status regressions always flagged, timing only beyond the measured noise and
only between runs from the same environment."""

import json
import shutil
from pathlib import Path

from reports.compare import (
    CONTENDED,
    NOT_COMPARABLE,
    _frame,
    compare,
    environment,
    environment_differences,
    main,
)

FIXTURE = Path(__file__).parent / "fixtures" / "run"


def _edit(tmp_path, name, edit, env_edit=None):
    run = tmp_path / name
    shutil.copytree(FIXTURE, run)
    if env_edit is not None:
        env = json.loads((run / "environment.json").read_text())
        env_edit(env)
        (run / "environment.json").write_text(json.dumps(env))
    records = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    for r in records:
        edit(r)
    (run / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return run


def _verdicts(a, b):
    df = compare(_frame(a), _frame(b))
    return dict(zip(df["case_id"], df["verdict"]))


def test_identical_runs_are_within_noise(tmp_path):
    v = _verdicts(FIXTURE, FIXTURE)
    ok = [k for k in v if "rev-over-rev-jit" in k or "rev-over-rev-eager" in k]
    assert ok and all(v[k] == "within noise" for k in ok)
    assert not any(x.startswith("REGRESSION") for x in v.values())


def test_slowdown_beyond_noise_is_flagged_small_one_is_not(tmp_path):
    def slower(r):
        if r["backend"] == "jax" and r["status"] == "ok":
            r["median_s"] *= 2.0  # far outside IQR 12 µs / √500 rounds
        if r["backend"] == "torch" and r["status"] == "ok":
            r["median_s"] *= 1.05  # below the 10 % minimum change

    v = _verdicts(FIXTURE, _edit(tmp_path, "b", slower))
    assert v["penalty[points=101]-jax-rev-over-rev-jit-float32-cpu"] == "slower"
    assert v["penalty[points=101]-torch-rev-over-rev-eager-float32-cpu"] == "within noise"


def test_status_regression_fails_ci_but_timing_never_does(tmp_path, capsys):
    def broken(r):
        if r["case_id"].startswith("penalty[points=101]-jax-rev-over-rev-jit"):
            r.update(status="wrong", error="relative error 1e-3 > tolerance 1e-10", median_s=None)

    b = _edit(tmp_path, "broken", broken)
    assert (
        _verdicts(FIXTURE, b)["penalty[points=101]-jax-rev-over-rev-jit-float32-cpu"]
        == "REGRESSION: ok → wrong"
    )
    assert main([str(FIXTURE), str(b), "--fail-on-correctness", "--out", str(tmp_path)]) == 1
    assert "1 correctness regression" in capsys.readouterr().out
    assert (tmp_path / "compare.html").exists()

    def slow(r):
        if r["status"] == "ok":
            r["median_s"] *= 3

    assert main([str(FIXTURE), str(_edit(tmp_path, "slow", slow)), "--fail-on-correctness",
                 "--out", str(tmp_path)]) == 0  # fmt: skip


def test_fixed_case_is_reported(tmp_path):
    def fixed(r):
        if r["status"] == "wrong":
            r.update(status="ok", median_s=0.001, iqr_s=0.0001, rounds=10)

    v = _verdicts(FIXTURE, _edit(tmp_path, "fixed", fixed))
    assert v["penalty[points=101]-torch-fd-central-eager-float32-cpu"] == "fixed: wrong → ok"


JAX_OK = "penalty[points=101]-jax-rev-over-rev-jit-float32-cpu"


def _other_machine(env):
    env.update(cpu="AMD EPYC", env_id="fixture0002")
    env["libraries"]["torch"] = "2.15.0"


def test_runs_from_different_environments_compare_correctness_not_timing(tmp_path, capsys):
    def slower_and_broken(r):
        if r["case_id"] == JAX_OK:
            r["median_s"] *= 2.0  # "slower" within one environment (see above)
        if r["case_id"].startswith("penalty[points=101]-torch-rev-over-rev"):
            r.update(status="wrong", error="relative error 1e-3 > tolerance 1e-10", median_s=None)

    b = _edit(tmp_path, "elsewhere", slower_and_broken, _other_machine)
    differences = environment_differences(environment(FIXTURE), environment(b))
    assert differences == ["cpu 'Fixture CPU' → 'AMD EPYC'", "torch 2.14.1 → 2.15.0"]
    df = compare(_frame(FIXTURE), _frame(b), comparable=False)
    verdicts = dict(zip(df["case_id"], df["verdict"]))
    assert verdicts[JAX_OK] == NOT_COMPARABLE
    assert verdicts["penalty[points=101]-torch-rev-over-rev-eager-float32-cpu"] == "REGRESSION: ok → wrong"

    assert main([str(FIXTURE), str(b), "--fail-on-correctness", "--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "different environments (cpu 'Fixture CPU' → 'AMD EPYC'; torch 2.14.1 → 2.15.0)" in out
    assert "timing: not comparable" in out and "1 correctness regression" in out
    assert "not comparable" in (tmp_path / "compare.html").read_text()


def test_an_unknown_environment_is_not_comparable(tmp_path):
    b = _edit(tmp_path, "unknown", lambda r: None)
    (b / "environment.json").unlink()
    assert environment_differences(environment(FIXTURE), environment(b)) == [
        "no environment.json for B: where it ran is unknown"
    ]
    assert environment_differences(environment(FIXTURE), environment(FIXTURE)) == []


def test_block_medians_set_the_noise_where_present(tmp_path):
    """B is 20 % slower. Rounds alone (IQR 12 µs over 500 rounds) call that beyond noise; block
    medians that scatter by ±40 % between blocks (drift) do not, and tight ones do."""

    def blocks(spread, factor=1.0):
        def edit(r):
            if r["case_id"] == JAX_OK:
                r["median_s"] *= factor
                r["block_medians_s"] = [r["median_s"] * (1 + spread * k / 5) for k in range(-5, 6)]

        return edit

    a_wide, b_wide = _edit(tmp_path, "a-wide", blocks(0.4)), _edit(tmp_path, "b-wide", blocks(0.4, 1.2))
    a_tight, b_tight = _edit(tmp_path, "a-tight", blocks(0.02)), _edit(tmp_path, "b-tight", blocks(0.02, 1.2))
    assert _verdicts(a_wide, b_wide)[JAX_OK] == "within noise"
    assert _verdicts(a_tight, b_tight)[JAX_OK] == "slower"


def test_a_case_timed_under_competing_load_is_not_judged(tmp_path):
    def contended_and_slower(r):
        if r["case_id"] == JAX_OK:
            r.update(median_s=r["median_s"] * 2.0, contended=True)

    assert _verdicts(FIXTURE, _edit(tmp_path, "loaded", contended_and_slower))[JAX_OK] == CONTENDED
