"""Parallel pre-building: while a child builds a torch.compile group from its first case on, a
helper process builds it from its last case back, and the child loads what the helper compiled from
the compiler's on-disk cache.

Why: a cold torch.compile build of one candidate (Dynamo, AOTAutograd, inductor's lowering, g++ on
each C++ kernel) takes 2–25 s on a 2-core VM, with the CPU partly idle while Python lowers a graph.
The seed-net advise's 16 torch.compile candidates took 123 s to build one after the other, and 25 s
in a second process once inductor's FX-graph and AOTAutograd caches held them (2-core Intel Xeon
VM, 2026-12-06). Building is never timed, so a second process may use the idle CPU then; the helper
has finished before the group's first timed call.

Protocol, through files in a temporary directory: a case is built by whichever process claims it
first (`claims/<n>`, created exclusively). The helper walks the group from its end, builds and
warms each case it claims as the child would (so a warm call's recompile, as torch.compile makes on
a failed guard, is cached too), writes `done/<n>.json` (status and cold `compile_s`), and exits at
the first case the child claimed. The child builds each case the helper has finished before its
own next cold one (loading from the cache takes about a quarter of a cold build; done while the
helper still builds, it does not leave a CPU idle after the helper has exited), and, reaching a
case the helper claimed, waits for that record or for the helper's exit. It builds such a case
itself (checked as always; compiled from the cache) and records the helper's cold `compile_s`
with `compiled_by` = "pre-builder", not its own cache-hit time. The two builds share the CPU, so
each takes longer than it would alone (the seed net's 16 compile times summed to 203 s beside the
helper, 145 s without it): every record of such a group says so (`compile_parallel`). Both build
with the backend's settings for it (`Backend.building_beside`: inductor on one compile thread).
A helper that crashes costs nothing but its time: the child builds what it left.

Started ahead: a group that builds alone (a JAX group, an eager one) leaves a CPU idle while it
builds, so the helper of the next group that will have one is started then (`GroupRunner`) and
builds beside it, the child still on the earlier group. It runs only while the child builds: it is
stopped (SIGSTOP to its process group, its compiler processes with it) before each timing and
continued (SIGCONT) at the next group's build, so no timed call ever runs beside it. The groups
built beside it say so too (`compile_parallel`). In the seed-net advise the helper of the
torch.compile group so builds while the JAX group builds; that group then built in 101-104 s
against 111-121 s with the helper started at the group (three interleaved pairs, empty inductor
cache each, 2-core AMD EPYC VM, 2026-12-06).

Used only where it can pay: a group of at least MIN_CASES cases whose backend compiles to an
on-disk cache (`Backend.caches_compiled`), in a child with at least 2 CPUs (`--threads 1` pins the
child to one, and a helper on the same CPU would only take turns with it); `--prebuild 0` turns it
off.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.cases import Case, read_cases, write_cases
from bench.config import HarnessConfig

MIN_CASES = 4
"""Fewest cases in a group worth a helper (it pays seconds to import and start up)."""
POLL_S = 0.05
"""Seconds between two looks for the helper's record of a case the child waits for."""
PRE_BUILDER = "pre-builder"
"""The `compiled_by` value of a case the helper compiled cold."""


class NoPreBuilder:
    """The child builds the group alone."""

    parallel = False
    """Whether a helper builds beside the child (then both builds share the CPU)."""

    def claim(self, case: Case) -> dict | None:
        """Before the child builds `case`: None if the child is to build it cold, else the
        helper's record of it (the helper built it first; the child now loads it from the cache)."""
        return None

    def finished(self, cases: list[Case]) -> Case | None:
        """The first of `cases` (not yet built by the child) that the helper has finished: the
        child loads it from the cache before it builds its next case cold, so that loading runs
        while the helper still builds instead of after it has exited."""
        return None

    def pause(self) -> None:
        """Stop the helper (and its compiler processes) until `resume`: the child is about to time."""

    def resume(self) -> None:
        """Let a paused helper go on: the child is about to build."""

    def close(self) -> None:
        """After the group's last build, before its timing: no helper is left running."""


