"""The problem contract and what every problem shares.

* `Problem`: the abstract base every problem implements (name, kind, options, network, grid,
  init_params, reference, tolerance, compare) and the registry behind `get_problem`.
* `Strategy` / `Catalogue`: a problem kind's strategies: what each computes, which error model
  its tolerance follows, and to which instances it applies. Backends implement the names of a
  catalogue; they never invent their own.
* Small shared helpers: dtypes, option checks, freezing parameter dicts for caches.

Problem modules import this module and the shared ones beside it (`network`, `reference`,
`tolerances`), never another problem: a problem that contains another (the UDE's penalty) asks
the registry for it.
"""

from __future__ import annotations

import dataclasses
import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from problems.errors import BenchInputError, unknown_name

if TYPE_CHECKING:
    from problems.models import ModelSpec

# -- dtypes and option checks --------------------------------------------------------------------
DTYPES = ("float32", "float64")


def check_dtype(dtype: str) -> str:
    if dtype not in DTYPES:
        raise BenchInputError(f"unknown dtype {dtype!r}; valid dtypes: {', '.join(DTYPES)}")
    return dtype


def machine_epsilon(dtype: str) -> float:
    return float(np.finfo(np.dtype(check_dtype(dtype))).eps)


def check_int_option(name: str, value, valid: str, minimum: int = 1, allowed=None) -> int:
    """An integer problem option (bool and float refused); BenchInputError names the valid range."""
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if ok and allowed is not None:
        ok = int(value) in allowed
    elif ok:
        ok = int(value) >= minimum
    if not ok:
        raise BenchInputError(f"{name} must be {valid}, got {value!r}")
    return int(value)


def check_choice(name: str, value, valid, plural: str | None = None) -> str:
    """A string option from a fixed set; BenchInputError lists the valid values."""
    if not isinstance(value, str) or value not in valid:
        raise BenchInputError(f"unknown {name} {value!r}; valid {plural or name + 's'}: {', '.join(valid)}")
    return value


def freeze(params: dict[str, np.ndarray]) -> tuple:
    """Hashable form of a parameter dict (for caching references and bounds)."""
    return tuple((k, np.asarray(v, np.float64).tobytes(), np.shape(v)) for k, v in sorted(params.items()))


def thaw(frozen: tuple) -> dict[str, np.ndarray]:
    return {k: np.frombuffer(b, dtype=np.float64).reshape(s) for k, b, s in frozen}


# -- strategy catalogues -------------------------------------------------------------------------
ERROR_MODELS = {
    "exact": "exact up to rounding: held to the dtype's rounding bound",
    "finite-difference": "truncation + rounding of a stencil: held to its predicted error",
    "stochastic": "a sampled estimator: held to its statistical error bound",
}


@dataclass(frozen=True)
class Strategy:
    """One catalogue entry: a strategy's name, what it computes, and how correct it must be.

    `applies(problem)` returns None where the strategy is defined for that instance, or the
    reason it is not (e.g. a mixed second-order mode at another order); every backend then
    reports that reason, so `Backend.strategies(problem)` lists only what can be built.
    """

    name: str
    description: str
    error: str = "exact"
    applies: Callable[[Problem], str | None] | None = None
    floor: bool = False
    """A hand-written reference implementation (no AD): drawn for comparison, never recommended."""
    spelling_of: str | None = None
    """For a named spelling ("rev-over-fwd:jacfwd"): the strategy whose maths it computes in
    another way. The strategy itself is the fastest correct spelling; the others stay measurable
    (`spellings = true` in a sweep, or by name), are left out of `strategies = "all"` and never
    recommended: a report shows them as the spread of their strategy."""
    backends: tuple[str, ...] | None = None
    """A spelling's frameworks (the API it spells with is theirs); None: every backend's."""

    def __post_init__(self):
        if self.error not in ERROR_MODELS:
            raise ValueError(f"strategy {self.name!r}: error model must be one of {', '.join(ERROR_MODELS)}")
        if self.spelling_of is not None and not self.name.startswith(self.spelling_of + ":"):
            raise ValueError(f"spelling {self.name!r} must be named {self.spelling_of}:<how>")

    def reason_not_applicable(self, problem: Problem) -> str | None:
        return self.applies(problem) if self.applies is not None else None

    def spelled_by(self, backend: str) -> bool:
        """Whether `backend` has this entry (always, unless it is another framework's spelling)."""
        return self.backends is None or backend in self.backends


