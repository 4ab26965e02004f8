# Two commands do everything on a fresh machine: `make test` and `make bench`.
# Both create .venv with a Python >= 3.12 and install the project first.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# First interpreter >= 3.12 that actually runs (pyenv shims exist but fail when the
# version is not selected, so each candidate is executed, not just looked up).
FIND_PYTHON := for c in python3.13 python3.12 python3 \
	$$(ls -d $$HOME/.pyenv/versions/3.1[2-9]*/bin/python3 /usr/local/bin/python3.1[2-9] /usr/bin/python3.1[2-9] 2>/dev/null); do \
	if $$c -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then \
	$$c -c 'import sys; print(sys.executable)'; break; fi; done

# Benchmark options: SET (sweep), DEVICE, RESUME (run dir), SHARD (i/n), TRAIN_ITERS (UDE
# training iterations; the default set runs 50), ARGS (any bench.run option).
SET ?= default
DEVICE ?= cpu
BENCH_ARGS := --set $(SET) --device $(DEVICE) $(if $(SHARD),--shard $(SHARD)) $(if $(RESUME),--resume $(RESUME)) \
	$(if $(TRAIN_ITERS),--train-iters $(TRAIN_ITERS)) $(ARGS)

# Advise options (bench/advise.py): LAYERS (e.g. 2-64-64-2), ACTIVATION, POINTS, PARAMS (.npz weights),
# MODEL (mlp, fourier, modified-mlp, pirate, resnet) with FEATURES, SCALE, BLOCKS, ALPHA (the kind's options),
# PROBLEM (penalty, derivative-order, poisson, biharmonic, pde), DTYPE, DEVICE, OUT, ARGS (bench.run options);
# for PROBLEM=pde: EQUATION (burgers, heat, allen-cahn, kdv, navier-stokes) or RESIDUAL="u_t + u*u_x - 0.01*u_xx"
# with INPUT_NAMES (default t,x) and OUTPUT_NAMES (default u), DIM (heat, allen-cahn).
ADVISE_ARGS := $(if $(PROBLEM),--problem $(PROBLEM)) $(if $(LAYERS),--layers $(LAYERS)) \
	$(if $(EQUATION),--equation $(EQUATION)) $(if $(RESIDUAL),--residual '$(RESIDUAL)') \
	$(if $(INPUT_NAMES),--input-names $(INPUT_NAMES)) $(if $(OUTPUT_NAMES),--output-names $(OUTPUT_NAMES)) \
	$(if $(DIM),--dim $(DIM)) \
	$(if $(ACTIVATION),--activation $(ACTIVATION)) $(if $(POINTS),--points $(POINTS)) \
	$(if $(MODEL),--model $(MODEL)) $(if $(FEATURES),--features $(FEATURES)) $(if $(SCALE),--scale $(SCALE)) \
	$(if $(BLOCKS),--n-blocks $(BLOCKS)) $(if $(ALPHA),--alpha $(ALPHA)) \
	$(if $(PARAMS),--params $(PARAMS)) $(if $(DTYPE),--dtype $(DTYPE)) --device $(DEVICE) \
	$(if $(OUT),--out $(OUT)) $(ARGS)

.PHONY: venv test test-cluster bench advise report results compare ci-bench ci-baseline lint clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@py="$$($(FIND_PYTHON))"; \
	if [ -z "$$py" ]; then echo "error: no Python >= 3.12 found (tried python3.13, python3.12, python3, pyenv versions)" >&2; exit 1; fi; \
	echo "using $$py"; \
	[ -x $(PY) ] || "$$py" -m venv $(VENV)
	@# uv resolves and downloads in parallel (a fresh venv in well under a minute where pip took
	@# minutes); pip installs whatever uv could not, so a machine without uv still gets the venv.
	@# --compile-bytecode: the .pyc files are written once here, in parallel, not by every test worker
	@# and child process that first imports jax or torch (fresh make test: 11 min 27 s -> 9 min 35 s).
	@if $(PY) -m pip install --quiet uv && $(PY) -m uv pip install --quiet --compile-bytecode --python $(PY) -e ".[dev]"; then :; \
	else echo "note: uv failed; installing with pip" >&2; \
	$(PY) -m pip install --quiet --upgrade pip && $(PY) -m pip install --quiet -e ".[dev]"; fi
	touch $(STAMP)

