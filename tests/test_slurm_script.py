"""The SLURM array-job script without SLURM: the README shows its lines, and it turns the array
task into the right `make bench` call (shard, resume, threads). `make test-cluster` runs it for real."""

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bench" / "slurm" / "array-job.sh"


def test_readme_shows_the_scripts_own_lines():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"see `bench/slurm/array-job.sh`.*?```bash\n(.*?)```", readme, re.DOTALL)
    assert block, "README must show bench/slurm/array-job.sh's key lines after naming the file"
    shown = block.group(1).splitlines()
    lines = SCRIPT.read_text().splitlines()
    assert len(shown) >= 5
    positions = [lines.index(line) for line in shown]  # each line exactly as in the file ...
    assert positions == sorted(positions)  # ... and in its order


def test_script_syntax():
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)


@pytest.fixture
def checkout(tmp_path):
    """A stand-in checkout (.venv/bin/python) and a `make` on PATH that prints its arguments."""
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").touch(mode=0o755)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "make").write_text('#!/bin/bash\nprintf "%s\\n" "$@"\n')
    (bin_dir / "make").chmod(0o755)
    return tmp_path


def _task(checkout, task, **env):
    base = {"PATH": f"{checkout / 'bin'}:{os.environ['PATH']}", "SLURM_SUBMIT_DIR": str(checkout),
            "SLURM_ARRAY_TASK_ID": str(task)}  # fmt: skip
    env = {**base, **env}
    return subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30)


def test_a_task_runs_its_shard_and_a_resubmitted_task_resumes_it(checkout):
    first = _task(checkout, 2, SLURM_ARRAY_TASK_MAX="4", SLURM_CPUS_PER_TASK="3", SET="pinn")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "--no-print-directory", "-o", ".venv/.installed", "bench", "SET=pinn", "SHARD=2/4", "RESUME=",
        "ARGS=--out results/shard-2 --threads 3 ",
    ]  # fmt: skip
    (checkout / "results" / "shard-2").mkdir(parents=True)
    (checkout / "results" / "shard-2" / "cases.json").write_text("[]")
    # Resubmitted alone (sbatch --array=2): the array's highest id is now 2, the shard count stays 4.
    again = _task(checkout, 2, SLURM_ARRAY_TASK_MAX="2", THREADS="1", BENCH_ARGS="--budget 60")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[4:] == [
        "SET=orders", "SHARD=2/4", "RESUME=results/shard-2", "ARGS= --threads 1 --budget 60",
    ]  # fmt: skip


def test_a_task_refuses_a_different_shard_count_or_a_missing_venv(checkout):
    assert _task(checkout, 1, SLURM_ARRAY_TASK_MAX="4").returncode == 0
    clash = _task(checkout, 1, SHARDS="8")
    assert clash.returncode == 2 and "results holds a sweep in 4 shards, not 8" in clash.stderr
    (checkout / ".venv" / "bin" / "python").unlink()
    missing = _task(checkout, 1)
    assert missing.returncode == 2 and "run 'make venv' there before submitting" in missing.stderr