def spellings(of: Strategy, *ways: tuple[str, str] | tuple[str, str, tuple[str, ...]]) -> list[Strategy]:
    """Named spellings of strategy `of`: each (how, description[, backends]) becomes
    `Strategy("<of>:<how>", description, spelling_of=<of>)` with `of`'s error model and
    applicability, so it is held to the same tolerance and built for the same instances."""
    out = []
    for how, description, *backends in ways:
        out.append(Strategy(f"{of.name}:{how}", description, error=of.error, applies=of.applies,
                            spelling_of=of.name, backends=backends[0] if backends else None))  # fmt: skip
    return out


class Catalogue(Mapping[str, Strategy]):
    """The strategies of one problem kind, in their display order; plugins may add entries.

    `baseline` is the strategy speed-ups are quoted against: the naive nesting of reverse mode
    (rev-over-rev, nested-rev), what a user writes first.
    """

    def __init__(self, kind: str, strategies: list[Strategy], baseline: str | None = None):
        self.kind = kind
        self._entries = {s.name: s for s in strategies}
        self.baseline = baseline if baseline is not None else next(iter(self._entries))

    def __getitem__(self, name: str) -> Strategy:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def strategies(self) -> list[str]:
        """The strategies proper, in display order: every entry but the named spellings."""
        return [name for name, s in self._entries.items() if s.spelling_of is None]

    def spellings_of(self, name: str) -> list[str]:
        """The named spellings of strategy `name` (not the strategy itself)."""
        return [n for n, s in self._entries.items() if s.spelling_of == name]

    def family(self, name: str) -> list[str]:
        """Strategy `name` and its named spellings: what a rule about the strategy (left out,
        not applicable) applies to, since a spelling computes the same maths at the same cost
        order."""
        parent = self._entries[name].spelling_of or name if name in self._entries else name
        return [parent, *self.spellings_of(parent)]

    def is_spelling(self, name: str) -> bool:
        entry = self._entries.get(name)
        return entry is not None and entry.spelling_of is not None

    def add(self, strategy: Strategy) -> None:
        self._entries[strategy.name] = strategy

    def remove(self, name: str) -> None:
        self._entries.pop(name, None)


CATALOGUES: dict[str, Catalogue | str] = {}
"""Problem kind -> its catalogue, or the name of the kind whose catalogue it shares."""


def register_catalogue(catalogue: Catalogue) -> Catalogue:
    CATALOGUES[catalogue.kind] = catalogue
    return catalogue


def share_catalogue(kind: str, of: str) -> None:
    """`kind` takes its strategies from `of` (the UDE's strategies are its penalty's)."""
    CATALOGUES[kind] = of


def catalogue(kind: str) -> Catalogue:
    entry = CATALOGUES.get(kind)
    if entry is None:
        raise unknown_name("problem kind", kind, CATALOGUES)
    return catalogue(entry) if isinstance(entry, str) else entry


# -- accuracy contracts ------------------------------------------------------------------------------
@dataclass(frozen=True)
class RoundingMeasurement:
    """A finite-difference strategy's rounding, measured (`bench.rounding`): `relative`, the
    relative difference of its float32 result from the same computation in float64 on the same
    float32 inputs, at a stencil whose amplification (largest weight, ∝ h⁻ᵏ) is `amplification`;
    and for a float64 case `evaluation_ulps`, the largest rounding of one network evaluation at
    the stencil's nodes in float64 with the backend's kernels (against 80-bit extended precision),
    in ulps of the output's magnitude."""

    relative: float
    amplification: float
    evaluation_ulps: float | None = None


@dataclass(frozen=True)
class Tolerance:
    """A tolerance and the parts it is made of (`problems.tolerances` derives them); `total` is the
    bound a strategy's relative error must stay within, and every part is recorded with the case."""

    rounding: float
    truncation: float = 0.0
    stencil_rounding: float = 0.0
    statistical: float = 0.0
    measurement: RoundingMeasurement | None = None
    """The measurement behind `stencil_rounding` (before scaling and its safety factor)."""

    @property
    def total(self) -> float:
        return self.rounding + self.truncation + self.stencil_rounding + self.statistical

    def record(self) -> dict:
        """The fields written with a case: the total and every part."""
        out = {"tolerance": self.total, "tolerance_rounding": self.rounding}
        if self.truncation:
            out["tolerance_truncation"] = self.truncation
        if self.stencil_rounding:
            out["tolerance_stencil_rounding"] = self.stencil_rounding
            out["measured_rounding"] = self.measurement.relative
            out["measured_amplification"] = self.measurement.amplification
            if self.measurement.evaluation_ulps is not None:
                out["measured_evaluation_ulps"] = self.measurement.evaluation_ulps
        if self.statistical:
            out["tolerance_statistical"] = self.statistical
        return out