# Test files are spread over the cores (pytest-xdist, at most 4 workers; a file stays on one worker so
# its module fixtures are built once; tests/conftest.py makes XLA compile cheaply and shares one JAX
# compilation cache across workers; the exhaustive correctness matrices run JAX op by op where that is
# cheaper, each strategy still jitted somewhere: the `jax_eager` marker). On a fresh clone of a quiet
# 2-core VM, make test took 4 min 26 s with the venv (Intel Xeon, 2026-12-06 05:47 UTC, 852 passed), and
# 6 min 55 s (850 passed) two hours earlier while the same VM ran 1.4-1.6x slower;
# 5 min 5 s to 8 min 14 s on an AMD EPYC as its speed drifted (2026-12-03): within the 6-minute budget
# except in the VMs' slow periods (issue 21).
test: $(STAMP)
	$(PY) -m pytest tests -q -rsx -n auto --maxprocesses 4 --dist loadfile --no-loadscope-reorder

# The SLURM array job (bench/slurm/array-job.sh) end to end on a one-node cluster on this machine
# (as root: installs slurm-wlm and munge if missing, starts and stops its own daemons).
test-cluster: $(STAMP)
	$(PY) -m tests.cluster.slurm_end_to_end

bench: $(STAMP)
	$(PY) -m bench.run $(BENCH_ARGS)

# Which strategy for your network: runs both frameworks on it, prints the decision, writes the report.
advise: $(STAMP)
	@$(PY) -m bench.advise $(ADVISE_ARGS)

report: $(STAMP)
	@[ -n "$(RUN)" ] || { echo "usage: make report RUN=reports/out/<run-id> [RUN=\"dir1 dir2\" OUT=dir EXTERNAL=file.csv]" >&2; exit 2; }
	$(PY) -m reports.render $(RUN) $(if $(OUT),--out $(OUT)) $(foreach e,$(EXTERNAL),--external $(e))

# The README's results section, generated from a run directory (between its markers).
results: $(STAMP)
	@[ -n "$(RUN)" ] || { echo "usage: make results RUN=reports/out/<run-id> [OUT=RESULTS.md]" >&2; exit 2; }
	$(PY) -m reports.results $(RUN) --readme README.md $(if $(OUT),--out $(OUT))

compare: $(STAMP)
	@[ -n "$(A)" ] && [ -n "$(B)" ] || { echo "usage: make compare A=reports/out/<run-a> B=reports/out/<run-b> [OUT=dir]" >&2; exit 2; }
	$(PY) -m reports.compare $(A) $(B) $(if $(OUT),--out $(OUT))

# CI regression check: a quick subset against the committed baseline; fails on correctness only.
# Timing is compared only when the CI machine's environment is the baseline's (reports.compare
# says when it is not); --threads 1 on both sides, since PyTorch's threads stall under load.
CI_RUN ?= reports/out/ci-check
ci-bench: $(STAMP)
	rm -rf $(CI_RUN)
	$(PY) -m bench.run --set ci --out $(CI_RUN) --threads 1 --max-time 0.3 --budget 300 --no-report
	$(PY) -m reports.compare bench/baseline/ci $(CI_RUN) --fail-on-correctness

ci-baseline: $(STAMP)
	rm -rf bench/baseline/ci
	$(PY) -m bench.run --set ci --out bench/baseline/ci --threads 1 --max-time 1 --no-report
	rm -rf bench/baseline/ci/logs bench/baseline/ci/pending-cases.json bench/baseline/ci/raw/benchmarks.jsonl \
		bench/baseline/ci/run.lock

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks
