"""Export a problem instance for another tool: `python -m problems.export --out DIR [--problem
penalty] [--points 101] [--seed 0]`.

Writes DIR/params.npz (W1..Wn, b1..bn; weights (out, in), y = W x + b), DIR/points.csv (the
collocation points) and DIR/reference.npz (the float64 reference value as `value` and the
gradient as `grad_W1`..`grad_bn`), so an external implementation (e.g. Julia) can check its
gradient against the same reference before its timings are added with `--external`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from problems import BenchInputError, get_problem, save_params


def export(out: Path, problem_name: str = "penalty", seed: int = 0, **options) -> list[Path]:
    problem = get_problem(problem_name, **options)
    params = problem.init_params(seed)
    value, grads = problem.reference(params)
    out.mkdir(parents=True, exist_ok=True)
    save_params(out / "params.npz", params)
    np.savetxt(out / "points.csv", problem.grid(), delimiter=",", header="x1,x2", comments="")
    np.savez(out / "reference.npz", value=value, **{f"grad_{k}": v for k, v in grads.items()})
    return [out / "params.npz", out / "points.csv", out / "reference.npz"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m problems.export", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--problem", default="penalty")
    p.add_argument("--points", type=int, default=101)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    try:
        paths = export(args.out, args.problem, args.seed, points=args.points)
    except BenchInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(map(str, paths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
