"""Cross-check the harness's clock against the device's: `python -m bench.crosscheck RUN_DIR`.

The harness times a call with the host's wall clock around `Compiled.run`, which synchronises
the device before it returns. If a call returned before the device finished, its recorded time
would be too short. Here a sample of a run's ok cases is rebuilt in one process and each call
is timed twice at once, by the host clock and by the device's own clock:

- PyTorch on CUDA: `torch.cuda.Event`s recorded on the current stream before the call and after
  it returns. The end event is queued behind any work the call left running, so a call that
  returns early shows a device time longer than its wall time.
- JAX on CUDA: JAX does not expose its streams, so an event on another stream would not be
  ordered with its kernels. The device clock is the profiler's instead (`jax.profiler` trace,
  CUPTI kernel timestamps on the `/device:GPU:*` planes): the span from the first kernel start to
  the last kernel end within each call, the calls marked by `TraceAnnotation`s on the host.
  This span leaves out the host's dispatch before the first kernel and the synchronisation after
  the last, so for calls of tens of microseconds the host time is larger by that overhead
  (the verdict says so instead of calling it a disagreement).
- CPU (either framework): the device is the host; the device clock is `time.perf_counter`
  around the same call, so the check compares the run's harness median with a fresh one.

Verdict per case (`agree` within `--tolerance`, default 10 %, of the device median):
`agree`, `returns early` (the host's time per call is shorter than the device's: a bug),
`host overhead` (the host's is longer, by less than `OVERHEAD_S` per call: dispatch and sync),
or `disagree`. Writes a CSV and a Markdown table.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.cases import Case, read_cases
from bench.results import upgrade_fields
from bench.threads import set_threads

Span = tuple[int, int]
"""(start_ns, end_ns) of a profiler event."""

OVERHEAD_S = 50e-6
"""Host dispatch + synchronisation one call may add beyond the device's span (JAX on a GPU)."""

FIELDS = (
    "case_id", "backend", "compile_mode", "device", "method", "calls", "harness_median_s",
    "wall_median_s", "device_median_s", "harness_over_device", "wall_over_device", "verdict",
)  # fmt: skip


def sample_cases(records: list[dict], per_group: int = 3, compile_modes=("jit", "eager")) -> list[dict]:
    """Per (backend, compile_mode, device): up to `per_group` ok cases spread over their medians (the
    fastest, the middle, the slowest), so the check covers calls from microseconds to seconds.
    torch.compile cases are left out by default: rebuilding them costs their compile again."""
    by_mode: dict[tuple, list[dict]] = {}
    for r in records:
        if r.get("status") == "ok" and r.get("median_s") and r.get("compile_mode") in compile_modes:
            by_mode.setdefault((r["backend"], r["compile_mode"], r["device"]), []).append(r)
    chosen = []
    for key in sorted(by_mode):
        rows = sorted(by_mode[key], key=lambda r: r["median_s"])
        picks = sorted({round(i * (len(rows) - 1) / max(per_group - 1, 1)) for i in range(per_group)})
        chosen += [rows[i] for i in picks]
    return chosen


def verdict(harness_s: float, wall_s: float, device_s: float, tolerance: float) -> str:
    """See the module docstring."""
    if wall_s < (1 - tolerance) * device_s:
        return "returns early"
    if abs(harness_s / device_s - 1) <= tolerance:
        return "agree"
    if harness_s > device_s and harness_s - device_s <= OVERHEAD_S:
        return "host overhead"
    return "disagree"


def wall_clock_timer(run: Callable[[], object], calls: int) -> tuple[list[float], list[float], str]:
    """(wall, device) seconds per call on a CPU: the device is the host, one clock serves both."""
    walls = []
    for _ in range(calls):
        start = time.perf_counter()
        run()
        walls.append(time.perf_counter() - start)
    return walls, list(walls), "perf_counter"


def torch_cuda_timer(run: Callable[[], object], calls: int) -> tuple[list[float], list[float], str]:
    """(wall, device) seconds per call: perf_counter and CUDA events on the current stream."""
    import torch

    walls, devices = [], []
    for _ in range(calls):
        begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize()
        begin.record()
        start = time.perf_counter()
        run()
        wall = time.perf_counter() - start
        end.record()
        end.synchronize()
        walls.append(wall)
        devices.append(begin.elapsed_time(end) / 1e3)
    return walls, devices, "torch.cuda.Event"


def jax_profiler_timer(run: Callable[[], object], calls: int) -> tuple[list[float], list[float], str]:
    """(wall, device) seconds per call: perf_counter, and the span of the GPU kernels that ran
    inside each call's TraceAnnotation, from a jax.profiler trace (see the module docstring)."""
    import jax

    walls = []
    with tempfile.TemporaryDirectory() as trace_dir:
        jax.profiler.start_trace(trace_dir)
        try:
            for i in range(calls):
                with jax.profiler.TraceAnnotation(f"crosscheck-call-{i}"):
                    start = time.perf_counter()
                    run()
                    walls.append(time.perf_counter() - start)
        finally:
            jax.profiler.stop_trace()
        traces = sorted(Path(trace_dir).rglob("*.xplane.pb"))
        if not traces:
            raise RuntimeError("jax.profiler wrote no .xplane.pb trace")
        data = jax.profiler.ProfileData.from_file(str(traces[-1]))
    windows, kernels = profile_events(data)
    return walls, device_spans(windows, kernels, calls), "jax.profiler (CUPTI kernel spans)"


