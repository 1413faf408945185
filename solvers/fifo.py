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
from partialloading.timing import schedule


def fifo_schedule(instance: Instance) -> list[int]:
    """Users in instance order, each appended when everybody stays on time."""
    appender = schedule(instance, tolerance_share=1.0).appender()
    for k in range(instance.num_users):
        if appender.fits(k):
            appender.append(k)
    return appender.order


def solve(instance: Instance, params: FifoParams, request: SolveRequest) -> SolverOutput:
    """First-in-first-out admission (the seed, time limit and initial schedule are not used)."""
    return SolverOutput(order=fifo_schedule(instance), status=Status.FEASIBLE)
