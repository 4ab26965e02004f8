"""The backend protocol: a registry of strategy implementations, each building a `Compiled`.

A strategy is named by a problem kind's catalogue (`problems.core.Catalogue`): what it computes
and how correct it must be. A backend implements catalogue names; each implementation may state
when it cannot serve an instance (`when(problem) -> reason | None`), and a name a backend cannot
express at all is registered as unsupported with the reason. `Backend.unsupported(problem)` is the
one place all of these meet: catalogue applicability, missing implementations and conditions.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from backends.devices import DEVICES, cpu_model
from problems.core import Problem, catalogue, check_dtype
from problems.errors import BenchInputError, unknown_name


class UnsupportedStrategy(BenchInputError):
    """The backend cannot run this strategy for this instance; the message says why."""


@dataclass(frozen=True)
class PureFunction:
    """A side-effect-free evaluation `fn(params, *args) -> (value, grads)` and its data arguments
    (JAX): what a composite strategy (the UDE) combines with its own terms before compiling."""

    fn: Callable[..., Any]
    args: tuple = ()


Trainer = Callable[[float], tuple[Callable[[dict], Any], Callable[[Any], tuple[Any, float]]]]
"""learning rate -> (init(numpy params) -> state, step(state) -> (state, loss before the update))."""


@dataclass(frozen=True)
class Compiled:
    """A built (jit-compiled, traced, ...) loss+gradient evaluation.

    `prepare` moves numpy parameters to the framework and device; `run` is the timed call (it
    synchronises before returning); `to_numpy` converts its result to (value, grads). Calling the
    object does all three, which is the public `value_and_grad` contract.
    """

    prepare: Callable[[dict[str, np.ndarray]], Any]
    run: Callable[[Any], Any]
    to_numpy: Callable[[Any], tuple[float, dict[str, np.ndarray]]]
    parts: Mapping[str, Callable[[Any], Any]] = field(default_factory=lambda: MappingProxyType({}))
    """Extra synchronised callables on the prepared params, each timed like `run` and recorded as
    `<name>_median_s` (e.g. "loss" for the loss alone, "ode"/"penalty" for a UDE's parts)."""
    metrics: Callable[[Any], dict[str, Any]] | None = None
    """Counts and sizes recorded with the case (program size, right-hand-side evaluations...)."""
    pure: PureFunction | None = None
    """JAX: the pure function `run` executes, for composition (the UDE adds its solve to it)."""
    trainer: Trainer | None = None
    """Adam training with this evaluation (the UDE's training runs)."""

    def __call__(self, params: dict[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
        return self.to_numpy(self.run(self.prepare(params)))


Builder = Callable[[Problem, str, str, str], Compiled]
"""build(problem, dtype, device, variant) -> Compiled."""

Condition = Callable[[Problem], str | None]
"""when(problem) -> None if the implementation serves this instance, else the reason it cannot."""


@dataclass(frozen=True)
class Implementation:
    kind: str
    name: str
    build: Builder | None
    when: Condition | None = None

    def reason(self, problem: Problem) -> str | None:
        return self.when(problem) if self.when is not None else None


class StrategyRegistry:
    """One backend's implementations, keyed by problem kind and catalogue name."""

    def __init__(self, backend: str):
        self.backend = backend
        self._entries: dict[tuple[str, str], Implementation] = {}
        self._composites: dict[str, tuple[Callable[[Problem], Problem], Callable, Condition | None]] = {}

    def register(self, kind: str, name: str, when: Condition | None = None) -> Callable[[Builder], Builder]:
        """Decorator registering `build(problem, dtype, device, variant) -> Compiled` as `name`."""

        def decorate(build: Builder) -> Builder:
            self._entries[(kind, name)] = Implementation(kind, name, build, when)
            return build

        return decorate

    def unsupported(self, kind: str, name: str, reason: str) -> None:
        """`name` is a strategy this framework cannot express; `reason` says why."""
        self._entries[(kind, name)] = Implementation(kind, name, None, lambda problem: reason)

    def register_composite(self, kind: str, inner: Callable[[Problem], Problem], build,
                           when: Condition | None = None) -> None:  # fmt: skip
        """Every strategy of `kind` is the same strategy of an inner problem (`inner(problem)`, e.g.
        the UDE's penalty) built into `build(problem, dtype, device, variant, strategy)`; it serves
        an instance when `when` allows it and the inner strategy is supported for the inner one."""
        self._composites[kind] = (inner, build, when)

    def remove(self, kind: str, name: str) -> None:
        self._entries.pop((kind, name), None)

    def names(self, kind: str) -> set[str]:
        """Names this backend implements or declares unsupported for `kind` (a composite kind:
        all of its catalogue). A catalogue name outside this set is an omission, not a decision."""
        if kind in self._composites:
            return set(catalogue(kind))
        others = {n for n, s in catalogue(kind).items() if not s.spelled_by(self.backend)}
        return {name for k, name in self._entries if k == kind} | others

    def reason(self, problem: Problem, name: str) -> str | None:
        """Why `name` cannot run for `problem` on this backend, or None if it can."""
        applicable = problem.strategies[name].reason_not_applicable(problem)
        if applicable:
            return applicable
        model_reason = getattr(getattr(problem, "network", None), "unsupported_by", None)
        if model_reason is not None and model_reason(self.backend, problem.strategies[name]):
            return model_reason(self.backend, problem.strategies[name])  # a user's module: its framework only
        if problem.kind in self._composites:
            inner, _, when = self._composites[problem.kind]
            inner_reason = self.reason(inner(problem), name)
            if inner_reason:
                return f"its {inner(problem).kind} strategy is unsupported: {inner_reason}"
            return when(problem) if when is not None else None
        entry = self._entries.get((problem.kind, name))
        spelling = problem.strategies[name]
        if entry is None and not spelling.spelled_by(self.backend):
            own = [n for n in problem.strategies.spellings_of(spelling.spelling_of)
                   if problem.strategies[n].spelled_by(self.backend)]  # fmt: skip
            return (f"a {'/'.join(spelling.backends)} spelling of {spelling.spelling_of}; "
                    f"{self.backend}'s spellings of it: {', '.join(own) or 'none'}")  # fmt: skip
        if entry is None:
            return f"{self.backend} has no implementation of {name!r} for {problem.kind}"
        if entry.when is None and spelling.spelling_of is not None:
            # a spelling uses its strategy's library: it inherits the strategy's condition
            parent = self._entries.get((problem.kind, spelling.spelling_of))
            return parent.reason(problem) if parent is not None else None
        return entry.reason(problem)

    def builder(self, problem: Problem, name: str) -> Builder:
        """The build function for a supported `name` (check `reason` first)."""
        if problem.kind in self._composites:
            _, build, _ = self._composites[problem.kind]
            return lambda p, dtype, device, variant: build(p, dtype, device, variant, name)
        return self._entries[(problem.kind, name)].build


class Backend(ABC):
    """One framework's adapter: strategies for every problem, built per dtype and device."""

    name: str = ""
    registry: StrategyRegistry
    variants: tuple[str, ...] = ()
    """Compile modes, the default first (declared once, in `backends.BACKENDS`)."""

    def strategies(self, problem: Problem) -> list[str]:
        """Names of the strategies this backend can build for `problem` (this instance)."""
        return [name for name in problem.strategies if self.registry.reason(problem, name) is None]

    def unsupported(self, problem: Problem) -> dict[str, str]:
        """Every catalogue strategy this backend cannot build for `problem`, with the reason."""
        reasons = {name: self.registry.reason(problem, name) for name in problem.strategies}
        return {name: reason for name, reason in reasons.items() if reason}

    @abstractmethod
    def available_devices(self) -> list[str]: ...

    def check_device(self, device: str) -> str:
        if device not in DEVICES:
            raise unknown_name("device", device, DEVICES)
        if device not in self.available_devices():
            raise BenchInputError(
                f"device {device!r} is not available to {self.name}; "
                f"available: {', '.join(self.available_devices())}"
            )
        return device

    def value_and_grad(
        self,
        problem: Problem,
        strategy: str,
        dtype: str = "float64",
        device: str = "cpu",
        variant: str | None = None,
    ) -> Compiled:
        """Build once (trace, jit...) and return `f(params) -> (value, grads)` (numpy dicts)."""
        if strategy not in problem.strategies:
            raise unknown_name(f"{self.name} strategy", strategy, self.strategies(problem))
        reason = self.registry.reason(problem, strategy)
        if reason:
            raise UnsupportedStrategy(f"{self.name} does not support {strategy!r}: {reason}")
        variant = variant or self.variants[0]
        if variant not in self.variants:
            raise unknown_name(f"{self.name} variant", variant, self.variants)
        build = self.registry.builder(problem, strategy)
        return build(problem, check_dtype(dtype), self.check_device(device), variant)

    @abstractmethod
    def network_values(self, spec, params: dict[str, np.ndarray], points: np.ndarray, dtype: str,
                       device: str = "cpu") -> np.ndarray:  # fmt: skip
        """U(x) at `points` (N, d_in) in `dtype` with this framework's own kernels, batched as its
        strategies batch points (float64 numpy out): how much one network evaluation rounds here
        is measured from it (`bench.rounding`)."""

    def device_name(self, device: str) -> str:
        """What the device is (CPU model, GPU model), recorded with every case."""
        return cpu_model() if device == "cpu" else self.gpu_name()

    @abstractmethod
    def gpu_name(self) -> str: ...

    @abstractmethod
    def environment(self) -> dict[str, str]:
        """Library versions and device names for the report."""
