"""PyTorch strategies for the Lotka–Volterra UDE loss: torchdiffeq or torchode solve + the penalty.

torchdiffeq does not compose with `torch.func` (its autograd.Function has no setup_context, vmap
trips on its in-place updates, no forward-mode rule) and `odeint_adjoint` has no double
backward, so the loss's two terms take separate gradient paths that are summed: the data misfit's
gradient by `torch.autograd.grad` through the solve (backpropagation through the solver's
operations, or the solver's continuous adjoint), the penalty's by the foundation's penalty strategy
of the same name (reused through the registry). Both read the same parameter storage: the
vector field's `nn.Parameter`s share memory with the penalty's leaf tensors, so one `prepare` (or
one optimiser step on the leaves) updates both. Parts timed separately as in the JAX backend:
"solve", "ode", "penalty" and "loss".
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from backends.base import Compiled
from backends.torch_backend.core import DTYPES, apply_fn, registry
from problems.lv_ude import LV_PARAMETERS

LIBRARIES = ("torchdiffeq", "torchode")
DEFAULT_LIBRARY = "torchdiffeq"
SOLVERS = {
    "torchdiffeq": {"dopri5": "dopri5", "dopri8": "dopri8"},
    "torchode": {"tsit5": "Tsit5", "dopri5": "Dopri5"},
}
"""Solver name -> the library's method name (torchdiffeq has no tsit5, torchode no dopri8)."""


class VectorField(nn.Module):
    """du₁ = α u₁ + U(u)₁, du₂ = −δ u₂ + U(u)₂ for u of shape (..., 2); counts its calls.

    Its parameters share storage with `leaves` (nn.Parameter over a detached view), so in-place
    updates of the leaves are seen here without copies.
    """

    def __init__(self, leaves: dict[str, torch.Tensor], spec, counting: bool = True):
        super().__init__()
        self.spec = spec
        self.apply = apply_fn(spec)
        self.names = list(spec.param_names)
        for k in self.names:
            self.register_parameter(k, nn.Parameter(leaves[k].detach()))
        self.counting = counting  # off under torch.compile: a changing Python int forces recompiles
        self.calls = 0

    def forward(self, t, u):
        if self.counting:
            self.calls += 1
        alpha, _, _, delta = LV_PARAMETERS
        params = {k: getattr(self, k) for k in self.names}
        uhat = self.apply(params, u.reshape(-1, u.shape[-1])).reshape(u.shape)
        return torch.stack([alpha * u[..., 0] + uhat[..., 0], -delta * u[..., 1] + uhat[..., 1]], dim=-1)


def library_of(problem) -> str:
    return DEFAULT_LIBRARY if problem.ode == "auto" else problem.ode


def library_condition(problem) -> str | None:
    """Why this backend cannot solve the instance's ODE as asked (None: it can)."""
    ode = library_of(problem)
    if ode not in LIBRARIES:
        return f"ode library {ode!r} is a JAX library; PyTorch uses {', '.join(LIBRARIES)}"
    if problem.solver not in SOLVERS[ode]:
        return f"{ode} has no {problem.solver}; its solvers here: {', '.join(SOLVERS[ode])}"
    return None


def torchdiffeq_solve(problem, f: VectorField, u0, t):
    """`solve() -> (X̂ (T, 2), stats)`: torchdiffeq odeint (autograd through the solver's steps) or
    odeint_adjoint (the continuous adjoint over the vector field's parameters)."""
    from torchdiffeq import odeint, odeint_adjoint

    method = SOLVERS["torchdiffeq"][problem.solver]
    kw = {"rtol": problem.rtol, "atol": problem.atol, "method": method}
    if problem.sensitivity == "adjoint":
        params = tuple(f.parameters())
        return lambda: (odeint_adjoint(f, u0, t, adjoint_params=params, **kw), {})
    return lambda: (odeint(f, u0, t, **kw), {})


