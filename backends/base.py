"""The backend protocol: a registry of strategies, each building a `Compiled` evaluation.

A strategy is a recipe for the weight gradient of a problem's loss ("how is the input derivative
taken, and how is the weight gradient taken through it"). Each backend keeps one
`StrategyRegistry`; a strategy the framework cannot express is registered as unsupported with the
reason, so every backend × strategy pair is either runnable or explained.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from problems.errors import BenchInputError, unknown_name
from problems.penalty import check_dtype

PENALTY_STRATEGIES: dict[str, str] = {
    "rev-over-rev": "input gradient by reverse mode, weight gradient by reverse mode through it",
    "rev-over-rev-func": "as rev-over-rev, written with torch.func (grad over vmap(jacrev))",
    "rev-over-fwd": "input gradient by forward mode (jvp), weight gradient by reverse mode over it",
    "fwd-over-rev": "∇θ(w·∇ₓU) as a JVP in input direction w of one reverse pass ∇θU (HVP trick)",
    "fwd-over-fwd": "weight gradient by forward mode, one JVP per parameter, over forward input JVPs",
    "taylor": "input derivative by Taylor mode (jets), weight gradient by reverse mode",
    "fd-central": "input derivative by central differences, weight gradient by reverse mode",
    "hand-derived": "the floor: Jacobian propagation and its adjoint derived by hand, fused, no AD",
}
"""Every strategy name the suite knows for the `penalty` kind, with what it computes."""

STRATEGY_NAMES: dict[str, dict[str, str]] = {"penalty": PENALTY_STRATEGIES}

DEVICES = ("cpu", "cuda")


class UnsupportedStrategy(BenchInputError):
    """The backend cannot express this strategy; the message says why."""


@dataclass
class Compiled:
    """A built (jit-compiled, traced, ...) loss+gradient evaluation.

    `prepare` moves numpy parameters to the framework and device; `run` is the timed call (it
    synchronises before returning); `to_numpy` converts its result to (value, grads). Calling the
    object does all three, which is the public `value_and_grad` contract.
    """

    prepare: Callable[[dict[str, np.ndarray]], Any]
    run: Callable[[Any], Any]
    to_numpy: Callable[[Any], tuple[float, dict[str, np.ndarray]]]
    info: dict[str, Any] = field(default_factory=dict)
    parts: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    """Extra synchronised callables on the prepared params, each timed like `run` and recorded as
    `<name>_median_s` (e.g. "loss" for the loss alone, "ode"/"penalty" for a UDE's parts)."""
    metrics: Callable[[Any], dict[str, Any]] | None = None
    """Optional counts recorded with the case (e.g. right-hand-side evaluations per solve)."""

    def __call__(self, params: dict[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
        return self.to_numpy(self.run(self.prepare(params)))


Builder = Callable[[Any, str, str, str], Compiled]
"""build(problem, dtype, device, variant) -> Compiled."""


@dataclass(frozen=True)
class Strategy:
    name: str
    kind: str
    description: str
    build: Builder | None = None
    unsupported: str | None = None


class StrategyRegistry:
    """Strategies of one backend, keyed by problem kind and name."""

    def __init__(self, backend: str):
        self.backend = backend
        self._entries: dict[str, dict[str, Strategy]] = {}

    def register(self, kind: str, name: str) -> Callable[[Builder], Builder]:
        """Decorator registering `build(problem, dtype, device, variant) -> Compiled` as `name`."""

        def decorate(build: Builder) -> Builder:
            self._add(Strategy(name, kind, _description(kind, name), build=build))
            return build

        return decorate

    def register_composite(self, kind: str, inner_kind: str, build) -> None:
        """Register every `inner_kind` strategy under `kind` as `build(problem, dtype, device,
        variant, strategy)`: a problem whose loss contains an `inner_kind` part (the UDE's
        penalty) is differentiated by each inner strategy; unsupported ones stay unsupported."""
        unsupported = self.unsupported_reasons(inner_kind)
        for name in STRATEGY_NAMES[kind]:
            if name in unsupported:
                self.unsupported(kind, name, f"its {inner_kind} strategy is unsupported: {unsupported[name]}")
            else:
                self.register(kind, name)(lambda p, d, dev, v, s=name: build(p, d, dev, v, s))

    def unsupported(self, kind: str, name: str, reason: str) -> None:
        self._add(Strategy(name, kind, _description(kind, name), unsupported=reason))

    def _add(self, strategy: Strategy) -> None:
        if strategy.name not in STRATEGY_NAMES.get(strategy.kind, {}):
            raise ValueError(f"strategy {strategy.name!r} is not a known {strategy.kind} strategy")
        self._entries.setdefault(strategy.kind, {})[strategy.name] = strategy

    def supported(self, kind: str) -> list[str]:
        return [n for n, s in self._entries.get(kind, {}).items() if s.unsupported is None]

    def unsupported_reasons(self, kind: str) -> dict[str, str]:
        return {n: s.unsupported for n, s in self._entries.get(kind, {}).items() if s.unsupported}

    def get(self, kind: str, name: str) -> Strategy:
        entries = self._entries.get(kind, {})
        if name not in entries:
            raise unknown_name(f"{self.backend} strategy", name, self.supported(kind))
        strategy = entries[name]
        if strategy.unsupported:
            raise UnsupportedStrategy(f"{self.backend} does not support {name!r}: {strategy.unsupported}")
        return strategy


def _description(kind: str, name: str) -> str:
    return STRATEGY_NAMES.get(kind, {}).get(name, "")


class Backend:
    """One framework's adapter: strategies for every problem, built per dtype and device."""

    name: str = ""
    registry: StrategyRegistry
    variants: tuple[str, ...] = ()
    """Compile modes, the default first."""

    def strategies(self, problem) -> list[str]:
        """Names of the strategies this backend can run for `problem`."""
        return self.registry.supported(problem.kind)

    def unsupported(self, problem) -> dict[str, str]:
        """Strategies known for `problem` that this backend cannot run, with the reason."""
        return self.registry.unsupported_reasons(problem.kind)

    def available_devices(self) -> list[str]:
        raise NotImplementedError

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
        problem,
        strategy: str,
        dtype: str = "float64",
        device: str = "cpu",
        variant: str | None = None,
    ) -> Compiled:
        """Build once (trace, jit...) and return `f(params) -> (value, grads)` (numpy dicts)."""
        entry = self.registry.get(problem.kind, strategy)
        variant = variant or self.variants[0]
        if variant not in self.variants:
            raise unknown_name(f"{self.name} variant", variant, self.variants)
        return entry.build(problem, check_dtype(dtype), self.check_device(device), variant)

    def device_name(self, device: str) -> str:
        """What the device is (CPU model, GPU model), recorded with every case."""
        if device == "cpu":
            from bench.environment import cpu_model

            return cpu_model()
        return self.gpu_name()

    def gpu_name(self) -> str:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        """Library versions and device names for the report."""
        raise NotImplementedError


STRATEGY_NAMES["lv-ude"] = PENALTY_STRATEGIES
"""The UDE loss takes its penalty by any penalty strategy (the data term's gradient by the
problem's `sensitivity` option), so its strategies are the penalty's."""

DERIVATIVE_ORDER_STRATEGIES: dict[str, str] = {
    "nested-rev": "∂ᵏU/∂x₁ᵏ by k nested reverse passes (grad of grad …), weight gradient by reverse mode",
    "nested-fwd": "∂ᵏU/∂x₁ᵏ by k nested forward passes (jvp of jvp …), weight gradient by reverse mode",
    "fwd-over-rev": "order 2 only: forward mode over one reverse pass, weight gradient by reverse mode",
    "taylor": "one k-th order Taylor-mode jet (jax.experimental.jet / jet-for-pytorch), then reverse mode",
    "fd-stencil": "central finite-difference stencil for ∂ᵏ (2⌊(k+1)/2⌋+1 points), then reverse mode",
}
"""Strategies for `derivative-order` (the k-th input derivative)."""

OPERATOR_STRATEGIES: dict[str, str] = {
    "nested-rev": "Hessian rows by reverse over reverse (d HVPs), trace; Δ² applies it to Δu again",
    "nested-fwd": "∂²/∂xᵢ² by forward over forward along each basis vector, summed (Δ²: nested twice)",
    "fwd-over-rev": "Hessian by forward over reverse (jax.hessian / torch.func.hessian), trace",
    "taylor": "standard Taylor mode: jets along basis directions (Δ²: and eᵢ±eⱼ, polarised), summed",
    "collapsed-taylor": "collapsed Taylor mode: jet-for-pytorch laplacian / bilaplacian",
    "forward-laplacian": "forward Laplacian (folx): Δ propagated with the forward pass (Δ²: Δ of Δ)",
    "fd-stencil": "central differences: discrete Laplacian (Δ²: its square), error predicted",
    "hutchinson": "stochastic: mean of directional derivatives along sampled v (Rademacher for Δ, "
    "Gaussian/3 for Δ²), Taylor mode; `samples` per point",
}
"""Strategies for the PINN operators (`laplacian` for Poisson, `biharmonic`); the weight gradient
of the residual loss is always reverse mode."""

STRATEGY_NAMES.update(
    {"derivative-order": DERIVATIVE_ORDER_STRATEGIES, "laplacian": OPERATOR_STRATEGIES,
     "biharmonic": OPERATOR_STRATEGIES}
)  # fmt: skip