class PreBuilder(NoPreBuilder):
    """The helper of one group (`cases`, in the child's build order), started on construction."""

    parallel = True

    def __init__(self, cases: list[Case], config: HarnessConfig):
        self.index = {c.id: n for n, c in enumerate(cases)}
        self.tmp = tempfile.TemporaryDirectory(prefix="nested-ad-prebuild-")
        self.dir = Path(self.tmp.name)
        for sub in ("claims", "done"):
            (self.dir / sub).mkdir()
        write_cases(self.dir / "cases.json", cases)
        cmd = [sys.executable, "-m", "bench.prebuild", str(self.dir), f"--parent={os.getpid()}",
               f"--parts={int(config.policy.parts)}",
               *([f"--params={config.params_file}"] if config.params_file else []),
               *(f"--plugin={m}" for m in config.plugins)]  # fmt: skip
        # No preexec_fn: the child runs JAX's and PyTorch's threads, and Python code between fork
        # and exec could then deadlock; the helper arranges to die with the child itself.
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip

    def claim(self, case: Case) -> dict | None:
        n = self.index.get(case.id)
        if n is None or _claim(self.dir, n):
            return None
        done = self.dir / "done" / f"{n}.json"
        while not done.exists() and self.proc.poll() is None:
            time.sleep(POLL_S)
        try:
            return json.loads(done.read_text())
        except (OSError, ValueError):  # the helper died building it: the child builds it cold
            return None

    def finished(self, cases: list[Case]) -> Case | None:
        by_index = {self.index[c.id]: c for c in cases if c.id in self.index}
        return next((c for n, c in by_index.items() if (self.dir / "done" / f"{n}.json").exists()), None)

    def pause(self) -> None:
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def _signal(self, sig: int) -> None:
        """To the helper's session: it and the compiler processes it started."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:  # exited meanwhile
                pass

    def close(self) -> None:
        if self.proc.poll() is None:  # every case claimed: it is exiting, or stuck
            os.killpg(self.proc.pid, signal.SIGKILL)  # it and its compile workers, stopped or not
        self.proc.wait()
        self.tmp.cleanup()


def worth_a_helper(cases: list[Case], caches_compiled: Callable[[Case], bool], config: HarnessConfig) -> bool:
    """Whether a helper can pay for this group and `config.prebuild` asks for one (see the module
    docstring); `caches_compiled(case)`: whether its backend and compile mode compile to an on-disk
    cache."""
    if not config.prebuild or len(cases) < MIN_CASES or len(os.sched_getaffinity(0)) < 2:
        return False
    try:
        return bool(caches_compiled(cases[0]))
    except Exception:  # noqa: BLE001 - the child's own builds report what is wrong with a case
        return False


def pre_builder(
    cases: list[Case], caches_compiled: Callable[[Case], bool], config: HarnessConfig
) -> NoPreBuilder:
    """The helper of a group, started, where one can pay (`worth_a_helper`). A helper that cannot
    start is none: the child builds alone."""
    if worth_a_helper(cases, caches_compiled, config):
        try:
            return PreBuilder(cases, config)
        except Exception:  # noqa: BLE001 - a helper is an optimisation, never a failure
            pass
    return NoPreBuilder()


def _claim(directory: Path, n: int) -> bool:
    try:
        os.close(os.open(directory / "claims" / str(n), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        return True
    except FileExistsError:
        return False


def main(argv=None) -> int:
    """The helper: the group's cases built and warmed from the last back, until one is claimed."""
    p = argparse.ArgumentParser(prog="python -m bench.prebuild", description=main.__doc__)
    p.add_argument("dir", help="the pre-builder's directory (cases.json, claims/, done/)")
    p.add_argument("--parent", type=int, help="the child's pid: the helper dies with it")
    p.add_argument("--parts", type=int, default=1, help="1: warm each case's parts too")
    p.add_argument("--params", help=".npz parameter file the child evaluates at")
    p.add_argument("--plugin", action="append", default=[], help="plugin module the child loaded")
    args = p.parse_args(argv)
    from bench.driver import die_with_parent
    from bench.measure import build, building_beside, warm_up
    from bench.plugins import load_plugins

    if args.parent is not None:
        die_with_parent(args.parent)
    load_plugins(args.plugin)
    directory = Path(args.dir)
    config = HarnessConfig(params_file=args.params)
    cases = read_cases(directory / "cases.json")
    with building_beside(cases[0]):  # the child builds beside it, with the same settings
        for n in reversed(range(len(cases))):
            if not _claim(directory, n):
                break
            prepared = build(cases[n], config)
            if prepared.ok:
                warm_up(prepared, bool(args.parts))
            tmp = directory / "done" / f"{n}.tmp"
            tmp.write_text(json.dumps({f: prepared.record.get(f) for f in ("status", "compile_s")}))
            os.replace(tmp, directory / "done" / f"{n}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
