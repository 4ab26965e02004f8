import pytest

from bench.cases import Case, expand, load_sweep, read_cases, shard, write_cases
from problems import BenchInputError


def test_default_set_covers_every_penalty_pair_at_two_sizes_and_dtypes():
    cases = [c for c in load_sweep("default") if c.problem == "penalty" and c.compile_mode != "compile"]
    assert len(cases) == 2 * 2 * 2 * 8  # backends × points × dtypes × strategies
    compiled = [c for c in load_sweep("default") if c.compile_mode == "compile"]
    assert {(c.backend, c.dtype) for c in compiled} == {("torch", "float32")} and len(compiled) == 8
    assert {c.options for c in compiled} == {(("points", 101),)}  # 10,000 points: SET=compile-modes
    assert any(
        c.options == (("points", 10000),) for c in load_sweep("compile-modes") if c.compile_mode == "compile"
    )
    assert {c.options for c in cases} == {(("points", 101),), (("points", 10000),)}
    assert len({c.id for c in load_sweep("default")}) == len(load_sweep("default"))
    assert {c.problem for c in load_sweep("default")} >= {"penalty", "lv-ude"}


def test_overrides_narrow_the_sweep():
    cases = load_sweep("default", {"backends": ["torch"], "dtypes": ["float32"], "sizes": {"points": [101]}})
    cases = [c for c in cases if c.problem == "penalty" and c.compile_mode == "eager"]
    assert {c.backend for c in cases} == {"torch"} and len(cases) == 8


@pytest.mark.parametrize("n", [1, 3, 7])
def test_shards_are_disjoint_and_complete(n):
    cases = load_sweep("default")
    parts = [shard(cases, i, n) for i in range(1, n + 1)]
    assert sorted(c for p in parts for c in p) == sorted(cases)
    assert sum(len(p) for p in parts) == len(cases)
    assert parts == [shard(list(reversed(cases)), i, n) for i in range(1, n + 1)]  # order-free


def test_case_round_trip(tmp_path):
    cases = load_sweep("smoke")
    write_cases(tmp_path / "c.json", cases)
    assert read_cases(tmp_path / "c.json") == cases
    assert Case.from_dict(cases[0].to_dict()) == cases[0]


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"problem": "nope"}, "valid problems: .*lv-ude, .*penalty"),
        ({"problem": "penalty", "backends": ["julia"]}, "valid backends: jax, torch"),
        ({"problem": "penalty", "strategies": ["magic"]}, "unknown strategy 'magic'"),
        ({"problem": "penalty", "dtypes": ["float16"]}, "valid dtypes: float32, float64"),
        ({"problem": "penalty", "devices": ["tpu"]}, "valid devices: cpu, cuda"),
        ({"problem": "penalty", "sizes": {"points": [-1]}}, "points must be an integer"),
    ],
)
def test_bad_sweep_entries(entry, message):
    with pytest.raises(BenchInputError, match=message):
        expand(entry)


def test_bad_shard_and_missing_set(tmp_path):
    with pytest.raises(BenchInputError, match="shard must be i/n"):
        shard(load_sweep("smoke"), 0, 2)
    with pytest.raises(BenchInputError, match="built-in sets: .*default"):
        load_sweep("no-such-set")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[sweep]\n")
    with pytest.raises(BenchInputError, match="not valid TOML"):
        load_sweep(str(bad))


def test_a_strategy_left_out_is_left_out_with_its_spellings():
    """`leave_out` names strategies; each goes with every spelling of it, however the entry chose
    them (all with spellings, or by name); a spelling named in `leave_out` takes its family too."""
    entry = {"problem": "penalty", "backends": ["jax", "torch"], "strategies": "all", "spellings": True}
    everything = {c.strategy for c in expand(entry)}
    assert {"fwd-over-fwd", "fwd-over-fwd:per-point", "fwd-over-rev:func"} <= everything
    for leave_out in (["fwd-over-fwd"], ["fwd-over-fwd:per-point"]):
        kept = {c.strategy for c in expand({**entry, "leave_out": leave_out})}
        assert kept == everything - {"fwd-over-fwd", "fwd-over-fwd:per-point"}
    named = {**entry, "strategies": ["fwd-over-fwd:per-point", "rev-over-rev"], "spellings": False}
    assert {c.strategy for c in expand({**named, "leave_out": ["fwd-over-fwd"]})} == {"rev-over-rev"}
    with pytest.raises(BenchInputError, match="valid"):
        expand({**entry, "leave_out": ["fwd-over-sideways"]})