def profile_events(data) -> tuple[dict[int, Span], list[Span]]:
    """From a jax ProfileData: each annotated call's host window {i: (start_ns, end_ns)}, and every
    GPU kernel as (start_ns, end_ns)."""
    windows, kernels = {}, []
    for plane in data.planes:
        on_gpu = plane.name.startswith("/device:GPU")
        for line in plane.lines:
            for event in line.events:
                start, end = int(event.start_ns), int(event.start_ns + event.duration_ns)
                if event.name.startswith("crosscheck-call-"):
                    windows[int(event.name.rsplit("-", 1)[1])] = (start, end)
                elif on_gpu:
                    kernels.append((start, end))
    return windows, kernels


def device_spans(windows: dict[int, Span], kernels: list[Span], calls: int) -> list[float]:
    """Seconds from the first kernel start to the last kernel end among the kernels that start
    inside each call's window. A call with no kernel in its window is an error: the device clock
    could not be read for it, and nothing is made up."""
    spans = []
    for i in range(calls):
        lo, hi = windows.get(i, (None, None))
        if lo is None:
            raise RuntimeError(f"call {i} has no annotation in the trace")
        inside = [(s, e) for s, e in kernels if lo <= s <= hi]
        if not inside:
            raise RuntimeError(f"no GPU kernel inside call {i}'s window (clocks not aligned?)")
        spans.append((max(e for _, e in inside) - min(s for s, _ in inside)) / 1e9)
    return spans


def timer_for(case: Case) -> Callable:
    if case.device == "cpu":
        return wall_clock_timer
    return torch_cuda_timer if case.backend == "torch" else jax_profiler_timer


def check_case(case: Case, harness_s: float, calls: int, tolerance: float) -> dict:
    """Rebuild one recorded case, warm it up and time `calls` calls with both clocks."""
    from backends import get_backend
    from bench.measure import case_params
    from problems import get_problem

    problem = get_problem(case.problem, **case.options_dict())
    backend = get_backend(case.backend)
    compiled = backend.value_and_grad(problem, case.strategy, case.dtype, case.device, case.compile_mode)
    native = compiled.prepare(case_params(problem))
    for _ in range(3):
        compiled.run(native)
    walls, devices, method = timer_for(case)(lambda: compiled.run(native), calls)
    harness, wall, device = harness_s, statistics.median(walls), statistics.median(devices)
    return {
        "case_id": case.id, "backend": case.backend, "compile_mode": case.compile_mode, "device": case.device,
        "method": method, "calls": calls, "harness_median_s": harness, "wall_median_s": wall,
        "device_median_s": device, "harness_over_device": harness / device, "wall_over_device": wall / device,
        "verdict": verdict(harness, wall, device, tolerance),
    }  # fmt: skip


def load_records(run_dir: Path) -> list[dict]:
    """The run's last record per case of its cases.json (which holds each case's options)."""
    cases = {c.id for c in read_cases(run_dir / "cases.json")}
    records = {}
    for line in (run_dir / "results.jsonl").read_text().splitlines():
        if line.strip() and (r := upgrade_fields(json.loads(line))).get("case_id") in cases:
            records[r["case_id"]] = r
    return list(records.values())


def markdown(rows: list[dict]) -> str:
    head = "| case | clock | harness median | wall median | device median | harness / device | verdict |"
    lines = [head, "|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['case_id']} | | | | | | error: {r['error']} |")
            continue
        lines.append(
            f"| {r['case_id']} | {r['method']} | {r['harness_median_s']:.4g} s | {r['wall_median_s']:.4g} s "
            f"| {r['device_median_s']:.4g} s | {r['harness_over_device']:.3f} | {r['verdict']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.crosscheck", description=__doc__.split("\n\n")[0])
    p.add_argument("run_dir", type=Path)
    p.add_argument("--per-group", type=int, default=3, help="cases per backend × compile mode × device")
    p.add_argument("--calls", type=int, default=20, help="timed calls per case")
    p.add_argument("--tolerance", type=float, default=0.10, help="relative agreement required")
    p.add_argument("--out", type=Path, help="file stem for .csv and .md (default RUN_DIR/crosscheck)")
    p.add_argument("--threads", type=int, help="intra-op threads (default: those the run's cases had)")
    args = p.parse_args(argv)
    if not all((args.run_dir / name).exists() for name in ("results.jsonl", "cases.json")):
        print(f"error: {args.run_dir}: not a run directory (no results.jsonl, cases.json)", file=sys.stderr)
        return 2
    stem = args.out or args.run_dir / "crosscheck"
    records = load_records(args.run_dir)
    set_threads(args.threads or max((r.get("threads") or 0 for r in records), default=0))  # before JAX
    rows = []
    cases = {c.id: c for c in read_cases(args.run_dir / "cases.json")}
    for record in sample_cases(records, args.per_group):
        try:
            rows.append(check_case(cases[record["case_id"]], record["median_s"], args.calls, args.tolerance))
        except Exception as exc:  # noqa: BLE001 - one case that cannot be checked is reported, the rest go on
            rows.append({"case_id": record["case_id"], "error": f"{type(exc).__name__}: {exc}"})
        print(markdown(rows[-1:]).splitlines()[-1], flush=True)
    with open(f"{stem}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=(*FIELDS, "error"))
        writer.writeheader()
        writer.writerows(rows)
    Path(f"{stem}.md").write_text(markdown(rows))
    print(f"{len(rows)} cases cross-checked; {stem}.csv, {stem}.md", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
