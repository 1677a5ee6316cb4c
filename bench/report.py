"""BENCHMARKS.md, rendered from bench/results/*.json."""

from __future__ import annotations

from pathlib import Path


def render(results: Path) -> str:
    return f"results in {results}\n"
