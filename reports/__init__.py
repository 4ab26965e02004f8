"""Rendering of benchmark results: tidy CSV and a self-contained HTML report."""
