"""One command for a user's question, "which AD strategy for my network?":

    make advise LAYERS=2-64-64-2 ACTIVATION=tanh POINTS=1000 DEVICE=cpu   # or PARAMS=weights.npz
    make advise MODEL=fourier LAYERS=2-64-64-1 FEATURES=32 SCALE=5 PROBLEM=poisson
    python -m bench.advise --layers 2-64-64-2 --activation tanh --points 1000
    make advise PROBLEM=pde EQUATION=kdv          # or RESIDUAL="u_t + u*u_x - 0.01*u_xx"
    make advise MODEL=torch:examples/fourier_pinn.py:make POINTS=1000          # your own module

Builds the sweep for that network (a TOML file written into the run directory: every strategy of
the problem in every spelling, i.e. way of writing it (`fwd-over-rev:func`), both frameworks, JAX
jit and PyTorch eager and torch.compile), runs it through the driver's command line (`python -m
bench.run`: each case is checked against the float64 reference before it is timed, and the report
is written), then prints the decision in the terminal (`python -m reports.decision`): the fastest
correct *code*, a strategy or one of its spellings, since which spelling wins depends on the
network's size and the compile mode. Options it does not know are passed on to `bench.run` (e.g.
`--threads 1`, `--max-time 1`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench.cases import expand, params_options
from bench.driver import ROOT
from bench.run import check_devices
from problems import DTYPES, MODEL_KINDS, catalogue, get_problem
from problems.errors import BenchInputError, unknown_name
from problems.models import MODEL_OPTIONS
from problems.user_models import is_user_model, parse_source
from reports.runs import DECISION_FILE

PROBLEMS = ("penalty", "derivative-order", "poisson", "biharmonic", "pde")
"""Problems with a `layers` option: the user's network can be put in them."""

PDE_OPTIONS = ("equation", "residual", "input_names", "output_names", "dim")
"""The pde problem's options that name the user's equation."""

COMPILE_MODES = {"jax": ["jit"], "torch": ["eager", "compile"]}
"""Compile modes run by default: JAX's op-by-op mode is left out (20–200× its jit time, never the
answer); `--no-compile` drops torch.compile (its compilation takes seconds to minutes per case)."""

FWD_OVER_FWD_MAX_PARAMS = 2000
"""fwd-over-fwd costs one forward pass per parameter and holds parameters × points × width
numbers: above this many parameters it is left out (and the reason printed)."""


def _fwd_over_fwd_cost(problem) -> str | None:
    n = problem.network.n_params
    if n > FWD_OVER_FWD_MAX_PARAMS:
        return f"{n:,} parameters means as many forward passes per gradient"
    return None


LEFT_OUT = {"fwd-over-fwd": _fwd_over_fwd_cost}
"""Strategy -> rule(problem) giving the reason it is left out of this network's candidates (None:
kept). A strategy left out is left out with every spelling of it (`leave_out` in the sweep): a
spelling computes the same maths at the same cost order (fwd-over-fwd:per-point took 8 s a call
on a 4,482-parameter network)."""


def parse_args(argv=None) -> tuple[argparse.Namespace, list[str]]:
    p = argparse.ArgumentParser(prog="python -m bench.advise", description=__doc__.split("\n\n")[0])
    p.add_argument("--problem", default="penalty", help=f"one of {', '.join(PROBLEMS)} (default penalty)")
    p.add_argument("--layers", help='widths from input to output, e.g. "2-64-64-2" (default: the problem\'s)')
    p.add_argument("--activation", help="rbf, tanh, sin, softplus, silu or gelu (default: the problem's)")
    p.add_argument("--model", help=f"model kind: {', '.join(MODEL_KINDS)} (default mlp), or your own module: "
                   "torch:<module or file.py>:<factory>, jax:<module or file.py>:<factory>")  # fmt: skip
    p.add_argument("--features", type=_integer, help="Fourier features m (fourier; optional for pirate)")
    p.add_argument("--scale", type=_number, help="Fourier scale s: B ~ N(0, s²) (with --features)")
    p.add_argument("--n-blocks", dest="n_blocks", type=_integer, help="residual blocks (pirate, resnet)")
    p.add_argument("--alpha", type=_number, help="initial α of PirateNet's blocks (default 0)")
    p.add_argument("--points", type=_integer, help="collocation points (default: the problem's)")
    p.add_argument("--params", help=".npz file with your weights W1..Wn, b1..bn (sets the layers)")
    p.add_argument("--equation", help="pde: burgers, heat, allen-cahn, kdv or navier-stokes")
    p.add_argument(
        "--residual", help='pde: your residual, e.g. "u_t + u*u_x - 0.01*u_xx" (";" between components)'
    )
    p.add_argument("--input-names", help='pde: the residual\'s inputs (default "t,x")')
    p.add_argument("--output-names", help='pde: the residual\'s outputs (default "u")')
    p.add_argument("--dim", type=_integer, help="pde: spatial dimension of heat and allen-cahn")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--dtype", default="float32", help="float32 or float64")
    p.add_argument("--strategies", help="comma-separated subset (default: every strategy of the problem)")
    p.add_argument("--no-compile", action="store_true", help="leave out torch.compile")
    p.add_argument("--no-spellings", action="store_true",
                   help="time each strategy in its kept spelling only (default: every way of writing it "
                        "competes, and the decision names the fastest code)")  # fmt: skip
    p.add_argument("--out", help="run directory (default reports/out/advise-<time>)")
    return p.parse_known_args(argv)


