"""Benchmark cases: one (problem, options, backend, strategy, compile_mode, dtype, device) each.

The case id (`penalty[points=101]-jax-rev-over-rev-jit-float32-cpu`) and the instance it names
(`penalty[points=101]`) are built and parsed here and nowhere else. Sweeps are described in TOML
(see `bench/sets/`); expansion and sharding are deterministic so that n machines running
`--shard i/n` cover every case exactly once.
"""

from __future__ import annotations

import itertools
import json
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

from backends import COMPILE_MODES, DEFAULT_COMPILE_MODE, DEVICES
from bench.results import upgrade_fields
from problems import DTYPES, PROBLEMS, get_problem, problem_options
from problems.errors import BenchInputError, unknown_name
from problems.network import layers_id, layers_of_file, parse_layers

SETS_DIR = Path(__file__).parent / "sets"

RENAMED_KEYS = {
    "variants": "compile_modes",  # old spelling
}
"""A sweep entry's (or the command line's override's) old key -> the key now: old sweep files
still read the same."""

RENAMED_SETS = {
    "variants": "compile-modes",  # old spelling
}
"""A built-in set's old name -> its name now."""

Options = tuple[tuple[str, int | str], ...]
"""A problem's options as sorted (name, value) pairs: hashable, and the order of the case id."""


def instance_id(problem: str, options: Options | dict) -> str:
    """`problem[name=value,...]`: one problem instance, the options sorted by name."""
    items = sorted(options.items()) if isinstance(options, dict) else options
    return f"{problem}[{','.join(f'{k}={v}' for k, v in items)}]"


def instance_of(case_id: str) -> str:
    """The instance part of a case id (its problem and options)."""
    return case_id[: case_id.index("]-") + 1]


@dataclass(frozen=True, order=True)
class Case:
    problem: str
    options: Options
    """Problem options that identify the instance (points, order, dim, solver...)."""
    backend: str
    strategy: str
    compile_mode: str
    dtype: str
    device: str

    @property
    def instance(self) -> str:
        return instance_id(self.problem, self.options)

    @property
    def id(self) -> str:
        return (
            f"{self.instance}-{self.backend}-{self.strategy}-{self.compile_mode}-{self.dtype}-{self.device}"
        )

    @property
    def group(self) -> tuple:
        """Its comparison group: everything but the strategy (cases compared with each other)."""
        return (self.problem, self.options, self.backend, self.device, self.dtype, self.compile_mode)

    def options_dict(self) -> dict[str, int | str]:
        return dict(self.options)

    @property
    def n_params(self) -> int | None:
        """Weights and biases of the instance's network (None if its options no longer build it)."""
        try:
            return get_problem(self.problem, **self.options_dict()).network.n_params
        except BenchInputError:
            return None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["options"] = dict(self.options)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Case:
        d = upgrade_fields(d)
        options = d.pop("options", None)
        if options is None:  # files written before `sizes` was renamed `options`
            options = d.pop("sizes")
        return cls(**d, options=tuple(sorted(options.items())))


def _as_list(value, valid, kind: str) -> list:
    if value in (None, "all"):
        return list(valid)
    values = [value] if isinstance(value, str) else list(value)
    for v in values:
        if v not in valid:
            raise unknown_name(kind, v, valid)
    return values


def _entry_options(entry: dict) -> dict:
    """A sweep entry's problem options (`options`, or the older name `sizes`)."""
    if "options" in entry and "sizes" in entry:
        raise BenchInputError("a sweep entry has both `options` and `sizes`; use `options`")
    return entry.get("options", entry.get("sizes", {}))


def _strategies(entry: dict, catalogue) -> list[str]:
    """The entry's strategies: "all" is every strategy proper (no named spellings); names may be
    strategies or spellings; `spellings = true` adds every spelling of the strategies chosen;
    `leave_out` drops strategies with all their spellings (a strategy left out for its cost, e.g.
    fwd-over-fwd on a large network, is left out however it is written)."""
    chosen = entry.get("strategies")
    names = catalogue.strategies() if chosen in (None, "all") else _as_list(chosen, catalogue, "strategy")
    if entry.get("spellings", False) is True:
        names = [n for name in names for n in [name, *catalogue.spellings_of(name)]]
    elif entry.get("spellings", False) is not False:
        raise BenchInputError(f"`spellings` must be true or false, got {entry['spellings']!r}")
    left_out = {n for name in _as_list(entry.get("leave_out", []), catalogue, "strategy")
                for n in catalogue.family(name)}  # fmt: skip
    return [n for n in dict.fromkeys(names) if n not in left_out]


def expand(entry: dict) -> list[Case]:
    """Cases of one sweep entry: {problem, options: {name: [values]}, backends, strategies,
    spellings, leave_out, ...}. A spelling is expanded only for the backends that have it (another
    framework's spelling is not a strategy there, not even an unsupported one)."""
    entry = renamed_keys(entry)
    problem = entry.get("problem")
    if problem not in PROBLEMS:
        raise unknown_name("problem", problem, PROBLEMS)
    options = _entry_options(entry)
    names = sorted(options)
    values = [_option_values(n, options[n]) for n in names]
    cases = []
    for combo in itertools.product(*values):
        instance = get_problem(problem, **dict(zip(names, combo)))  # validates the options
        chosen = tuple((n, getattr(instance, n)) for n in names)  # normalised: layers "2-64-64-2"
        strategies = _strategies(entry, instance.strategies)
        for backend in _as_list(entry.get("backends"), COMPILE_MODES, "backend"):
            compile_modes = entry.get("compile_modes", "default")
            compile_modes = (
                [DEFAULT_COMPILE_MODE[backend]]
                if compile_modes == "default"
                else [
                    v
                    for v in _as_list(compile_modes, _all_compile_modes(), "compile mode")
                    if v in COMPILE_MODES[backend]
                ]
            )
            for strategy, compile_mode, dtype, device in itertools.product(
                [n for n in strategies if instance.strategies[n].spelled_by(backend)],
                compile_modes,
                _as_list(entry.get("dtypes"), DTYPES, "dtype"),
                _as_list(entry.get("devices", "cpu"), DEVICES, "device"),
            ):
                cases.append(Case(problem, chosen, backend, strategy, compile_mode, dtype, device))
    return cases


