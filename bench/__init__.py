"""The benchmark harness: case lists, measurement under pytest-benchmark, the run driver."""
