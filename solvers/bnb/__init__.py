"""Exact branch-and-bound over model visits (``method="bnb"``, frame timing).

The modules, bottom up: :mod:`.records` (the shared records), :mod:`.knapsack` (the knapsack
bounds), :mod:`.kernels` (the compiled bounds, with numba), :mod:`.bounds` (the setup tree and
the deadline-level bound) and :mod:`.paths` (the path relaxations, over models and over groups
of models), :mod:`.search` (the depth-first search), :mod:`.label_kernels` and :mod:`.labelling`
(the labels, compiled), :mod:`.coarse` (the coarse instance, a ceiling) and :mod:`.backend` (the
method's backend).
"""

from .backend import search, solve, warm_compiled, why_not

__all__ = ["search", "solve", "warm_compiled", "why_not"]
