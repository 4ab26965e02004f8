#!/bin/bash
# One shard of a sweep per SLURM array task (README: "Sweeps at scale: shards and array jobs").
# Submit from the checkout, after `make venv` there (so the tasks do not race to create .venv):
#
#   sbatch --array=1-8 bench/slurm/array-job.sh                 # SET=orders, 8 shards into results/
#   SET=pinn RESULTS=pinn sbatch --array=1-4 --cpus-per-task=4 bench/slurm/array-job.sh
#
# Settings (environment, exported by sbatch): SET (sweep; default orders), SHARDS (n; default the
# array's highest task id, then remembered in RESULTS/shards), RESULTS (directory of the shard-<i>
# run directories; default results), THREADS (default: the task's CPUs), BENCH_ARGS (more
# `python -m bench.run` options). A task stopped at its time limit (SIGTERM, then SIGKILL after
# the site's KillWait) keeps every finished case; submit the same task again (sbatch --array=<i>)
# and it resumes its shard-<i> (RESUME=), running only what is missing. Once all are done:
#   make report RUN="$(ls -d results/shard-*)" OUT=results/merged
#SBATCH --job-name=nested-ad-bench
#SBATCH --array=1-8
#SBATCH --cpus-per-task=8
#SBATCH --time=02:00:00
#SBATCH --output=slurm-%A_%a.out
set -euo pipefail
cd "${SLURM_SUBMIT_DIR:?submit with sbatch from the checkout}"
[ -x .venv/bin/python ] || { echo "error: no .venv in $PWD: run 'make venv' there before submitting" >&2; exit 2; }
i=${SLURM_ARRAY_TASK_ID:?submit as an array job: sbatch --array=1-N}
results=${RESULTS:-results}
mkdir -p "$results"
shards=${SHARDS:-$(cat "$results/shards" 2>/dev/null || echo "${SLURM_ARRAY_TASK_MAX:-$i}")}
if [ -e "$results/shards" ] && [ "$(cat "$results/shards")" != "$shards" ]; then
    echo "error: $results holds a sweep in $(cat "$results/shards") shards, not $shards" >&2; exit 2
fi
echo "$shards" > "$results/shards"
out=$results/shard-$i
if [ -e "$out/cases.json" ]; then resume=$out; where=""; else resume=""; where="--out $out"; fi
# exec: make is the task itself, so SIGTERM reaches it; make passes it on and waits for bench.run.
exec make --no-print-directory -o .venv/.installed bench SET="${SET:-orders}" SHARD="$i/$shards" \
     RESUME="$resume" ARGS="$where --threads ${THREADS:-${SLURM_CPUS_PER_TASK:-0}} ${BENCH_ARGS:-}"
