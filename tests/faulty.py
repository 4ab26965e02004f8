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
    "test-segfault-timing",
)

SEGFAULT_AT_CALL = 10
"""test-segfault-timing: correct, each call a 2 ms busy-wait, and a segfault on this call. The
check takes call 1, the first warm call 2, the other warm-up call 3, calibration calls 4-6 (one
call per round: 2 ms is above the round target, 1 ms with `--max-time 0.05`); the 5 ms bursts then
take 1 to 3 calls, so call 10 comes in the 2nd to 4th of the group's interleaved blocks:
mid-timing, after the other cases of its group have had bursts, and before the race may drop it
(from the 5th block on)."""


def _correct(problem, dtype, device, compile_mode):
    return get_backend("jax").value_and_grad(problem, "rev-over-rev", dtype, device, compile_mode)


def _build(fault):
    def build(problem, dtype, device, compile_mode):
        if fault == "test-raise":
            raise RuntimeError("deliberate failure while building")
        good = _correct(problem, dtype, device, compile_mode)

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

        if fault == "test-segfault-timing":
            return Compiled(good.prepare, _segfault_while_timed(good.run), good.to_numpy)
        return Compiled(good.prepare, good.run, to_numpy)

    return build


def _segfault_while_timed(run):
    calls = 0

    def timed(native):
        nonlocal calls
        calls += 1
        if calls == SEGFAULT_AT_CALL:
            os.kill(os.getpid(), signal.SIGSEGV)
        end = time.perf_counter() + 0.002
        while time.perf_counter() < end:
            pass
        return run(native)

    return timed


def register() -> None:
    """Add the faulty strategies to the jax backend for the penalty problem (idempotent)."""
    for fault in FAULTS:
        register_strategy(
            "jax", "penalty", fault, _build(fault), f"deliberately faulty ({fault}) for the tests"
        )


def unregister() -> None:
    for fault in FAULTS:
        unregister_strategy("jax", "penalty", fault)
