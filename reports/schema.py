"""The tidy CSV: one row per case. Column names and meanings (README repeats this table)."""

from __future__ import annotations

COLUMNS: dict[str, str] = {
    "run_id": "directory name of the run the row came from",
    "case_id": "unique case identifier",
    "problem": "problem name (get_problem)",
    "points": "collocation points (penalty)",
    "backend": "jax or torch",
    "strategy": "AD strategy name",
    "variant": "compile mode: jit / eager (JAX), eager / compile (PyTorch)",
    "device": "cpu or cuda",
    "dtype": "float32 or float64",
    "status": "ok / wrong / failed / unsupported / over budget / crashed / skipped",
    "error": "message for every status but ok",
    "median_s": "median seconds per loss+gradient evaluation (timed region only)",
    "iqr_s": "interquartile range of the per-call time, seconds",
    "min_s": "fastest call, seconds",
    "rounds": "timed rounds",
    "iterations": "calls per round (pytest-benchmark calibration)",
    "compile_s": "build + first call (tracing, jit compilation), seconds; never in median_s",
    "value_rel_err": "|value − reference| / |reference|",
    "grad_rel_err": "max|grad − reference| / max|reference|",
    "tolerance": "allowed relative error for this strategy and dtype",
    "env_id": "hash of machine, threads and library versions",
}
    "instance": "problem with its size options, e.g. penalty[points=101]",
