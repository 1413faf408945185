"""Timing helper shared by the benchmark scripts (imported as a sibling module)."""

from __future__ import annotations

import time
from collections.abc import Callable


def best(repeats: int, run: Callable[[], object]) -> float:
    """The shortest wall-clock time of ``repeats`` calls of ``run`` (the others lost to noise)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)