def _integer(text: str):
    try:
        return int(text)
    except ValueError:
        return text  # refused by the problem, with the valid range


def _number(text: str):
    try:
        return float(text)
    except ValueError:
        return text  # refused by the model, with what it takes


def network_options(args) -> dict:
    """The problem options naming the user's network, validated (BenchInputError otherwise)."""
    if args.problem not in PROBLEMS:
        raise BenchInputError(f"advise takes a problem with a network option: {', '.join(PROBLEMS)}; "
                              f"got {args.problem!r}")  # fmt: skip
    if args.dtype not in DTYPES:
        raise unknown_name("dtype", args.dtype, DTYPES)
    options = {}
    if args.params:  # an MLP file's widths; a --layers that names another network is an error
        asked = {"layers": [args.layers]} if args.layers else {}
        implied = params_options(args.params, asked | ({"model": args.model} if args.model else {}))
        if implied or args.layers:
            options["layers"] = implied["layers"][0] if implied else args.layers
    elif args.layers:
        options["layers"] = args.layers
    if args.activation:
        options["activation"] = args.activation
    if args.points is not None:
        options["points"] = args.points
    if is_user_model(args.model):  # a file path as bench.run (run from the repository root) finds it
        args.model = user_model_option(args.model)
    options |= {name: getattr(args, name) for name in MODEL_OPTIONS if getattr(args, name) is not None}
    pde = {k: getattr(args, k) for k in PDE_OPTIONS if getattr(args, k) is not None}
    if pde and args.problem != "pde":
        raise BenchInputError(
            f"{', '.join('--' + k.replace('_', '-') for k in pde)}: options of --problem pde"
        )
    options.update(pde)
    problem = get_problem(args.problem, **options)
    model = {k: v for k, v in problem.network.options().items() if k != "model" or v != "mlp"}
    return model | {k: v for k, v in options.items() if k not in model and k not in MODEL_OPTIONS}


def user_model_option(model: str) -> str:
    """A user model's `model` option as bench.run (run from the repository root) finds it: a
    relative file path the user gave from elsewhere becomes absolute; one inside the repository
    stays relative to it, so case ids do not carry this machine's paths."""
    framework, target, factory = parse_source(model)
    path = Path(target)
    if not (target.endswith(".py") or "/" in target) or path.is_absolute():
        return model
    resolved = path.resolve()
    if resolved.is_relative_to(ROOT):
        return f"{framework}:{resolved.relative_to(ROOT).as_posix()}:{factory}"
    return f"{framework}:{resolved}:{factory}"


def strategies(args, options: dict) -> tuple[list[str] | str, list[str], list[str]]:
    """(strategies to run: "all" or the names asked for, strategies left out with all their
    spellings, notes on the ones left out)."""
    problem = get_problem(args.problem, **options)
    names = [s.strip() for s in args.strategies.split(",") if s.strip()] if args.strategies else None
    if names:
        for name in names:
            if name not in catalogue(problem.kind):
                raise unknown_name(f"{args.problem} strategy", name, catalogue(problem.kind))
        return names, [], []
    left_out, notes = [], []
    for name, rule in LEFT_OUT.items():
        if name in catalogue(problem.kind) and (reason := rule(problem)):
            left_out.append(name)
            spelled = catalogue(problem.kind).spellings_of(name)
            also = f" (and its spellings {', '.join(spelled)})" if spelled and not args.no_spellings else ""
            notes.append(f"{name}{also} left out: {reason} (run it with --strategies {name} if you must)")
    if not getattr(problem.network, "has_reference", True):  # a user's module: exact strategies only
        approximate = [n for n in catalogue(problem.kind) if ":" not in n and n not in left_out
                       and problem.error_model(n) != "exact"]  # fmt: skip
        left_out += approximate
        if approximate:
            notes.append(f"{', '.join(approximate)} left out: an approximate strategy's error bound is "
                         "predicted from the independent reference's higher derivatives, which your module "
                         "does not have")  # fmt: skip
    return "all", left_out, notes


def sweep_entries(args, options: dict, names: list[str] | str, left_out: list[str]) -> list[dict]:
    """One entry per framework; a user's module runs in its own framework only."""
    entries = []
    model = options.get("model")
    for backend, compile_modes in COMPILE_MODES.items():
        if is_user_model(model) and parse_source(model)[0] != backend:
            continue
        compile_modes = [v for v in compile_modes if not (args.no_compile and v == "compile")]
        entry = {"problem": args.problem, "options": options, "backends": [backend], "strategies": names,
                 "spellings": not args.no_spellings, "compile_modes": compile_modes, "dtypes": [args.dtype],
                 "devices": [args.device]}  # fmt: skip
        if left_out:
            entry["leave_out"] = left_out
        entries.append(entry)
    return entries


