"""The harness guards, unit by unit: numeric options refused up front, the run-directory lock,
records that survive a writer killed mid-line, and the out-of-memory classification."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bench import run
from bench.lock import RunDirectoryBusy, RunLock
from bench.measure import failure_status
from bench.oom import classify_sigkill, oom_kill_counters
from bench.options import available_cpus
from bench.results import append_record, load_records

ROOT = Path(__file__).resolve().parent.parent

BAD_VALUES = [
    (["--threads", "-1"], "--threads: -1 is out of range; valid: an integer >= 0 and <="),
    (["--threads", str(available_cpus() + 1)], f"valid: an integer >= 0 and <= {available_cpus()}"),
    (["--threads", "two"], "--threads: 'two' is not an integer"),
    (["--budget", "0"], "--budget: 0 is out of range; valid: a number > 0 (seconds)"),
    (["--budget", "-5"], "--budget: -5 is out of range"),
    (["--budget", "inf"], "--budget: 'inf' is not a finite number"),
    (["--precision", "0"], "--precision: 0 is out of range; valid: a number > 0 and < 1"),
    (["--precision", "1.5"], "--precision: 1.5 is out of range"),
    (["--max-time", "-1"], "--max-time: -1 is out of range; valid: a number > 0 (seconds)"),
    (["--max-time", "nan"], "--max-time: 'nan' is not a finite number"),
    (["--max-rounds", "0"], "--max-rounds: 0 is out of range; valid: an integer >= 1"),
    (["--min-rounds", "-2"], "--min-rounds: -2 is out of range; valid: an integer >= 1"),
    (["--min-rounds", "9", "--max-rounds", "8"], "--min-rounds: 9 exceeds --max-rounds 8"),
    (["--train-iters", "-1"], "--train-iters: -1 is out of range; valid: an integer >= 0"),
]


@pytest.mark.parametrize("args, message", BAD_VALUES, ids=[" ".join(a) for a, _ in BAD_VALUES])
def test_bad_numeric_option_is_one_error_line_and_writes_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_:
        run.main(["--set", "smoke", "--out", str(out), *args])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: argument "), err
    assert message in err, err
    assert not out.exists()


def test_bad_option_from_the_command_line_has_no_usage_or_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--budget", "0", "--out", str(tmp_path / "run")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr == "error: argument --budget: 0 is out of range; valid: a number > 0 (seconds)\n"
    assert not (tmp_path / "run").exists()


def test_good_values_at_the_bounds_are_accepted():
    args = run.parse_args(["--threads", "0", "--budget", "0.5", "--precision", "0.999", "--max-time", "1e-3",
                           "--min-rounds", "3", "--max-rounds", "3", "--train-iters", "0"])  # fmt: skip
    assert (args.threads, args.budget, args.precision, args.min_rounds, args.train_iters) == (
        0,
        0.5,
        0.999,
        3,
        0,
    )
    assert run.parse_args(["--threads", str(available_cpus())]).threads == available_cpus()


def _sweep_with_timing(tmp_path, timing: str) -> str:
    path = tmp_path / "timed.toml"
    path.write_text(f'[[sweep]]\nproblem = "penalty"\nbackends = ["jax"]\nstrategies = ["rev-over-rev"]\n'
                    f"[timing]\n{timing}\n")  # fmt: skip
    return str(path)


def test_a_sweeps_timing_table_sets_what_the_command_line_leaves_out(tmp_path):
    sweep = _sweep_with_timing(tmp_path, "max_time = 0.7\nmin_blocks = 4")
    args = run.parse_args(["--set", sweep])
    assert (args.max_time, args.min_blocks, args.min_time) == (0.7, 4, 0.5)
    assert run.parse_args(["--set", sweep, "--max-time", "3"]).max_time == 3.0
    assert run.parse_args(["--set", sweep, "--max-time=3"]).max_time == 3.0
    assert run.parse_args(["--set", sweep, "--max-ti", "3"]).max_time == 3.0  # argparse's abbreviation
    assert run.parse_args(["--set", sweep, "--max-time", "0.5"]).max_time == 0.5
    assert run.parse_args(["--set", "smoke"]).max_time == 2.0  # no table: the harness default


@pytest.mark.parametrize(
    "timing, message",
    [("max_tim = 1", "max_time"), ("max_time = -1", "out of range")],
)
def test_a_bad_timing_table_is_one_error_line(tmp_path, capsys, timing, message):
    with pytest.raises(SystemExit) as exit_:
        run.parse_args(["--set", _sweep_with_timing(tmp_path, timing)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err


def test_out_onto_an_existing_run_is_refused_unless_resumed(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "cases.json").write_text("[]")
    assert run.main(["--set", "smoke", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"--out {out} already holds a run; continue it with --resume {out}" in err
    assert sorted(p.name for p in out.iterdir()) == ["cases.json"]
    assert run.main(["--set", "smoke", "--resume", str(out), "--out", str(tmp_path / "other")]) == 2
    assert "name different directories" in capsys.readouterr().err


def test_lock_refuses_a_second_holder_and_names_the_first(tmp_path):
    with RunLock(tmp_path) as first:
        with pytest.raises(RunDirectoryBusy, match=rf"in use by a live run \(pid {os.getpid()} on "):
            RunLock(tmp_path).acquire()
        assert first.previous is None
    assert (tmp_path / "run.lock").read_text() == ""  # a clean release empties the record
    with RunLock(tmp_path) as again:
        assert again.previous is None


def test_lock_of_a_killed_run_is_taken_over(tmp_path):
    hold = "import sys, time; from bench.lock import RunLock; RunLock(sys.argv[1]).acquire(); print('locked')"
    holder = subprocess.Popen(
        [sys.executable, "-u", "-c", hold + "; time.sleep(600)", str(tmp_path)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(RunDirectoryBusy, match=f"pid {holder.pid}"):
        RunLock(tmp_path).acquire()
    holder.send_signal(signal.SIGKILL)  # as a node reboot or SLURM's final SIGKILL would
    holder.wait(timeout=30)
    with RunLock(tmp_path) as lock:
        assert lock.previous["pid"] == holder.pid
    holder.stdout.close()


def test_a_record_after_a_line_cut_mid_write_is_kept(tmp_path):
    path = tmp_path / "results.jsonl"
    append_record(path, {"case_id": "a"})
    with open(path, "a") as f:
        f.write('{"case_id": "b", "stat')  # the writer was killed here
    append_record(path, {"case_id": "c"})
    assert [r["case_id"] for r in load_records(path)] == ["a", "c"]


@pytest.mark.parametrize(
    "exc, status",
    [
        (MemoryError(), "out of memory"),
        (RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"), "out of memory"),
        (type("OutOfMemoryError", (RuntimeError,), {})("allocator"), "out of memory"),
        (RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 8 bytes"), "out of memory"),
        (RuntimeError("deliberate failure"), "failed"),
        (ValueError("shapes do not match"), "failed"),
    ],
)
def test_in_process_allocation_failures_are_out_of_memory(exc, status):
    assert failure_status(exc) == status


VM, CG = "/proc/vmstat", "/sys/fs/cgroup/memory/job/memory.oom_control"


def test_sigkill_classification():
    status, message = classify_sigkill(7, {VM: 3, CG: 0}, {VM: 4, CG: 1}, None)
    assert status == "out of memory" and f"{CG} rose 0 → 1" in message and "inferred" in message
    # Another cgroup's kill raised the kernel-wide count only: not this child's.
    status, message = classify_sigkill(7, {VM: 3, CG: 0}, {VM: 4, CG: 0}, None)
    assert status == "crashed" and "not the OOM killer" in message
    status, message = classify_sigkill(7, {VM: 3}, {VM: 4}, None)
    assert status == "out of memory" and "/proc/vmstat rose 3 → 4" in message
    log = "[ 9.1] Out of memory: Killed process 7 (python) total-vm:9000kB\n"
    status, message = classify_sigkill(7, {VM: 3}, {VM: 3}, log)
    assert status == "out of memory" and "kernel log: [ 9.1] Out of memory: Killed process 7" in message
    assert classify_sigkill(8, {}, {}, log)[0] == "crashed"
    status, message = classify_sigkill(7, {}, {}, None)
    assert status == "out of memory" and "most likely out of memory (inferred" in message


def test_oom_counters_are_read_from_cgroup_v1_and_v2(tmp_path):
    proc, cgroups = tmp_path / "proc", tmp_path / "cgroup"
    (proc / "self").mkdir(parents=True)
    (proc / "vmstat").write_text("pgfault 10\noom_kill 2\n")
    (proc / "self" / "cgroup").write_text("4:memory:/job_1\n1:cpu:/job_1\n0::/slurm/job_1\n")
    (cgroups / "memory" / "job_1").mkdir(parents=True)
    (cgroups / "memory" / "job_1" / "memory.oom_control").write_text(
        "oom_kill_disable 0\nunder_oom 0\noom_kill 5\n"
    )
    (cgroups / "slurm" / "job_1").mkdir(parents=True)
    (cgroups / "slurm" / "job_1" / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    counters = oom_kill_counters(proc, cgroups)
    assert counters == {
        str(proc / "vmstat"): 2,
        str(cgroups / "memory" / "job_1" / "memory.oom_control"): 5,
        str(cgroups / "slurm" / "job_1" / "memory.events"): 1,
    }
    assert list(counters)[0] == str(proc / "vmstat")  # kernel-wide first, the cgroup's after
