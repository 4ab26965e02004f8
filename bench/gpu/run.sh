#!/usr/bin/env bash
# The prepared GPU run (issue 20), in one command from the repository root:
#     OUT=/some/dir bash bench/gpu/run.sh
# 1. installs the carried wheels (.whl/, from bench/gpu/fetch_wheels.sh) into $SITE with the
#    system Python's pip, no index, no dependencies, and puts $SITE first on PYTHONPATH;
# 2. prints the environment (nvidia-smi, Python, every project dependency's version, JAX devices);
# 3. runs the sweep $SET (bench/sets/gpu.toml) on $DEVICE from this checkout, stopped by SIGTERM
#    after $BENCH_LIMIT_S (it keeps every finished case and renders the report of what exists);
#    if $RUN_DIR already holds a run (a second call on the same machine), it is resumed;
# 4. cross-checks the harness's medians against the device's clock (python -m bench.crosscheck);
# 5. leaves at most six files in $OUT, none in a subfolder: the run directory as one archive
#    (<run>.tar.gz), report.html, crosscheck.md, crosscheck.csv, run.log.
# Settings (environment): OUT (default reports/out/gpu-<date>), DEVICE (cuda; cpu for a dry run),
# SET (gpu), PYTHON (python3), SITE (/tmp/site), RUN_DIR (/tmp/nested-ad-bench/gpu-<date>),
# BENCH_ARGS (more bench.run options), XCHECK_ARGS (more bench.crosscheck options),
# BENCH_LIMIT_S (380), XCHECK_LIMIT_S (90).
# CPU dry run (what the tests of this script do, in a minute):
#     OUT=/tmp/dry DEVICE=cpu SET=smoke PYTHON=.venv/bin/python SITE=/tmp/dry-site \
#     RUN_DIR=/tmp/dry-run BENCH_ARGS="--threads 1 --max-time 0.05" XCHECK_ARGS="--calls 5" \
#     bash bench/gpu/run.sh
set -uo pipefail
cd "$(dirname "$0")/../.."

today=$(date -u +%Y-%m-%d)
OUT=${OUT:-reports/out/gpu-$today}
DEVICE=${DEVICE:-cuda}
SET=${SET:-gpu}
PYTHON=${PYTHON:-python3}
SITE=${SITE:-/tmp/site}
RUN_DIR=${RUN_DIR:-/tmp/nested-ad-bench/gpu-$today}
BENCH_LIMIT_S=${BENCH_LIMIT_S:-380}
XCHECK_LIMIT_S=${XCHECK_LIMIT_S:-90}
mkdir -p "$OUT" "$(dirname "$RUN_DIR")"
exec > >(tee -a "$OUT/run.log") 2>&1
started=$(date +%s)
step() { echo; echo "== $(( $(date +%s) - started )) s: $*"; }

# JAX would otherwise take 75 % of the GPU's memory at start, leaving PyTorch's cases in the same
# process the rest; on demand, both grow their own pools (timing is taken after warm-up).
export XLA_PYTHON_CLIENT_PREALLOCATE=false MPLBACKEND=Agg PYTHONUNBUFFERED=1

step "install the carried wheels into $SITE"
shopt -s nullglob
wheels=(.whl/*.whl)
if (( ${#wheels[@]} )); then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$SITE" "${wheels[@]}" || echo "error: pip could not install the carried wheels"
    export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
    printf '  %s\n' "${wheels[@]}"
else
    echo "note: no .whl/*.whl here (bash bench/gpu/fetch_wheels.sh downloads them)"
fi

step "environment"
nvidia-smi || echo "note: nvidia-smi not available"
"$PYTHON" - <<'PY'
import importlib.metadata as md, platform, re, sys, tomllib
print("python", sys.version.split()[0], platform.machine())
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
missing = []
for dep in deps:
    name = re.split(r"[ <>=!~;\[]", dep, maxsplit=1)[0]
    try:
        print(f"  {name} {md.version(name)}  (wants {dep.split('#')[0].strip()})")
    except md.PackageNotFoundError:
        missing.append(name)
for module in ("jet", "torchode", "folx", "diffrax", "optax", "torchdiffeq", "pytest_benchmark"):
    try:
        print(f"  import {module}: {__import__(module).__file__}")
    except Exception as exc:  # noqa: BLE001 - reported, the run still tries
        missing.append(f"{module} ({type(exc).__name__}: {exc})")
print("missing:", ", ".join(missing) if missing else "nothing")
import jax, torch
print("jax devices:", jax.devices())
print("torch cuda:", torch.cuda.is_available(), torch.version.cuda,
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
PY

step "sweep $SET on $DEVICE into $RUN_DIR (stopped after $BENCH_LIMIT_S s)"
if [ -f "$RUN_DIR/results.jsonl" ]; then where=(--resume "$RUN_DIR"); else where=(--out "$RUN_DIR"); fi
# shellcheck disable=SC2086  # BENCH_ARGS is a list of options
timeout -s TERM --kill-after=60 "$BENCH_LIMIT_S" \
    "$PYTHON" -m bench.run --set "$SET" --device "$DEVICE" "${where[@]}" ${BENCH_ARGS:-}
echo "bench.run exit status $? (143: stopped at the time limit, finished cases kept)"

step "cross-check: harness medians against the device's clock"
# shellcheck disable=SC2086
timeout -s TERM --kill-after=10 "$XCHECK_LIMIT_S" \
    "$PYTHON" -m bench.crosscheck "$RUN_DIR" --out "$RUN_DIR/crosscheck" ${XCHECK_ARGS:-}
echo "bench.crosscheck exit status $?"

step "package into $OUT"
for f in report.html crosscheck.md crosscheck.csv; do
    [ -f "$RUN_DIR/$f" ] && cp "$RUN_DIR/$f" "$OUT/$f"
done
tar -czf "$OUT/$(basename "$RUN_DIR").tar.gz" -C "$(dirname "$RUN_DIR")" "$(basename "$RUN_DIR")"
ls -l "$OUT"
step "done"
