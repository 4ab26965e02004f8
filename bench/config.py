"""The harness configuration: one frozen object built once from the options and passed as an
argument to what needs it (as diffrax passes solver, controller and adjoint to `diffeqsolve`),
never module globals assigned from outside."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.timing import TimingPolicy, policy_from


@dataclass(frozen=True)
class HarnessConfig:
    """How a pytest child measures and where it reports; the defaults measure a case alone."""

    policy: TimingPolicy = field(default_factory=TimingPolicy)
    """Timing limits and mode (--min-rounds, --max-time, --precision, --mode, --parts, ...)."""
    params_file: str | None = None
    """An `.npz` parameter file (`--params`) used instead of the seeded initialisation."""
    progress_file: str | None = None
    """Where the group being timed is described for the driver's progress line (`--progress`)."""
    current_file: str | None = None
    """The file naming the case in progress, for crash attribution (`--current`)."""
    results_file: str | None = None
    """The JSON-lines file finished records are appended to (`--results`)."""
    raw_file: str | None = None
    """The JSON-lines file for each case's raw pytest-benchmark data (`--raw`)."""
    prebuild: bool = False
    """Whether a helper process pre-builds a group from its last case back where that pays
    (`--prebuild`, `bench/prebuild.py`); off for a case measured alone."""
    plugins: tuple[str, ...] = ()
    """Plugin modules the child loaded (`--plugin`): a helper loads them too."""


def harness_config(get: Callable[[str], Any]) -> HarnessConfig:
    """The configuration from parsed options; `get(name)` reads one by its dest (`params`,
    `min_rounds`, ...), from pytest's `config.getoption` or an argparse namespace."""
    return HarnessConfig(
        policy=policy_from(get),
        params_file=get("params"),
        progress_file=get("progress"),
        current_file=get("current"),
        results_file=get("results"),
        raw_file=get("raw"),
        prebuild=bool(get("prebuild")),
        plugins=tuple(get("plugin") or ()),
    )
