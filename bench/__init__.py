"""Benchmarks of the operator on the local cluster: ``python -m bench`` (or ``make bench``).

Separate from the tests: nothing here asserts a target, it measures and
reports percentiles and ratios to the targets in BENCHMARKS.md.
"""