TIMING = {"max_time": 1.0, "min_time": 0.25, "parts": 0}
"""The sweep's `[timing]` table (the command line's --max-time etc. override it): a user waits for
the answer, so each candidate gets at most 1 s of timing beyond the minimum blocks (the harness
default is 2 s, for studies) and its minimum blocks are 25 ms bursts (0.25 s; the default 0.5 s is
for studies): a racing group settles at its minimum blocks as often as not, so those are most of
its time. The seed-net advise made the same three decisions with 0.25 s as with 0.5 s (the same
leader, the same runner-up, the same margins within 0.05x), its torch.compile group timed in 3.8 s
instead of 7.5 s (2-core Intel Xeon VM, 2026-12-06). Parts (the loss alone, for the report's cost
ratio) are neither compiled nor timed: the decision does not read them."""


def to_toml(entries: list[dict], header: str, timing: dict | None = None) -> str:
    """The sweep as TOML (strings, numbers, booleans and lists of them: JSON spells them the same
    way), with an optional `[timing]` table."""
    lines = [f"# {line}" for line in header.splitlines()]
    if timing:
        lines += ["", "[timing]", *(f"{k} = {json.dumps(v)}" for k, v in timing.items())]
    for entry in entries:
        lines += ["", "[[sweep]]"]
        for key, value in entry.items():
            if isinstance(value, dict):
                inner = ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items())
                lines.append(f"{key} = {{ {inner} }}")
            else:
                lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    args, passthrough = parse_args(argv)
    try:
        options = network_options(args)
        names, left_out, notes = strategies(args, options)
        entries = sweep_entries(args, options, names, left_out)
        cases = [c for entry in entries for c in expand(entry)]  # validates everything up front
        check_devices(cases)
        out = (
            Path(args.out)
            if args.out
            else ROOT / "reports" / "out" / datetime.now(UTC).strftime("advise-%Y%m%d-%H%M%S")
        )
        if (out / "results.jsonl").exists():
            raise BenchInputError(f"{out} already holds a run; give another --out")
    except BenchInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    sweep = out / "advise-sweep.toml"
    command = " ".join(["python -m bench.advise", *(argv if argv is not None else sys.argv[1:])])
    header = f"Generated by `{command}`\n{len(cases)} cases; run by bench.run"
    sweep.write_text(to_toml(entries, header, TIMING))
    # one user configuration: every way of writing a strategy is a candidate for the answer
    (out / DECISION_FILE).write_text(json.dumps({"spellings_compete": not args.no_spellings}) + "\n")
    n_params = get_problem(args.problem, **options).network.n_params
    network = f"{get_problem(args.problem, **options).network.label} ({n_params:,} parameters)"
    print(f"advise: {args.problem} on {network}, {args.dtype}, {args.device}: {len(cases)} cases; "
          f"sweep {sweep}", flush=True)  # fmt: skip
    for note in notes:
        print(f"note: {note}", flush=True)
    run = [sys.executable, "-m", "bench.run", "--set", str(sweep), "--out", str(out)]
    run += ["--params", str(Path(args.params).resolve())] if args.params else []
    report = "--no-report" not in passthrough
    # The report's renderer starts now and imports while the run starts up (nothing is timed yet),
    # then renders, told once the run is over, while the decision is printed: both only read the
    # run's results.jsonl, and nothing is timed any more.
    render = None
    if report:
        render = subprocess.Popen([sys.executable, "-m", "reports.render", str(out), "--when-told"], cwd=ROOT,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True)  # fmt: skip
    try:
        code = subprocess.run(run + ["--no-report"] + passthrough, cwd=ROOT).returncode
    except BaseException:
        if render is not None:
            render.kill()
        raise
    if code != 0:  # interrupted or failed: the report of what was measured, no decision
        if render is not None:
            rendered, _ = render.communicate("go\n" if (out / "results.jsonl").exists() else "")
            print(rendered, end="", flush=True)
        return code
    if render is not None:
        try:
            render.stdin.write("go\n")
            render.stdin.close()
        except BrokenPipeError:  # it ended early (an import failed): its output says why
            pass
    print("\ndecision: the fastest correct code per framework and compile mode "
          f"(report: {out / 'report.html'})", flush=True)  # fmt: skip
    code = subprocess.run([sys.executable, "-m", "reports.decision", str(out)], cwd=ROOT).returncode
    if render is not None:
        rendered = render.stdout.read()
        render.wait()
        print(rendered, end="", flush=True)
        if render.returncode != 0:
            print(f"report not rendered (exit code {render.returncode}); later: make report RUN={out}",
                  file=sys.stderr)  # fmt: skip
            code = code or render.returncode
    return code


if __name__ == "__main__":
    sys.exit(main())
