"""The test session's JAX settings (tests/conftest.py): a `jax_eager` test runs op by op and writes
none of its per-primitive programs to the shared compilation cache; every other test compiles
jitted programs into that cache, so a later test or child process loads them."""

from __future__ import annotations

import os
from contextlib import contextmanager

import pytest

WRITE_EVENT = "/jax/compilation_cache/cache_misses"
"""JAX's monitoring event for one program written to the persistent cache."""
HIT_EVENT = "/jax/compilation_cache/cache_hits"
"""... and for one loaded from it (a cache a user keeps across sessions may hold it already)."""


@contextmanager
def _cache_events():
    import jax.monitoring

    events = []

    def listener(event, **kwargs):
        if event in (WRITE_EVENT, HIT_EVENT):
            events.append(event)

    jax.monitoring.register_event_listener(listener)
    try:
        yield events
    finally:
        jax.monitoring.unregister_event_listener(listener)


@pytest.mark.jax_eager
def test_an_eager_test_runs_op_by_op_and_writes_nothing_to_the_cache():
    import jax
    import jax.numpy as jnp

    assert jax.config.jax_disable_jit
    with _cache_events() as events:
        # primitives compiled op by op (a shape no other test uses, so they are compiled here)
        jnp.sin(jnp.ones((3, 29)) * 0.5).block_until_ready()
    assert WRITE_EVENT not in events


@pytest.mark.skipif(
    os.environ.get("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS") != "0",
    reason="the user set their own minimum compile time for the cache",
)
def test_a_jitted_test_writes_its_programs_to_the_cache():
    import jax
    import jax.numpy as jnp
    import numpy as np

    assert not jax.config.jax_disable_jit
    assert jax.config.jax_persistent_cache_min_compile_time_secs == 0  # restored after eager tests
    with _cache_events() as events:
        jax.jit(lambda x: jnp.cos(x) * 0.25 + x)(np.arange(13.0)).block_until_ready()
    assert len(events) == 1  # its one program, written (or, in a user's kept cache, loaded)