# -- the problem contract --------------------------------------------------------------------------
class Problem(ABC):
    """A loss with input derivatives of an MLP, its float64 reference and its accuracy contract.

    Implementations are frozen dataclasses whose fields are their options (so instances are
    hashable and can key caches). A backend reads `network`, `grid()` and problem-specific data;
    the harness reads `reference`, `tolerance` and `compare`.
    """

    name: ClassVar[str]
    kind: ClassVar[str]
    """Selects the strategy catalogue (several problems may share a kind's operator)."""
    network: ModelSpec
    input_precision: str | None = None
    """None, or a dtype every array input (points, steps, weights, sources, directions) is
    rounded to: the same computation in float64 on float32 inputs measures float32 rounding."""

    @property
    def strategies(self) -> Catalogue:
        return catalogue(self.kind)

    @property
    def options(self) -> dict[str, int | str]:
        """The options that identify this instance in results (its constructor's arguments)."""
        return {name: getattr(self, name) for name in problem_options(type(self))}

    @abstractmethod
    def grid(self) -> np.ndarray:
        """Collocation points (N, d_in) at which the input derivatives are taken."""

    def init_params(self, seed: int = 0) -> dict[str, np.ndarray]:
        """The network's seeded initialisation (Glorot-uniform weights, small biases)."""
        return self.network.init_params(seed)

    @abstractmethod
    def reference(self, params: dict[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
        """Float64 value and weight gradient, computed without any AD framework."""

    def with_inputs_in(self, dtype: str) -> Problem:
        """This instance with every array input rounded to `dtype` (see `input_precision`)."""
        return dataclasses.replace(self, input_precision=check_dtype(dtype))

    def inputs(self, array) -> np.ndarray:
        """`array` as the backends receive it: rounded to `input_precision` when set."""
        array = np.asarray(array, dtype=np.float64)
        return array.astype(self.input_precision).astype(np.float64) if self.input_precision else array

    def tolerance(self, strategy: str, dtype: str, params: dict[str, np.ndarray],
                  measured_rounding: float | None = None) -> float:  # fmt: skip
        """Allowed relative error of `strategy` in `dtype` at `params` (derived, not guessed);
        a finite-difference strategy needs its `measured_rounding` (see `tolerance_parts`)."""
        return self.tolerance_parts(strategy, dtype, params, measured_rounding).total

    @abstractmethod
    def tolerance_parts(self, strategy: str, dtype: str, params: dict[str, np.ndarray],
                        measured_rounding: float | None = None) -> Tolerance:  # fmt: skip
        """The tolerance of `strategy` in `dtype` with its parts (`problems.tolerances`).
        `measured_rounding`: a finite-difference strategy's float32 rounding, measured on the
        strategy itself by the harness (`bench.rounding`)."""

    @abstractmethod
    def compare(self, params, value: float, grads: dict) -> tuple[float, float, float]:
        """(value_err, grad_err, reference value) of a strategy's result against the reference."""

    def stencil_problem(self) -> Problem:
        """The problem whose strategy evaluates a finite-difference stencil: this one, or the part
        of a composite problem that holds it (the UDE's penalty). The harness measures a
        finite-difference strategy's rounding on it."""
        return self

    def error_model(self, strategy: str) -> str:
        """The catalogue's error model of `strategy` ("exact" for names it does not know)."""
        entry = self.strategies.get(strategy)
        return entry.error if entry is not None else "exact"


PROBLEMS: dict[str, type[Problem]] = {}


def register_problem(cls: type[Problem]) -> type[Problem]:
    """Class decorator: make `cls` available as `get_problem(cls.name, ...)`."""
    PROBLEMS[cls.name] = cls
    return cls


INTERNAL_OPTIONS = frozenset({"network", "input_precision"})
"""Constructor arguments that are not user options (a problem built inside another; the rounding
measurement's compile mode)."""


def problem_options(problem: str | type[Problem]) -> list[str]:
    """The user options of a problem (its constructor's parameters, in order)."""
    cls = PROBLEMS[problem] if isinstance(problem, str) else problem
    return [p for p in inspect.signature(cls).parameters if p not in INTERNAL_OPTIONS]


def get_problem(name: str, **options) -> Problem:
    """Build a registered problem; unknown names or options raise a BenchInputError."""
    if name not in PROBLEMS:
        raise unknown_name("problem", name, PROBLEMS)
    cls = PROBLEMS[name]
    valid = list(inspect.signature(cls).parameters)
    bad = sorted(set(options) - set(valid))
    if bad:
        raise BenchInputError(
            f"problem {name!r} has no option(s) {', '.join(bad)}; valid options: {', '.join(valid)}"
        )
    return cls(**options)
