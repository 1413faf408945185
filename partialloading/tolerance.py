"""The toolkit's numerical tolerances, written once.

Two kinds of comparison recur everywhere:

- **On time.** A finish time counts as on time when ``finish ≤ deadline·(1 + RELATIVE_TOLERANCE)``
  (:func:`meets`). Floating-point sums of the same terms in a different order differ in the last
  bits; the tolerance absorbs that and nothing more (solvers aim at ``finish ≤ deadline``
  exactly). The exact formulations use the same rule, so they and the evaluator agree on what is
  feasible.
- **Objective against bound.** A served weight *reaches* an upper bound when it is within
  :data:`OBJECTIVE_TOLERANCE` (relative, at least absolute for values below 1) of it
  (:func:`reaches`): the schedule is then optimal. Two objectives *tie* under the same rule
  (:func:`ties`), and one *exceeds* another when it is larger beyond it (:func:`exceeds`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from partialloading.arrays import FloatArray

RELATIVE_TOLERANCE = 1e-9
"""A finish time counts as on time when ``finish ≤ deadline·(1 + RELATIVE_TOLERANCE)``."""

OBJECTIVE_TOLERANCE = 1e-9
"""Relative slack (absolute below 1) under which two objective values or bounds are equal."""

EPS = 1e-12
"""Smallest makespan or slack difference (seconds) that counts as an improvement."""


def meets(finish: float | FloatArray, deadline: float | FloatArray) -> np.bool_ | np.ndarray:
    """Whether ``finish`` is on time for ``deadline`` (within :data:`RELATIVE_TOLERANCE`)."""
    return np.asarray(finish) <= np.asarray(deadline) * (1.0 + RELATIVE_TOLERANCE)


def deadline_limit(deadlines: FloatArray, share: float = 1.0) -> FloatArray:
    """Deadlines loosened by ``share`` of :data:`RELATIVE_TOLERANCE` (the latest on-time finishes)."""
    return deadlines * (1.0 + share * RELATIVE_TOLERANCE)


def slop(value: float) -> float:
    """The rounding :func:`reaches` forgives around ``value``."""
    return OBJECTIVE_TOLERANCE * max(1.0, abs(value))


def reaches(value: float, bound: float) -> bool:
    """Whether the objective ``value`` reaches the upper ``bound`` (then it is optimal)."""
    return value >= bound - slop(bound)


def exceeds(value: float, other: float) -> bool:
    """Whether ``value`` is larger than ``other`` beyond rounding."""
    return value > other + slop(value)


def ties(a: float, b: float) -> bool:
    """Whether two objective values are equal up to rounding."""
    return abs(a - b) <= slop(max(abs(a), abs(b)))


__all__ = [
    "EPS",
    "OBJECTIVE_TOLERANCE",
    "RELATIVE_TOLERANCE",
    "deadline_limit",
    "exceeds",
    "meets",
    "reaches",
    "slop",
    "ties",
]


def weight_unit(weights: Iterable[float]) -> float:
    """The largest ``g > 0`` of which every weight is a whole multiple, ``0.0`` when the weights
    are not all integers (or too large to hold exactly in a float)."""
    values = list(weights)
    if not values or not all(v.is_integer() and abs(v) < 2**53 for v in values):
        return 0.0
    unit = math.gcd(*(int(v) for v in values))
    return float(unit) if unit > 0 else 0.0


def round_to_unit(bound: float, unit: float) -> float:
    """``bound`` rounded down to a whole multiple of ``unit`` (unchanged when ``unit`` is 0); a
    bound within ``10^-6`` (relative) of a multiple counts as that multiple (solvers' rounding)."""
    if unit <= 0 or not math.isfinite(bound):
        return bound
    return unit * math.floor(bound / unit + 1e-6 * max(1.0, abs(bound) / unit))
