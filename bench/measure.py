"""Measure cases: build, check against the float64 reference, then time — in that order.

A case is timed only if its result is finite and within the problem's tolerance; otherwise it is
recorded as `wrong` with its error. Compilation (building, tracing, jit, the first call) happens
outside the timed region and is recorded as `compile_s`; the timed call synchronises the device.

Cases are measured by comparison group (`bench/groups.py`): every case of the group is built and
checked first, one after the other; then the group's ok cases — each evaluation and each of its
parts (the loss alone, a UDE's solve...) — are timed side by side, interleaved block by block
(`bench/timing.py`), with the machine's competing load read before and after (`bench/load.py`).
Parts are interleaved too, because the cost ratios made of them (time / loss time, a UDE's
split) are ratios like any other and drift would skew them just the same. Peak memory and the
program's metrics are measured per case afterwards: they are not times. `mark(case_id)` is
called whenever the case in progress changes (each build, each burst), so the driver attributes
a crash or a hang to the right case and its budget clock restarts with that case's progress.
"""

from __future__ import annotations

import json
import os
import re
import time
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from backends import get_backend
from backends.base import Compiled, UnsupportedStrategy
from bench.cases import Case
from bench.config import HarnessConfig
from bench.consensus import reference_for, reference_record
from bench.groups import baseline_strategy, group_key, may_lead
from bench.load import assess, pinned_and_total_cpus, read_load
from bench.memory import peak_memory
from bench.prebuild import PRE_BUILDER, NoPreBuilder, pre_builder, worth_a_helper
from bench.racing import Race, hopeless
from bench.rounding import stencil_rounding
from bench.timing import MemberFailed, Timing, measure_interleaved, ratio
from problems import get_problem, load_params
from problems.core import RoundingMeasurement
from problems.errors import BenchInputError

PARAM_SEED = 0
WARMUP_CALLS = 2
DEFAULT = HarnessConfig()
"""A case measured alone with the default timing (tests, `measure(case)`); the pytest children
build theirs from the options (`bench/conftest.py`) and pass it down."""

MAIN = ""
"""The member name of a case's evaluation itself (its parts are named by the backend)."""


def case_params(problem, params_file: str | None = None) -> dict[str, np.ndarray]:
    """The parameters every case of the run is evaluated at: those in `params_file` (`--params`),
    else the seeded initialisation."""
    if params_file:
        return load_params(params_file, problem.network)
    return problem.init_params(PARAM_SEED)


def base_record(case: Case) -> dict:
    return {
        "case_id": case.id,
        "problem": case.problem,
        **case.options_dict(),
        "backend": case.backend,
        "strategy": case.strategy,
        "compile_mode": case.compile_mode,
        "dtype": case.dtype,
        "device": case.device,
        "status": None,
        "error": "",
        "threads": len(os.sched_getaffinity(0)),
        "n_params": case.n_params,
    }


def params_in_dtype(params: dict[str, np.ndarray], dtype: str) -> dict[str, np.ndarray]:
    """The parameters as the strategy sees them, back in float64 for the reference."""
    return {k: v.astype(dtype).astype(np.float64) for k, v in params.items()}


def check(problem, strategy: str, dtype: str, value: float, grads: dict,
          measured_rounding: RoundingMeasurement | None = None,
          params_file: str | None = None) -> dict:  # fmt: skip
    """Errors against the reference and the verdict: status `ok` or `wrong`.

    The problem's `compare` (or, for a user's model without an independent reference, its float64
    consensus: `bench.consensus`; the record's `reference` says which) measures the errors (the full
    reference gradient, or complex-step directional derivatives g·v for networks too large for it)
    at the parameters as the strategy saw them (rounded to `dtype`); its `tolerance_parts` say how
    large they may be, and every part is recorded. A finite-difference strategy's tolerance needs
    its `measured_rounding` (`bench.rounding.stencil_rounding`). `params_file`: as `case_params`.
    """
    params = params_in_dtype(case_params(problem, params_file), dtype)
    checker = reference_for(problem)  # the problem, or the float64 consensus of a user's model
    parts = checker.tolerance_parts(strategy, dtype, params, measured_rounding)
    tolerance = parts.total
    value_err, grad_err, ref_value = checker.compare(params, value, grads)
    result = {
        "value": value,
        "reference_value": ref_value,
        "value_rel_err": value_err,
        "grad_rel_err": grad_err,
        **parts.record(),
        **reference_record(problem, checker, params),
    }
    if not np.isfinite(grad_err):
        return {**result, "status": "wrong", "error": "non-finite value or gradient"}
    if grad_err > tolerance or value_err > tolerance:
        worst = max(grad_err, value_err)
        return {
            **result,
            "status": "wrong",
            "error": f"relative error {worst:.3e} > tolerance {tolerance:.3e}",
        }
    return {**result, "status": "ok"}


