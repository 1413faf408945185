"""The records the branch-and-bound's modules share: the deadline levels, the knapsack items,
the candidates and the outcome of a search. It imports nothing of the package's, so every
other module of the search may import it.
"""

from __future__ import annotations

from dataclasses import dataclass

LEVELS = 5
"""Deadline levels of the second bound at each node (quantiles of the candidates' deadlines,
always including the latest)."""

Item = tuple[float, float, float]
"""``(sort key, weight, size)`` of a knapsack item (the key: ``−weight/size``, ``−inf`` if free)."""

Candidate = tuple[float, int, Item, Item]
"""``(deadline, model, item of upload and inference, item of upload)`` of a user."""


@dataclass(frozen=True)
class VisitSearch:
    """Outcome of :meth:`BranchAndBound.run`.

    Attributes
    ----------
    order
        The best schedule found (the incumbent when nothing better exists).
    weight
        Its served weight.
    proven
        Whether the search finished, proving that nothing heavier exists.
    bound
        Upper bound on the served weight of every schedule: ``weight`` when proven, else the
        largest node bound of the subtrees left unexplored.
    nodes
        Nodes (partial schedules) visited.
    labels
        Labels ``(weight, t, σ)`` kept for dominance when the search ended.
    search
        How the nodes were explored: ``"depth-first"`` (:meth:`BranchAndBound.run`) or
        ``"layered"`` (the labels layer by layer, :mod:`.labelling`).
    batch
        The batch number of each request of ``order`` (``None``: one request per batch).
    """

    order: list[int]
    weight: float
    proven: bool
    bound: float
    nodes: int
    labels: int = 0
    search: str = "depth-first"
    batch: list[int] | None = None
