"""What a result was measured on: machine, threads, library versions, commit — and a short id."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version

from backends.devices import cpu_model, gpu_name

LIBRARIES = (
    "jax", "jaxlib", "diffrax", "optax", "folx", "torch", "torchdiffeq", "torchode",
    "jet-for-pytorch", "numpy", "scipy", "pytest-benchmark", "pandas", "seaborn",
)  # fmt: skip


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True)
        return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except OSError:
        return ""


def library_versions() -> dict[str, str]:
    versions = {}
    for lib in LIBRARIES:
        try:
            versions[lib] = version(lib)
        except PackageNotFoundError:
            versions[lib] = "not installed"
    return versions


def environment(threads: int | None = None) -> dict:
    """The environment record; `env_id` hashes what affects timings (not the commit)."""
    env = {
        "hostname": platform.node(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "threads": threads or os.cpu_count(),
        "gpu": gpu_name(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": git_commit(),
        "libraries": library_versions(),
    }
    keyed = {k: env[k] for k in ("hostname", "cpu", "cores", "threads", "gpu", "libraries")}
    env["env_id"] = hashlib.sha1(json.dumps(keyed, sort_keys=True).encode()).hexdigest()[:10]
    return env
