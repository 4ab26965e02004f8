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
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from functools import partial
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


class ApplyRegistry:
    """One framework's `apply` builder per model kind: `(spec) -> apply(params, x)`. Each
    framework's core holds one (`register_apply`, `apply_fn`); its models module registers the
    built-in kinds, its user_model module the user's own module."""

    def __init__(self, framework: str):
        self.framework = framework
        self.builders: dict[str, Callable] = {}

    def register(self, kind: str):
        """Decorator: the `apply` builder of model kind `kind` (one per kind)."""

        def register(builder):
            self.builders[kind] = builder
            return builder

        return register

    def apply(self, spec) -> Callable:
        """The `apply` of the model `spec`."""
        if spec.kind not in self.builders:
            raise NotImplementedError(
                f"the {self.framework} backend has no apply for model kind {spec.kind!r}"
            )
        return self.builders[spec.kind](spec)


Builder = Callable[[Problem, str, str, str], Compiled]
"""build(problem, dtype, device, compile_mode) -> Compiled."""

Condition = Callable[[Problem], str | None]
"""when(problem) -> None if the implementation serves this instance, else the reason it cannot."""


DECLARED_PARTS = ("operator", "outer")
"""The parts a strategy may declare, handed to its build as keyword arguments of those names."""


@dataclass(frozen=True)
class StrategyDecl:
    """One registered strategy, with what it is made of as data.

    `build(problem, dtype, device, compile_mode, **parts)` receives each declared part (`operator`:
    its input-derivative operator; `outer`: its outer, weight-gradient mode) as a keyword argument,
    so a loop registering one build for many operators binds nothing in closures or default
    arguments. A composite strategy (the UDE's) declares `inner_problem`, the problem whose
    strategy of the same name it composes; its build takes that name as `strategy`. The report's
    "code behind each verdict" (`reports.source`) reads these fields.
    """

    kind: str
    name: str
    build: Callable[..., Compiled] | None
    when: Condition | None = None
    operator: Any = None
    outer: Any = None
    inner_problem: Callable[[Problem], Problem] | None = None

    def parts(self) -> dict[str, Any]:
        """The declared parts, by name (those given)."""
        return {k: getattr(self, k) for k in DECLARED_PARTS if getattr(self, k) is not None}

    def builder(self) -> Builder:
        """`build(problem, dtype, device, compile_mode) -> Compiled` with the declared parts bound."""
        parts = self.parts()
        if self.inner_problem is not None:
            parts["strategy"] = self.name
        return partial(self.build, **parts) if parts else self.build

    def reason(self, problem: Problem) -> str | None:
        return self.when(problem) if self.when is not None else None


class StrategyRegistry:
    """One backend's strategies (`StrategyDecl`s), keyed by problem kind and catalogue name."""

    def __init__(self, backend: str):
        self.backend = backend
        self._entries: dict[tuple[str, str], StrategyDecl] = {}
        self._composites: dict[str, StrategyDecl] = {}

    def register(self, kind: str, name: str, when: Condition | None = None, *, operator: Any = None,
                 outer: Any = None) -> Callable[[Callable], Callable]:  # fmt: skip
        """Decorator registering `build` as `name`, with its declared parts (see `StrategyDecl`)."""

        def decorate(build: Callable) -> Callable:
            self._entries[(kind, name)] = StrategyDecl(kind, name, build, when, operator, outer)
            return build

        return decorate

    def unsupported(self, kind: str, name: str, reason: str) -> None:
        """`name` is a strategy this framework cannot express; `reason` says why."""
        self._entries[(kind, name)] = StrategyDecl(kind, name, None, lambda problem: reason)

    def register_composite(self, kind: str, inner: Callable[[Problem], Problem], build,
                           when: Condition | None = None) -> None:  # fmt: skip
        """Every strategy of `kind` is the same strategy of an inner problem (`inner(problem)`, e.g.
        the UDE's penalty) built into `build(problem, dtype, device, compile_mode, strategy)`; it serves
        an instance when `when` allows it and the inner strategy is supported for the inner one."""
        self._composites[kind] = StrategyDecl(kind, "", build, when, inner_problem=inner)

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
            composite = self._composites[problem.kind]
            inner = composite.inner_problem(problem)
            inner_reason = self.reason(inner, name)
            if inner_reason:
                return f"its {inner.kind} strategy is unsupported: {inner_reason}"
            return composite.reason(problem)
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

    def declaration(self, problem: Problem, name: str) -> StrategyDecl:
        """The declared strategy `name` for `problem` (check `reason` first); a composite kind's
        is its composite build declared with `name` and its inner problem."""
        if problem.kind in self._composites:
            return replace(self._composites[problem.kind], name=name)
        return self._entries[(problem.kind, name)]

    def builder(self, problem: Problem, name: str) -> Builder:
        """The build function for a supported `name` (check `reason` first), its parts bound."""
        return self.declaration(problem, name).builder()


class Backend(ABC):
    """One framework's adapter: strategies for every problem, built per dtype and device."""

    name: str = ""
    registry: StrategyRegistry
    compile_modes: tuple[str, ...] = ()
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
        compile_mode: str | None = None,
    ) -> Compiled:
        """Build once (trace, jit...) and return `f(params) -> (value, grads)` (numpy dicts)."""
        if strategy not in problem.strategies:
            raise unknown_name(f"{self.name} strategy", strategy, self.strategies(problem))
        reason = self.registry.reason(problem, strategy)
        if reason:
            raise UnsupportedStrategy(f"{self.name} does not support {strategy!r}: {reason}")
        compile_mode = compile_mode or self.compile_modes[0]
        if compile_mode not in self.compile_modes:
            raise unknown_name(f"{self.name} compile mode", compile_mode, self.compile_modes)
        build = self.registry.builder(problem, strategy)
        return build(problem, check_dtype(dtype), self.check_device(device), compile_mode)

    @abstractmethod
    def network_values(self, spec, params: dict[str, np.ndarray], points: np.ndarray, dtype: str,
                       device: str = "cpu") -> np.ndarray:  # fmt: skip
        """U(x) at `points` (N, d_in) in `dtype` with this framework's own kernels, batched as its
        strategies batch points (float64 numpy out): how much one network evaluation rounds here
        is measured from it (`bench.rounding`)."""

    def caches_compiled(self, compile_mode: str) -> bool:
        """Whether a build in `compile_mode` is kept in an on-disk cache that another process's
        identical build then loads (so a helper process may build ahead: `bench/prebuild.py`)."""
        return False

    def building_beside(self, compile_mode: str) -> AbstractContextManager:
        """Settings for building in `compile_mode` while a second process builds beside this one
        (`bench/prebuild.py`): the two processes already keep the CPUs busy, so a backend whose
        compiler spreads one build over worker processes builds on one thread instead. None here."""
        return nullcontext()

    def device_name(self, device: str) -> str:
        """What the device is (CPU model, GPU model), recorded with every case."""
        return cpu_model() if device == "cpu" else self.gpu_name()

    @abstractmethod
    def gpu_name(self) -> str: ...

    @abstractmethod
    def environment(self) -> dict[str, str]:
        """Library versions and device names for the report."""