@dataclass
class Prepared:
    """A case built and checked; if ok, its evaluation ready to time, then its timings."""

    case: Case
    record: dict
    compiled: Compiled | None = None
    native: Any = None
    timings: dict[str, Timing] = field(default_factory=dict)
    """Member name (MAIN or a part's name) -> its interleaved timing."""
    hopeless: bool = False
    """Race mode: its first warm call was hopeless; recorded with it and not timed further."""

    @property
    def ok(self) -> bool:
        return self.record["status"] == "ok"

    def members(self, parts: bool) -> dict[str, Callable[[], object]]:
        """The synchronised calls to time: the evaluation, then each part if `parts`
        (`TimingPolicy.parts`)."""
        calls = {MAIN: self.main}
        for name, part in self.compiled.parts.items() if parts else ():
            calls[name] = lambda part=part: part(self.native)
        return calls

    def main(self) -> object:
        """One synchronised call of the evaluation itself."""
        return self.compiled.run(self.native)

    def fail(self, error: str, status: str = "failed") -> None:
        self.record.update(status=status, error=error)
        self.compiled = self.native = None


def build(case: Case, config: HarnessConfig = DEFAULT) -> Prepared:
    """Build and check one case; never raises for a failing strategy."""
    record = base_record(case)
    prepared = Prepared(case, record)
    try:
        problem = get_problem(case.problem, **case.options_dict())
        backend = get_backend(case.backend)
        if case.device not in backend.available_devices():
            record.update(
                status="skipped",
                error=f"device {case.device!r} not available to {case.backend} on this machine "
                f"(available: {', '.join(backend.available_devices())})",
            )
            return prepared
        record["device_name"] = backend.device_name(case.device)
        start = time.perf_counter()
        compiled = backend.value_and_grad(problem, case.strategy, case.dtype, case.device, case.compile_mode)
        built = time.perf_counter()
        params = case_params(problem, config.params_file)
        native = compiled.prepare(params)
        first = time.perf_counter()
        out = compiled.run(native)
        done = time.perf_counter()
        record["compile_s"] = (built - start) + (done - first)
        result = compiled.to_numpy(out)
        rounding = None
        if problem.error_model(case.strategy) == "finite-difference":
            rounding = stencil_rounding(backend, problem, case.strategy, case.dtype, case.device,
                                        case.compile_mode, params, result)  # fmt: skip
        record.update(check(problem, case.strategy, case.dtype, *result, rounding, config.params_file))
    except UnsupportedStrategy as exc:
        record.update(status="unsupported", error=str(exc))
        return prepared
    except BenchInputError as exc:
        record.update(status="failed", error=str(exc))
        return prepared
    except Exception as exc:  # noqa: BLE001 - any failure of a strategy is a result
        record.update(status=failure_status(exc), error=describe_error(exc))
        return prepared
    if prepared.ok:
        prepared.compiled, prepared.native = compiled, native
    return prepared


def warm_up(p: Prepared, parts: bool, skip_first: bool = False) -> None:
    """WARMUP_CALLS of the evaluation and of each part if `parts` (a part's first call compiles
    it); `skip_first`: the evaluation's first warm-up call was made already (`first_call`)."""
    try:
        for name, call in p.members(parts).items():
            for _ in range(WARMUP_CALLS - (skip_first and name == MAIN)):
                call()
    except Exception as exc:  # noqa: BLE001
        p.fail(f"during warm-up: {describe_error(exc)}", failure_status(exc))


