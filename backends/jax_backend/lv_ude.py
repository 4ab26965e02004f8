"""JAX strategies for the Lotka–Volterra UDE loss: diffrax solve + the seed penalty.

The loss+gradient is one jit-compiled pure function: the data misfit through `diffeqsolve` (its
gradient by `RecursiveCheckpointAdjoint`, discretise-then-optimise, or `BacksolveAdjoint`, the
continuous adjoint) plus the penalty built by the foundation's penalty strategy of the same name
(its `pure` function, reused through the registry, not re-implemented). Parts timed separately:
"solve" (the data misfit alone: the forward solve), "ode" (the misfit's value+gradient), "penalty"
(the penalty's value+gradient) and "loss" (the loss value alone, for the gradient/loss cost ratio).
"""

from __future__ import annotations

from functools import lru_cache

import diffrax
import jax
import jax.numpy as jnp
import numpy as np

from backends.base import Compiled
from backends.jax_backend.core import apply_fn, compiled_statistics, jit_or_eager, registry
from problems.lv_ude import LV_PARAMETERS, T_SPAN

LIBRARY = "diffrax"
SOLVERS = {"tsit5": diffrax.Tsit5, "dopri5": diffrax.Dopri5, "dopri8": diffrax.Dopri8}
"""Dopri8 stands in for Julia's Vern7: diffrax has no Verner methods; it is the highest-order
explicit pair it offers."""
MAX_STEPS = 100_000


def vector_field(spec):
    """du₁ = α u₁ + U(u)₁, du₂ = −δ u₂ + U(u)₂ with the network's parameters as `args`."""
    alpha, _, _, delta = LV_PARAMETERS
    apply = apply_fn(spec)

    def f(t, u, params):
        uhat = apply(params, u)
        return jnp.stack([alpha * u[0] + uhat[0], -delta * u[1] + uhat[1]])

    return f


def library_condition(problem) -> str | None:
    """Why this backend cannot solve the instance's ODE (None: it can)."""
    if problem.ode not in ("auto", LIBRARY):
        return f"ode library {problem.ode!r} is a PyTorch library; JAX uses {LIBRARY}"
    return None


def make_solve(problem, dtype: str, counter=None):
    """`solve(params) -> diffrax.Solution` at the saved times, from the first noisy sample."""
    data = problem.data()
    solver = SOLVERS[problem.solver]()
    controller = diffrax.PIDController(rtol=problem.rtol, atol=problem.atol)
    adjoint = (
        diffrax.RecursiveCheckpointAdjoint()
        if problem.sensitivity == "discretise"
        else diffrax.BacksolveAdjoint(solver=solver, stepsize_controller=controller)
    )
    f = vector_field(problem.network)
    if counter is not None:
        f = counter.wrap(f)
    term = diffrax.ODETerm(f)
    ts = jnp.asarray(data["t"], dtype=dtype)
    u0 = jnp.asarray(data["X_noisy"][0], dtype=dtype)

    def solve(params):
        return diffrax.diffeqsolve(
            term, solver, t0=T_SPAN[0], t1=T_SPAN[1], dt0=None, y0=u0, args=params,
            saveat=diffrax.SaveAt(ts=ts), stepsize_controller=controller, adjoint=adjoint,
            max_steps=MAX_STEPS,
        )  # fmt: skip

    return solve


def make_data_loss(problem, dtype: str, counter=None):
    """mean((X_noisy − X̂)²) as a pure function of the parameters."""
    solve = make_solve(problem, dtype, counter)
    Xn = jnp.asarray(problem.data()["X_noisy"], dtype=dtype)

    def data_loss(params):
        return jnp.mean((solve(params).ys - Xn) ** 2)

    return data_loss


class EvalCounter:
    """Counts right-hand-side evaluations at run time (diffrax reports steps, not evaluations)
    through a debug callback; used only by the separately compiled `metrics`, never timed."""

    def __init__(self):
        self.count = 0

    def _tick(self):
        self.count += 1

    def wrap(self, f):
        def counted(t, u, params):
            jax.debug.callback(self._tick)
            return f(t, u, params)

        return counted


