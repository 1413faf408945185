"""Sharing-aware greedy heuristic with local search for the general problem (``method="greedy"``).

The method's phases, one module each: the candidate sequences (:mod:`.orderings`), their
admission (:mod:`.admission`), the improvement and restarts (:mod:`.restarts`), the exact
helpers of small instances (:mod:`.exact`) and the capacity phase (:mod:`.capacity`); the
backend (:mod:`.backend`) runs them, with the shortcuts that prove optimality.
"""

from .backend import solve, solve_bounded
from .orderings import sequences

__all__ = ["sequences", "solve", "solve_bounded"]
