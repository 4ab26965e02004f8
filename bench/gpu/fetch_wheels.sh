#!/usr/bin/env bash
# Download the wheels a prepared GPU machine lacks (bench/gpu/wheels.txt) into .whl/ at the
# repository root, for CPython 3.12 on x86-64 Linux, without their dependencies (the list names
# every one the machine lacks). Run where PyPI is reachable:  bash bench/gpu/fetch_wheels.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
mkdir -p .whl
grep -v '^\s*#' bench/gpu/wheels.txt | grep -v '^\s*$' | xargs "$PYTHON" -m pip download -q \
    --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl
ls -l .whl/*.whl
