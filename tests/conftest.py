"""Shared fixtures: the seed problem, its parameters and float64 references (computed once)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest

from problems import get_problem  # numpy only: no framework is imported before the settings

# The tests check behaviour and correctness, never speed: their cost is JAX's tracing and XLA's
# compiling, hundreds of small programs. Set before any framework is imported (here, and inherited
# by every xdist worker and every `bench.run` child a test starts):
# - XLA compiles without its expensive LLVM passes, one thread each (a worker per core already);
# - PyTorch and OpenMP use one intra-op thread (tiny networks: threads only spin);
# - one JAX compilation cache for the whole session, so a program one test or child compiled is
#   loaded, not compiled again, by the next (the same strategy on the same instance recurs across
#   tests and child processes). A user's own settings are kept.
TEST_XLA_FLAGS = (
    "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true "
    "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)
os.environ.setdefault("XLA_FLAGS", TEST_XLA_FLAGS)
os.environ.setdefault("OMP_NUM_THREADS", "1")
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:  # the controller makes it; workers inherit it
    _cache = tempfile.mkdtemp(prefix="nested-ad-bench-jax-cache-")
    atexit.register(shutil.rmtree, _cache, ignore_errors=True)
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _cache
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "-1")


# -- JAX op by op for the exhaustive correctness matrices ----------------------------------------
# A correctness matrix (every exact strategy × activation / model kind / order) builds hundreds of
# small programs once each; jitting them costs far more (tracing and XLA compiling) than running
# them. A test or parameter marked `jax_eager` runs its JAX code under `jax.disable_jit()`: the same
# strategy code, dispatched primitive by primitive (each primitive compiled once per shape and
# cached for the whole process). What the benchmark times is jitted code, so every strategy still
# runs jitted on a representative instance (each module marking cases says which stay jitted), and
# code whose loops are `lax.scan` / `while_loop` (diffrax solves) is never marked: it would turn
# into Python loops. PyTorch code is unaffected by the marker.
def pytest_configure(config):
    config.addinivalue_line(
        "markers", "jax_eager: run the test's JAX code op by op (jax.disable_jit), not jitted"
    )


# -- the costliest files first ---------------------------------------------------------------------
# fmt: off
COSTLIEST_FIRST = (
    "test_activations", "test_models", "test_pinn", "test_lv_ude_backends", "test_backends", "test_run",
    "test_derivative_order", "test_user_models", "test_pde", "test_run_signals", "test_groups",
    "test_advise", "test_render", "test_figures", "test_memory_and_timing",
)
# fmt: on
"""Test files by CPU cost, costliest first (per-test CPU over a whole `make test`: 90 s down to
12 s; the rest take under 8 s each). `make test` spreads whole files over the workers in collection
order (`--dist loadfile --no-loadscope-reorder`; xdist's own reorder ranks files by their number of
tests, not their cost), so the costly ones start first and the cheap ones fill the end: the two
workers' last tests ended 32 s apart in test-count order."""


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(COSTLIEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.stem, len(rank)))  # stable: a file's order is kept


@pytest.fixture(autouse=True)
def _jax_eager_when_marked(request):
    if request.node.get_closest_marker("jax_eager") is None:
        yield
        return
    import jax  # only here: the settings above come first

    # Op by op, JAX compiles each primitive once per shape (15-30 ms each); writing those thousands
    # of tiny programs to the shared cache cost 6-10 % of compiling them, and hardly any is loaded
    # again (test_activations, test_models and test_derivative_order in one process: 3,132
    # programs compiled, 20 loads). Without the writes test_models.py took 84 and 97 s against 91
    # and 100 s (interleaved, 2-core AMD EPYC VM, around midnight UTC of 2026-12-06).
    # tests/test_conftest.py checks both.
    key = "jax_persistent_cache_min_compile_time_secs"
    before = getattr(jax.config, key)
    jax.config.update(key, float("inf"))
    try:
        with jax.disable_jit():
            yield
    finally:
        jax.config.update(key, before)


@pytest.fixture(scope="session")
def seed_problem():
    return get_problem("penalty")


@pytest.fixture(scope="session")
def seed_params(seed_problem):
    return seed_problem.init_params(0)


@pytest.fixture(scope="session")
def seed_reference(seed_problem, seed_params):
    return seed_problem.reference(seed_params)


@pytest.fixture(scope="session")
def full_report_run(tmp_path_factory):
    """The synthetic run of every family and status (tests/synthetic.py) and its rendered report:
    (run directory, csv path, html path). Rendered once per test process (its figures take seconds);
    the tests only read it."""
    from reports.render import render
    from tests.synthetic import full_records, write_run

    run = write_run(tmp_path_factory.mktemp("full-report"), full_records())
    csv, html_path = render([run], run)
    return run, csv, html_path