def renamed_keys(entry: dict) -> dict:
    """A sweep entry in today's keys (RENAMED_KEYS); a key given under both names is an error."""
    both = [old for old, new in RENAMED_KEYS.items() if old in entry and new in entry]
    if both:
        raise BenchInputError(f"sweep entry gives both {both[0]!r} and {RENAMED_KEYS[both[0]]!r} "
                              f"(the same key; {both[0]!r} is its older name)")  # fmt: skip
    return {RENAMED_KEYS.get(k, k): v for k, v in entry.items()}


def _option_values(name: str, value) -> list:
    """The values an option takes in a sweep: a list is several values, except that `layers` may
    also be one network written as a list of widths ([2, 64, 64, 2])."""
    if not isinstance(value, list):
        return [value]
    if name == "layers" and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return [value]
    return value


def _all_compile_modes() -> list[str]:
    return sorted({v for vs in COMPILE_MODES.values() for v in vs})


def sweep_path(path_or_name: str) -> Path:
    """A sweep file: a path, or the name of a built-in set in bench/sets/."""
    path = Path(path_or_name)
    if not path.exists():
        path = SETS_DIR / f"{RENAMED_SETS.get(path_or_name, path_or_name)}.toml"
    if not path.exists():
        names = sorted(p.stem for p in SETS_DIR.glob("*.toml"))
        raise BenchInputError(f"no sweep file {path_or_name!r}; built-in sets: {', '.join(names)}")
    return path


def load_sweep_config(path_or_name: str) -> dict:
    path = sweep_path(path_or_name)
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise BenchInputError(f"sweep file {path} is not valid TOML: {exc}") from exc


def load_sweep(path_or_name: str, overrides: dict | None = None, implied: dict | None = None) -> list[Case]:
    """Cases of a sweep file (a path, or a name in bench/sets/), with CLI overrides applied
    (`options` overrides apply to the entries whose problem accepts them; one that no entry
    accepts is an error). `implied` options (the `layers` of a `--params` file) apply the same way
    but may go unused, and replace the options the problem derives from them (its
    `network_options`: width, depth, dim)."""
    path = sweep_path(path_or_name)
    entries = load_sweep_config(path_or_name).get("sweep")
    if not entries:
        raise BenchInputError(f"sweep file {path} has no [[sweep]] entries")
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    option_overrides = {**overrides.pop("sizes", {}), **overrides.pop("options", {})}  # sizes: the older name
    used = set()
    cases = []
    for entry in entries:
        entry = {**renamed_keys(entry), **renamed_keys(overrides)}
        if entry.get("problem") not in PROBLEMS:
            raise unknown_name("problem", entry.get("problem"), PROBLEMS)
        accepted = set(problem_options(entry["problem"]))
        options = {**_entry_options(entry), **{k: v for k, v in option_overrides.items() if k in accepted}}
        if implied_here := {k: v for k, v in (implied or {}).items() if k in accepted}:
            derived = set(getattr(PROBLEMS[entry["problem"]], "network_options", ())) - set(option_overrides)
            options = {k: v for k, v in options.items() if k not in derived} | implied_here
        used |= set(option_overrides) & accepted
        entry.pop("sizes", None)
        cases.extend(expand({**entry, "options": options}))
    if unused := sorted(set(option_overrides) - used):
        raise BenchInputError(f"no problem in {path.name} has the option(s) {', '.join(unused)}")
    return sorted(set(cases))


def params_options(path: str | None, options: dict | None) -> dict:
    """The options a `--params` file implies: {"layers": [its widths]} for an MLP's file
    (`problems.network.infer_layers`), or {} without a file or for another model kind (whose file
    is validated against the spec its options build). A `layers` option that names another
    network is an error."""
    if not path:
        return {}
    if not Path(path).is_file():
        raise BenchInputError(f"--params {path}: no such file")
    kinds = _option_values("model", (options or {}).get("model") or "mlp")
    if "mlp" not in kinds:  # another kind's file is read against its spec (names, shapes) when loaded
        return {}
    layers = layers_of_file(path)
    given = (options or {}).get("layers")
    asked = [layers_id(parse_layers(v)) for v in _option_values("layers", given)] if given is not None else []
    if any(a != layers for a in asked):
        raise BenchInputError(f"--params {path} holds a {layers} network; the options ask for layers={given}")
    return {"layers": [layers]}


def shard(cases: list[Case], index: int, count: int) -> list[Case]:
    """The `index`-th (1-based) of `count` disjoint, deterministic slices of `cases`: whole
    comparison groups, round-robin, so the cases compared with each other are timed side by side."""
    if count < 1 or not 1 <= index <= count:
        raise BenchInputError(f"shard must be i/n with 1 ≤ i ≤ n, got {index}/{count}")
    groups = sorted({c.group for c in cases}, key=repr)
    chosen = {g for k, g in enumerate(groups) if k % count == index - 1}
    return [c for c in sorted(cases) if c.group in chosen]


def write_cases(path: Path, cases: list[Case]) -> None:
    path.write_text(json.dumps([c.to_dict() for c in cases], indent=1))


def read_cases(path: Path) -> list[Case]:
    return [Case.from_dict(d) for d in json.loads(Path(path).read_text())]