@lru_cache(maxsize=64)
def solver_metrics(problem, dtype: str, frozen_params: tuple) -> tuple:
    """Steps (diffrax's stats) and RHS evaluations counted at run time: in the forward solve, and
    in one data loss+gradient (recomputation in the backward pass and an adjoint's backward VJPs
    included). The same for every penalty strategy, so computed once per instance."""
    params = {k: np.frombuffer(b, dtype=np.float64).reshape(s) for k, b, s in frozen_params}
    params = {k: jnp.asarray(v, dtype=dtype) for k, v in params.items()}
    stats = jax.jit(lambda p: make_solve(problem, dtype)(p).stats)(params)
    counter = EvalCounter()
    counted_loss = make_data_loss(problem, dtype, counter)
    jax.block_until_ready(jax.jit(counted_loss)(params))
    forward, counter.count = counter.count, 0
    jax.block_until_ready(jax.jit(jax.value_and_grad(counted_loss))(params))
    return (
        ("ode_library", LIBRARY),
        ("steps", int(stats["num_steps"])),
        ("accepted_steps", int(stats["num_accepted_steps"])),
        ("rhs_evals", forward),
        ("rhs_evals_grad", counter.count),
    )


def _add(a, b):
    (va, ga), (vb, gb) = a, b
    return va + vb, jax.tree.map(jnp.add, ga, gb)


@lru_cache(maxsize=16)
def data_parts(problem, dtype: str, compile_mode: str) -> tuple:
    """(the data misfit's value-and-gradient function, its "solve" part, its "ode" part): the same
    for every penalty strategy, so made once per instance and compile mode and shared by its cases
    (each compiles a diffrax solve: 1-2 s apiece; `make bench`'s UDE warm-ups took 13 s with them
    compiled per case, 8 s shared)."""
    data_loss = make_data_loss(problem, dtype)
    data_value_and_grad = jax.value_and_grad(data_loss)
    compile_ = jit_or_eager(compile_mode)
    return data_value_and_grad, compile_(data_loss), compile_(data_value_and_grad)


def build(problem, dtype: str, device: str, compile_mode: str, strategy: str) -> Compiled:
    penalty = registry.builder(problem.penalty, strategy)(problem.penalty, dtype, device, compile_mode)
    penalty_fn, penalty_args = penalty.pure.fn, penalty.pure.args
    data_value_and_grad, solve_part, ode_part = data_parts(problem, dtype, compile_mode)

    def value_and_grad(params):
        """Loss and gradient: data term through the solve, plus the penalty strategy's."""
        return _add(data_value_and_grad(params), penalty_fn(params, *penalty_args))

    compile_ = jit_or_eager(compile_mode)
    total = compile_(value_and_grad)
    parts_fns = {
        "solve": solve_part,
        "ode": ode_part,
        "penalty": compile_(lambda p: penalty_fn(p, *penalty_args)),
    }
    parts = {name: (lambda native, f=f: jax.block_until_ready(f(native))) for name, f in parts_fns.items()}
    if "loss" in penalty.parts:
        parts["loss"] = lambda native: (parts["solve"](native), penalty.parts["loss"](native))
    jax_device = jax.devices(device)[0]
    prepare, to_numpy = penalty.prepare, penalty.to_numpy  # same parameters, dtype and device

    def metrics(native):
        frozen = tuple((k, np.asarray(v, dtype=np.float64).tobytes(), v.shape) for k, v in native.items())
        record = dict(solver_metrics(problem, dtype, frozen))
        if compile_mode == "jit":
            record.update(compiled_statistics(total, native))
        return record

    return Compiled(
        prepare,
        lambda native: jax.block_until_ready(total(native)),
        to_numpy,
        parts=parts,
        metrics=metrics,
        trainer=lambda lr: adam(value_and_grad, prepare, lr, jax_device, compile_),
    )


def adam(value_and_grad, prepare, lr: float, device, compile_=jax.jit):
    """Adam training in two closures: `init(numpy params) -> state` and `step(state) -> (state,
    loss before the update)`; one step (loss, gradient, update) is a single compiled function."""
    import optax

    optimizer = optax.adam(lr)

    @compile_
    def update(params, opt_state):
        loss, grads = value_and_grad(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    def init(params):
        native = prepare(params)
        # Committed like the parameters: an uncommitted optimiser state would recompile step 2.
        return native, jax.device_put(optimizer.init(native), device)

    def step(state):
        params, opt_state, loss = update(*state)
        return (params, opt_state), float(loss)

    return init, step


# Every penalty strategy names a UDE strategy: the penalty part is taken that way, the data part
# by the problem's `sensitivity` option.
registry.register_composite("lv-ude", lambda problem: problem.penalty, build, when=library_condition)