def first_call(p: Prepared) -> float | None:
    """Seconds of the evaluation's first warm call (the first after the compiling one), or None
    if it raised (then the case is failed)."""
    try:
        start = time.perf_counter()
        p.main()
        return time.perf_counter() - start
    except Exception as exc:  # noqa: BLE001
        p.fail(f"during warm-up: {describe_error(exc)}", failure_status(exc))
        return None


def group_label(case: Case) -> str:
    """The comparison group in words: `penalty[points=101] jax jit float32 cpu`."""
    return f"{case.instance} {case.backend} {case.compile_mode} {case.dtype} {case.device}"


def write_progress(progress_file: str | None, state: dict | None) -> None:
    """The group being timed, for the driver's progress line (`progress_file`, none: not
    written; `state` None: no group). Atomic: written, then renamed."""
    if not progress_file:
        return
    if state is None:
        Path(progress_file).unlink(missing_ok=True)
        return
    tmp = f"{progress_file}.tmp"
    Path(tmp).write_text(json.dumps(state))
    os.replace(tmp, progress_file)


def end_hopeless(group: list[Prepared], first: dict[str, float]) -> None:
    """Race mode: a case whose first warm call is hopeless (`bench.racing.hopeless`) is called
    once more, and if its faster call is still hopeless it is recorded with that call and not
    timed further. The second call is the check: a warm call can still compile (torch.compile
    recompiles on a guard that failed at the first call, e.g. a tensor's `requires_grad` or a
    shape it specialised on: jet-for-pytorch's interpreted jets took 19 s, 1.5 s, then 6 ms)."""
    by_id = {p.case.id: p for p in group}

    def leads(case_id):
        return may_lead(by_id[case_id].case)

    best = dict(first)
    for case_id in hopeless(first, leads):
        again = first_call(by_id[case_id])
        if again is None:  # it raised: failed
            del best[case_id]
        else:
            best[case_id] = min(first[case_id], again)
    reasons = hopeless(best, leads)
    fastest_id = min(best, key=lambda c: (not leads(c), best[c]), default=None)
    for case_id, reason in reasons.items():
        p = by_id[case_id]
        t = best[case_id]
        p.record.update(
            median_s=t, first_call_s=first[case_id], rounds=2, blocks=0, iterations=1, stable=False,
            timing_mode="race", baseline_strategy=baseline_strategy(p.case),
            dropped_after_blocks=0, dropped_reason=reason, fastest_strategy=by_id[fastest_id].case.strategy,
            ratio_to_fastest=t / best[fastest_id], ratio_to_fastest_lo=None, ratio_to_fastest_hi=None,
        )  # fmt: skip
        p.hopeless = True
        p.compiled = p.native = None


def time_group(group: list[Prepared], mark: Callable[[str], None] | None = None,
               config: HarnessConfig = DEFAULT) -> None:  # fmt: skip
    """Time the group's ok cases side by side and add the timing fields to their records.

    In race mode (`config.policy.mode`, `bench/racing.py`) a case whose first warm call is hopeless is
    recorded with it and not timed, and the rest race. A case that raises while timed is
    recorded `failed` and the rest are timed again without it.
    """
    first = {}
    for p in group:
        if p.ok:
            if mark:
                mark(p.case.id)
            t = first_call(p)
            if t is not None:
                first[p.case.id] = t
    if config.policy.mode == "race":
        end_hopeless(group, first)
    for p in group:
        if p.ok and not p.hopeless:
            if mark:
                mark(p.case.id)
            warm_up(p, config.policy.parts, skip_first=True)
    while timed := [p for p in group if p.ok and not p.hopeless]:
        if time_interleaved(timed, mark, config):
            return


