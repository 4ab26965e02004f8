"""Benchmark cases: one (problem, sizes, backend, strategy, variant, dtype, device) each.

Sweeps are described in TOML (see `bench/sets/`); expansion and sharding are deterministic so
that n machines running `--shard i/n` cover every case exactly once.
"""

from __future__ import annotations

import itertools
import json
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

from backends.base import DEVICES, STRATEGY_NAMES
from problems import DTYPES, PROBLEMS, get_problem
from problems.errors import BenchInputError, unknown_name

VARIANTS = {
    "jax": ("jit", "eager"),
    "torch": ("eager", "compile"),
}
"""Compile modes per backend, the default first (mirrors each Backend.variants without
importing the frameworks; a test keeps the two in step)."""

DEFAULT_VARIANT = {backend: variants[0] for backend, variants in VARIANTS.items()}

SETS_DIR = Path(__file__).parent / "sets"


@dataclass(frozen=True, order=True)
class Case:
    problem: str
    sizes: tuple[tuple[str, int | str], ...]
    """Problem options that identify the instance (points, order, dim, solver...)."""
    backend: str
    strategy: str
    variant: str
    dtype: str
    device: str

    @property
    def id(self) -> str:
        size = ",".join(f"{k}={v}" for k, v in self.sizes)
        return (
            f"{self.problem}[{size}]-{self.backend}-{self.strategy}-{self.variant}-{self.dtype}-{self.device}"
        )

    def options(self) -> dict[str, int | str]:
        return dict(self.sizes)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["sizes"] = dict(self.sizes)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Case:
        return cls(**{**d, "sizes": tuple(sorted(d["sizes"].items()))})


def _as_list(value, valid, kind: str) -> list:
    if value in (None, "all"):
        return list(valid)
    values = [value] if isinstance(value, str) else list(value)
    for v in values:
        if v not in valid:
            raise unknown_name(kind, v, valid)
    return values


def expand(spec: dict) -> list[Case]:
    """Cases of one sweep entry: {problem, sizes: {name: [values]}, backends, strategies, ...}."""
    problem = spec.get("problem")
    if problem not in PROBLEMS:
        raise unknown_name("problem", problem, PROBLEMS)
    size_names = sorted(spec.get("sizes", {}))
    size_values = [v if isinstance(v, list) else [v] for v in (spec["sizes"][n] for n in size_names)]
    cases = []
    for combo in itertools.product(*size_values):
        sizes = tuple(zip(size_names, combo))
        kind = get_problem(problem, **dict(sizes)).kind  # validates the sizes
        strategies = _as_list(spec.get("strategies"), STRATEGY_NAMES[kind], "strategy")
        for backend in _as_list(spec.get("backends"), VARIANTS, "backend"):
            variants = spec.get("variants", "default")
            variants = (
                [DEFAULT_VARIANT[backend]]
                if variants == "default"
                else [v for v in _as_list(variants, _all_variants(), "variant") if v in VARIANTS[backend]]
            )
            for strategy, variant, dtype, device in itertools.product(
                strategies,
                variants,
                _as_list(spec.get("dtypes"), DTYPES, "dtype"),
                _as_list(spec.get("devices", "cpu"), DEVICES, "device"),
            ):
                cases.append(Case(problem, sizes, backend, strategy, variant, dtype, device))
    return cases


def _all_variants() -> list[str]:
    return sorted({v for vs in VARIANTS.values() for v in vs})


def load_sweep(path_or_name: str, overrides: dict | None = None) -> list[Case]:
    """Cases of a sweep file (a path, or a name in bench/sets/), with CLI overrides applied."""
    path = Path(path_or_name)
    if not path.exists():
        path = SETS_DIR / f"{path_or_name}.toml"
    if not path.exists():
        names = sorted(p.stem for p in SETS_DIR.glob("*.toml"))
        raise BenchInputError(f"no sweep file {path_or_name!r}; built-in sets: {', '.join(names)}")
    try:
        config = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise BenchInputError(f"sweep file {path} is not valid TOML: {exc}") from exc
    entries = config.get("sweep")
    if not entries:
        raise BenchInputError(f"sweep file {path} has no [[sweep]] entries")
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    size_overrides = overrides.pop("sizes", {})
    used = set()
    cases = []
    for entry in entries:
        entry = {**entry, **overrides}
        accepted = _options(entry.get("problem"))
        sizes = {**entry.get("sizes", {}), **{k: v for k, v in size_overrides.items() if k in accepted}}
        used |= set(size_overrides) & accepted
        cases.extend(expand({**entry, "sizes": sizes}))
    if unused := sorted(set(size_overrides) - used):
        raise BenchInputError(f"no problem in {path.name} has the option(s) {', '.join(unused)}")
    return sorted(set(cases))


def _options(problem: str) -> set[str]:
    """The options a problem accepts (its constructor's parameters)."""
    import inspect

    if problem not in PROBLEMS:
        raise unknown_name("problem", problem, PROBLEMS)
    return set(inspect.signature(PROBLEMS[problem]).parameters) - {"name", "kind", "network"}


def shard(cases: list[Case], index: int, count: int) -> list[Case]:
    """The `index`-th (1-based) of `count` disjoint, deterministic slices of `cases`."""
    if count < 1 or not 1 <= index <= count:
        raise BenchInputError(f"shard must be i/n with 1 ≤ i ≤ n, got {index}/{count}")
    return [c for k, c in enumerate(sorted(cases)) if k % count == index - 1]


def write_cases(path: Path, cases: list[Case]) -> None:
    path.write_text(json.dumps([c.to_dict() for c in cases], indent=1))


def read_cases(path: Path) -> list[Case]:
    return [Case.from_dict(d) for d in json.loads(Path(path).read_text())]