def torchode_solve(problem, f: VectorField, u0, t, compile_: bool):
    """`solve() -> (X̂ (T, 2), stats)` with torchode (batch of one problem); its `solve` method is
    torch.compile-d for the "compile" compile mode (compiling the module would compile only `forward`)."""
    import torchode as to

    term = to.ODETerm(f)
    step = getattr(to, SOLVERS["torchode"][problem.solver])(term=term)
    controller = to.IntegralController(atol=problem.atol, rtol=problem.rtol, term=term)
    if problem.sensitivity == "adjoint":
        solver = to.BacksolveAdjoint(term, step, controller)
    else:
        solver = to.AutoDiffAdjoint(step, controller)
    run = torch.compile(solver.solve) if compile_ else solver.solve
    ivp = to.InitialValueProblem(y0=u0[None], t_eval=t[None])

    def solve():
        sol = run(ivp)
        stats = {k: int(v.sum()) for k, v in sol.stats.items() if isinstance(v, torch.Tensor)}
        return sol.ys[0], stats

    return solve


def build(problem, dtype: str, device: str, compile_mode: str, strategy: str) -> Compiled:
    library = library_of(problem)
    penalty = registry.builder(problem.penalty, strategy)(problem.penalty, dtype, device, compile_mode)
    shapes = problem.network.param_shapes()
    leaves = penalty.prepare({k: np.zeros(s) for k, s in shapes.items()})  # the persistent leaves
    kw = {"dtype": DTYPES[dtype], "device": torch.device(device)}
    data = problem.data()
    u0, t = torch.as_tensor(data["X_noisy"][0], **kw), torch.as_tensor(data["t"], **kw)
    Xn = torch.as_tensor(data["X_noisy"], **kw)
    compile_ = compile_mode == "compile"
    f = VectorField(leaves, problem.network, counting=not compile_).to(**kw)
    if library == "torchode":
        solve = torchode_solve(problem, f, u0, t, compile_)
    else:
        solve = torchdiffeq_solve(problem, f, u0, t)
    params = list(f.parameters())
    names = f.names

    def data_value_and_grad():
        X, _ = solve()
        value = torch.mean((X - Xn) ** 2)
        grads = torch.autograd.grad(value, params)
        return value.detach(), dict(zip(names, grads))

    if compile_ and library == "torchdiffeq":
        data_value_and_grad = torch.compile(data_value_and_grad)

    def sync():
        if kw["device"].type == "cuda":
            torch.cuda.synchronize(kw["device"])

    def run(native):
        value, grads = data_value_and_grad()
        p_value, p_grads = penalty.run(native)
        out = value + p_value, {k: grads[k] + p_grads[k] for k in names}
        sync()
        return out

    def solve_only(native):
        with torch.no_grad():
            X, _ = solve()
            value = torch.mean((X - Xn) ** 2)
        sync()
        return value

    def ode_part(native):
        out = data_value_and_grad()
        sync()
        return out

    parts = {"solve": solve_only, "ode": ode_part, "penalty": penalty.run}
    if "loss" in penalty.parts:
        parts["loss"] = lambda native: (solve_only(native), penalty.parts["loss"](native))

    def metrics(native):
        """RHS calls counted in the vector field (forward solve; one loss+gradient, which for an
        adjoint includes the backward solve's VJP evaluations) and torchode's own statistics."""
        f.calls = 0
        with torch.no_grad():
            _, stats = solve()
        record = {"ode_library": library}
        if f.counting:
            record["rhs_evals"] = f.calls
            f.calls = 0
            data_value_and_grad()
            record["rhs_evals_grad"] = f.calls
        if stats:
            record.update(steps=stats["n_steps"], accepted_steps=stats["n_accepted"])
            record["rhs_evals_reported"] = stats["n_f_evals"]
            record.setdefault("rhs_evals", stats["n_f_evals"])
        return record

    return Compiled(
        penalty.prepare,
        run,
        penalty.to_numpy,  # same parameter names: W1..Wn, b1..bn
        parts=parts,
        metrics=metrics,
        trainer=lambda lr: adam(penalty.prepare, run, lr),
    )


def adam(prepare, run, lr: float):
    """Adam training in two closures: `init(numpy params) -> state` and `step(state) -> (state,
    loss before the update)`; torch.optim.Adam updates the shared leaves in place."""

    def init(params):
        leaves = prepare(params)
        return leaves, torch.optim.Adam(list(leaves.values()), lr=lr)

    def step(state):
        leaves, optimizer = state
        value, grads = run(leaves)
        for k, leaf in leaves.items():
            leaf.grad = grads[k]
        optimizer.step()
        return state, float(value)

    return init, step


# Every penalty strategy names a UDE strategy: the penalty part is taken that way, the data part
# by the problem's `sensitivity` option.
registry.register_composite("lv-ude", lambda problem: problem.penalty, build, when=library_condition)