def time_interleaved(timed: list[Prepared], mark: Callable[[str], None] | None,
                     config: HarnessConfig = DEFAULT) -> bool:  # fmt: skip
    """One interleaved measurement of `timed` (their evaluations and parts), racing in race mode;
    False when a case raised (it is failed; the rest are to be timed again without it)."""
    baseline = baseline_strategy(timed[0].case)
    reference = next((p for p in timed if p.case.strategy == baseline), timed[0])
    by_id = {p.case.id: p for p in timed}
    policy, parts = config.policy, config.policy.parts

    def strategy(case_id: str) -> str:
        return by_id[case_id].case.strategy

    members, judged = {}, {}
    for p in timed:
        for name, call in p.members(parts).items():
            members[(p.case.id, name)] = call
            if name != MAIN:
                judged[(p.case.id, name)] = (p.case.id, MAIN)  # its ratio to its own case
            elif len(timed) == 1:
                judged[(p.case.id, MAIN)] = None  # alone: its own block medians
            elif p is not reference:
                judged[(p.case.id, MAIN)] = (reference.case.id, MAIN)
    race = Race(
        candidates={p.case.id: (p.case.id, MAIN) for p in timed},
        members={p.case.id: [(p.case.id, name) for name in p.members(parts)] for p in timed},
        may_lead=lambda case_id: may_lead(by_id[case_id].case),
    )
    progress = {"group": group_label(timed[0].case), "started": time.time(), "mode": policy.mode}

    def after_block(n: int) -> None:
        write_progress(config.progress_file, {**progress, "block": n, **race.progress(strategy)})

    after_block(0)
    pinned, cpus = pinned_and_total_cpus()
    before = read_load()
    try:
        timings = measure_interleaved(
            members, policy, judged, before_burst=(lambda key: mark(key[0])) if mark else None,
            race=race, after_block=after_block,
        )  # fmt: skip
    except MemberFailed as exc:
        failed = by_id[exc.member[0]]
        failed.fail(f"during timing: {describe_error(exc.cause)}", failure_status(exc.cause))
        return False
    finally:
        write_progress(config.progress_file, None)
    contended, note = assess(before, read_load(), pinned, cpus)
    for p in timed:
        p.timings = {name: timings[(p.case.id, name)] for name in p.members(parts)}
        p.record.update(timing_record(p, timings, reference, baseline, contended, note))
        p.record.update(race_record(p, race, timings, strategy, policy.mode))
    return True


def timing_record(p: Prepared, timings: dict, reference: Prepared, baseline: str, contended: bool,
                  note: str) -> dict:  # fmt: skip
    """The timing fields of one case: its rounds' statistics, block medians, its ratio to the
    group's baseline with the ratio's spread, the load verdict, and its parts'."""
    main = p.timings[MAIN]
    samples = main.samples
    record = {
        **main.summary(),
        "iterations": main.iterations,
        "mean_s": float(np.mean(samples)),
        "stddev_s": float(np.std(samples, ddof=1)) if len(samples) > 1 else 0.0,
        "baseline_strategy": baseline,
        "ratio_to_baseline": None,
        "ratio_to_baseline_lo": None,
        "ratio_to_baseline_hi": None,
        "contended": contended,
        "load_note": note,
        "stable": main.stable and not contended,
    }
    if reference.case.strategy == baseline:
        r = ratio(main, timings[(reference.case.id, MAIN)])
        record.update(ratio_to_baseline=r.median, ratio_to_baseline_lo=r.lo, ratio_to_baseline_hi=r.hi)
    for name, timing in p.timings.items():
        if name != MAIN:
            record.update(timing.summary(f"{name}_"))
            record[f"{name}_stable"] = timing.stable and not contended
    return record


