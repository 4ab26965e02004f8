"""The prepared GPU run (bench/sets/gpu.toml, bench/gpu/): the sweep's expansion and its CPU
stand-in, `bench.run --list`, and the scripts' syntax and wheel list."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import pytest

from bench.cases import load_sweep, load_sweep_config
from bench.run import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cases():
    return load_sweep("gpu")


def test_every_case_is_on_the_gpu_and_cpu_stands_in_for_it(cases):
    assert {c.device for c in cases} == {"cuda"}
    on_cpu = load_sweep("gpu", {"devices": ["cpu"]})
    assert sorted(c.id.replace("-cpu", "-cuda") for c in on_cpu) == sorted(c.id for c in cases)


def test_the_sweep_holds_what_the_issue_asks(cases):
    instances = {c.instance for c in cases}
    assert "penalty[points=10000]" in instances
    assert "penalty[activation=tanh,layers=2-256-256-256-2,points=100000]" in instances
    assert "poisson[activation=tanh,layers=50-768-768-512-512-1,points=128]" in instances
    assert any(c.problem == "lv-ude" for c in cases)
    # float64 for the seed penalty only; every framework's compile modes asked for
    assert {c.dtype for c in cases if c.instance != "penalty[points=10000]"} == {"float32"}
    assert {c.dtype for c in cases if c.instance == "penalty[points=10000]"} == {"float32", "float64"}
    modes = {(c.backend, c.compile_mode) for c in cases}
    assert modes == {("jax", "jit"), ("torch", "eager"), ("torch", "compile")}
    # fwd-over-fwd (one pass per parameter) only on the 87-parameter seed net
    assert {c.instance for c in cases if c.strategy == "fwd-over-fwd"} == {"penalty[points=10000]"}
    assert load_sweep_config("gpu")["timing"]["max_time"] == 0.5


def test_list_prints_the_cases_and_writes_nothing(tmp_path, capsys, cases):
    out = tmp_path / "run"
    assert main(["--set", "gpu", "--device", "cpu", "--list", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(cases) + 1 and all(line.endswith("-cpu") for line in lines[:-1])
    groups = len({c.group for c in cases})
    assert lines[-1] == f"{len(cases)} cases in {groups} comparison groups ({len(cases)} on cpu)"
    assert Counter(lines[:-1]).most_common(1)[0][1] == 1
    assert not out.exists()


def test_scripts_parse_and_fetch_exactly_the_listed_wheels():
    for script in ("run.sh", "fetch_wheels.sh"):
        subprocess.run(["bash", "-n", str(ROOT / "bench" / "gpu" / script)], check=True)
    wanted = [line.strip() for line in (ROOT / "bench" / "gpu" / "wheels.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")]  # fmt: skip
    assert all("==" in w for w in wanted)  # pinned: the versions the CPU dry run installed
    names = {w.split("==")[0] for w in wanted}
    assert {"jet-for-pytorch", "torchode", "folx"} <= names
