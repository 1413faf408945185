"""First-in-first-out baseline: users in the order of the instance, each admitted when it fits.

In a simulation the round's instance lists its requests in arrival order, so this is the
serving rule with no scheduling at all: serve requests as they came, skipping a request only
when serving it would make someone late. The append test is the timing model's own (under frame
timing O(1) per user).
"""

from __future__ import annotations

from partialloading.instance import Instance
from partialloading.methods import SolveRequest, SolverOutput
from partialloading.params import FifoParams
from partialloading.result import Status

from .edf import admit_in_order


def fifo_schedule(instance: Instance) -> tuple[list[int], list[int] | None]:
    """Users in instance order, each appended when everybody stays on time (joining the last
    batch where models have batch tables, see :func:`~partialloading.solvers.edf.admit_in_order`);
    the order and its batch numbers."""
    return admit_in_order(instance, range(instance.num_users))


def solve(instance: Instance, params: FifoParams, request: SolveRequest) -> SolverOutput:
    """First-in-first-out admission (the seed, time limit and initial schedule are not used)."""
    order, batch = fifo_schedule(instance)
    return SolverOutput(order=order, status=Status.FEASIBLE, batch=batch)
