"""Earliest-deadline-first baseline: the rule a practitioner would write first.

Users are considered by deadline (ties: by model, so that equal deadlines keep a model's users
together, then by position in the file). A user is admitted, at the end of the current order,
when every admitted user still meets its deadline. Admitting ``k`` delays everyone by
``a_k/B`` (the upload phase grows), so the test is ``min slack ≥ a_k/B`` for the users already
admitted and ``finish_k ≤ T_k`` for ``k``: O(1) per user after sorting, O(K log K) in all.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from partialloading.evaluate import RELATIVE_TOLERANCE
from partialloading.instance import Instance
from partialloading.result import Status
from partialloading.solve import SolverOutput


def edf_order(instance: Instance) -> list[int]:
    """Users by deadline, then model, then position in the instance."""
    return [int(k) for k in np.lexsort((np.arange(instance.num_users), instance.user_models, instance.deadlines))]


def solve(instance: Instance, *, sharing: bool, time_limit: float | None, seed: int, **options: Any) -> SolverOutput:
    """Earliest-deadline-first admission (``seed`` and ``time_limit`` are not used)."""
    if options:
        raise TypeError(f"edf takes no options (got {', '.join(options)})")
    loads = instance.load_matrix(sharing)
    first = instance.initial_load(sharing)
    infer = instance.infer_times
    upload = instance.upload_times
    limit = instance.deadlines * (1.0 + RELATIVE_TOLERANCE)
    order: list[int] = []
    tau = 0.0
    busy = 0.0  # processing time after the upload phase
    min_slack = np.inf  # min over admitted of limit - finish
    last: int | None = None
    for k in edf_order(instance):
        m = int(instance.user_models[k])
        delta = float(upload[k])
        step = float(first[m] if last is None else loads[last, m]) + float(infer[m])
        finish = tau + delta + busy + step
        if finish <= limit[k] and min_slack >= delta:
            order.append(k)
            tau += delta
            busy += step
            min_slack = min(min_slack - delta, float(limit[k]) - finish)
            last = m
    return SolverOutput(order=order, status=Status.FEASIBLE)
