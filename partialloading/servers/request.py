"""What a several-server backend is asked and what it returns (as
:class:`~partialloading.methods.SolveRequest` and :class:`~partialloading.methods.SolverOutput`
for one server)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from partialloading.result import Status
from partialloading.stop import NEVER, Deadline

from .solution import NetworkSolution

__all__ = ["NetworkOutput", "NetworkRequest"]


@dataclass(frozen=True)
class NetworkRequest:
    """What every several-server backend is asked besides its parameters.

    Attributes
    ----------
    deadline
        The deadline of the whole solve.
    seed
        Seed of randomized choices.
    sharing
        Whether loads reuse resident blocks (passed on to the one-server solves).
    initial
        A feasible starting schedule, or ``None``.
    """

    deadline: Deadline = NEVER
    seed: int = 0
    sharing: bool = True
    initial: NetworkSolution | None = None


@dataclass(frozen=True)
class NetworkOutput:
    """What a several-server backend returns: each server's schedule, a status and a bound."""

    solution: NetworkSolution
    status: Status
    bound: float | None = None
    info: dict[str, Any] = field(default_factory=dict)