def race_record(p: Prepared, race: Race, timings: dict, strategy_of: Callable[[str], str],
                mode: str) -> dict:  # fmt: skip
    """A case's racing fields (timing `mode` "race"): the group's verdict, its ratio to the
    fastest (the race's leader) with its spread over the blocks it was timed in, and, if dropped,
    after how many blocks and why (its times rest on those blocks only)."""
    if mode != "race":
        return {"timing_mode": "precision"}
    record = {"timing_mode": "race", "race_verdict": race.verdict}
    if race.leader is not None:
        fastest = timings[race.candidates[race.leader]]
        r = ratio(p.timings[MAIN], fastest)
        record["fastest_strategy"] = strategy_of(race.leader)
        record.update(ratio_to_fastest=r.median, ratio_to_fastest_lo=r.lo, ratio_to_fastest_hi=r.hi)
    dropped = race.dropped.get(p.case.id)
    if dropped is not None:
        record.update(dropped_after_blocks=dropped.after_blocks, dropped_reason=dropped.reason)
    return record


def finish(p: Prepared, benchmark=None) -> dict:
    """The case's full record: its rounds handed to pytest-benchmark, peak memory, metrics."""
    if not p.ok or not p.timings:
        return p.record
    record = p.record
    try:
        run = p.main
        time_into_benchmark(p.timings[MAIN], benchmark, run)
        record.update(peak_memory(run, p.case.backend, p.case.device))
        if p.compiled.metrics is not None:
            record.update(p.compiled.metrics(p.native))
    except Exception as exc:  # noqa: BLE001
        record.update(status=failure_status(exc), error=f"during timing: {describe_error(exc)}")
    p.compiled = p.native = None  # free the evaluation once its case is done
    return record


def measure_group(cases: list[Case], mark: Callable[[str], None] | None = None,
                  config: HarnessConfig = DEFAULT, helper: NoPreBuilder | None = None,
                  ahead: NoPreBuilder | None = None) -> list[Prepared]:  # fmt: skip
    """Build and check every case (in order), then time the ok ones side by side. With
    `config.prebuild`, a helper process builds from the last case back meanwhile where that pays
    (`bench/prebuild.py`; it has exited before the timing starts): each case's record then says
    its compile time was measured beside a parallel build (`compile_parallel`), and a case the
    helper built keeps the helper's cold compile time (`compiled_by`). `helper`: this group's,
    started ahead (else one is started here where it pays); `ahead`: a later group's helper, which
    builds while this group builds and is paused before this group is timed."""
    built: dict[str, Prepared] = {}
    pending = list(cases)
    helper = pre_builder(cases, caches_compiled, config) if helper is None else helper
    ahead = NoPreBuilder() if ahead is None else ahead
    parallel = helper.parallel or ahead.parallel
    try:
        helper.resume()
        ahead.resume()
        with building_beside(cases[0]) if parallel else nullcontext():
            while pending:
                case = helper.finished(pending) or pending[0]  # the helper's first, while it builds
                pending.remove(case)
                if mark:
                    mark(case.id)
                theirs = helper.claim(case)
                p = build(case, config)
                if p.ok and parallel:
                    p.record["compile_parallel"] = True
                    if theirs is not None and theirs.get("compile_s") is not None:  # its cold build
                        p.record.update(compile_s=theirs["compile_s"], compiled_by=PRE_BUILDER)
                built[case.id] = p
    finally:
        ahead.pause()
        helper.close()
    prepared = [built[c.id] for c in cases]
    time_group(prepared, mark, config)
    return prepared


def caches_compiled(case: Case) -> bool:
    """Whether the case's backend keeps what its compile mode compiles in an on-disk cache."""
    return get_backend(case.backend).caches_compiled(case.compile_mode)


def building_beside(case: Case) -> AbstractContextManager:
    """The backend's settings for building the case's compile mode beside a second building
    process (`Backend.building_beside`)."""
    return get_backend(case.backend).building_beside(case.compile_mode)


def measure(case: Case, benchmark=None, config: HarnessConfig = DEFAULT) -> dict:
    """The full record of one case measured alone; without `benchmark`, built and checked only."""
    if benchmark is None:
        return build(case, config).record
    (prepared,) = measure_group([case], config=config)
    return finish(prepared, benchmark)


