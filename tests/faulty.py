"""Deliberately faulty strategies, registered only by the tests that need them."""

from __future__ import annotations

import os
import signal
import time

import numpy as np

from backends import Compiled, get_backend, register_strategy, unregister_strategy

FAULTS = (
    "test-wrong",
    "test-nan",
    "test-raise",
    "test-segfault",
    "test-hang",
    "test-memory-error",
    "test-sigkill",
)


def _correct(problem, dtype, device, variant):
    return get_backend("jax").value_and_grad(problem, "rev-over-rev", dtype, device, variant)


def _build(fault):
    def build(problem, dtype, device, variant):
        if fault == "test-raise":
            raise RuntimeError("deliberate failure while building")
        good = _correct(problem, dtype, device, variant)

        def to_numpy(out):
            value, grads = good.to_numpy(out)
            if fault == "test-wrong":
                grads = {k: g * 1.001 for k, g in grads.items()}
            if fault == "test-nan":
                grads = {k: np.full_like(g, np.nan) for k, g in grads.items()}
            if fault == "test-segfault":
                os.kill(os.getpid(), signal.SIGSEGV)
            if fault == "test-hang":
                time.sleep(3600)
            if fault == "test-memory-error":  # what an allocation that fails in-process raises
                raise MemoryError("deliberate: cannot allocate the gradient")
            if fault == "test-sigkill":  # what the kernel's OOM killer does (the driver classifies it)
                os.kill(os.getpid(), signal.SIGKILL)
            return value, grads

        return Compiled(good.prepare, good.run, to_numpy)

    return build


def register() -> None:
    """Add the faulty strategies to the jax backend for the penalty problem (idempotent)."""
    for fault in FAULTS:
        register_strategy(
            "jax", "penalty", fault, _build(fault), f"deliberately faulty ({fault}) for the tests"
        )


def unregister() -> None:
    for fault in FAULTS:
        unregister_strategy("jax", "penalty", fault)