class GroupRunner:
    """Measures a child's cases group by group: the first case of a group asked for measures the
    whole group (its cases among `cases` not yet handed out); each case is then handed out once,
    by its own test, which finishes and records it.

    While a group that builds alone is built, the helper of the next group that will have one is
    already building it (`bench/prebuild.py`, "Started ahead"); it is paused whenever the child
    times. `close` ends a helper whose group was never reached."""

    def __init__(self, cases: list[Case], mark: Callable[[str], None] | None = None,
                 config: HarnessConfig = DEFAULT):  # fmt: skip
        self.cases = cases
        self.mark = mark
        self.config = config
        self.ready: dict[str, Prepared] = {}
        self.handed_out: set[str] = set()
        self.ahead: tuple[object, NoPreBuilder] | None = None
        """(group key, its helper), started while an earlier group built."""

    def take(self, case: Case) -> Prepared:
        if case.id not in self.ready:
            key = group_key(case)
            group = self._pending(key)
            group = group if case in group else [case]
            helper, ahead = self._helpers(key, group)
            for p in measure_group(group, self.mark, self.config, helper=helper, ahead=ahead):
                self.ready[p.case.id] = p
        if self.mark:
            self.mark(case.id)  # back to this case: its memory and metrics come next
        self.handed_out.add(case.id)
        return self.ready.pop(case.id)

    def close(self) -> None:
        if self.ahead is not None:
            self.ahead[1].close()
            self.ahead = None

    def _pending(self, key) -> list[Case]:
        return [c for c in self.cases if group_key(c) == key and c.id not in self.handed_out]

    def _helpers(self, key, group: list[Case]) -> tuple[NoPreBuilder | None, NoPreBuilder | None]:
        """(this group's helper if it was started ahead, else None; a later group's helper to build
        beside this group's builds, or None)."""
        if self.ahead is not None and self.ahead[0] == key:
            helper, self.ahead = self.ahead[1], None
            return helper, None
        if worth_a_helper(group, caches_compiled, self.config):
            return None, None  # it gets its own; one helper at a time
        if self.ahead is None:
            later = self._next_helped_group(key)
            if later is not None:
                self.ahead = (later, pre_builder(self._pending(later), caches_compiled, self.config))
        return None, (self.ahead[1] if self.ahead is not None else None)

    def _next_helped_group(self, key):
        """The key of the first group after `key` (in the child's order) that will have a helper."""
        keys = list(dict.fromkeys(group_key(c) for c in self.cases if c.id not in self.handed_out))
        for later in keys[keys.index(key) + 1 :] if key in keys else []:
            if worth_a_helper(self._pending(later), caches_compiled, self.config):
                return later
        return None


def time_into_benchmark(timing: Timing, benchmark, fn: Callable[[], object] | None = None) -> None:
    """Hand the rounds to pytest-benchmark's own stats, so its JSON and `pytest-benchmark
    compare` see exactly the numbers we report."""
    if benchmark is None:
        return
    if hasattr(benchmark, "_make_stats"):
        benchmark._mode = "benchmark(...)"  # the fixture's own single-use guard
        stats = benchmark._make_stats(timing.iterations)
        for sample in timing.samples:
            stats.update(sample * timing.iterations)  # it stores duration / iterations
    elif fn is not None:  # a pytest-benchmark without that internal: let it re-measure as many rounds
        benchmark.pedantic(fn, rounds=len(timing.samples), iterations=timing.iterations)


OUT_OF_MEMORY = re.compile(r"out of memory|RESOURCE_EXHAUSTED|OutOfMemory", re.IGNORECASE)
"""How the frameworks say it: torch.OutOfMemoryError ("CUDA out of memory"), XLA
"RESOURCE_EXHAUSTED: Out of memory while trying to allocate ..."."""


def failure_status(exc: BaseException) -> str:
    """`out of memory` for an allocation failure (Python's MemoryError or a framework's), else `failed`."""
    if isinstance(exc, MemoryError) or OUT_OF_MEMORY.search(f"{type(exc).__name__}: {exc}"):
        return "out of memory"
    return "failed"


def describe_error(exc: BaseException) -> str:
    """Exception type, message and the innermost frame, on one short line."""
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}" if tb else ""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message[:300]}{where}"
