"""Earliest-deadline-first baseline: the rule a practitioner would write first.

Users are considered by deadline (ties: by model, so that equal deadlines keep a model's users
together, then by position in the file). A user is admitted, at the end of the current order,
when every admitted user still meets its deadline: the append test of the instance's timing
model (under frame timing O(1) per user after sorting, O(K log K) in all).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

import numpy as np

from partialloading.instance import FloatArray, Instance, IntArray
from partialloading.methods import SolveRequest, SolverOutput
from partialloading.params import EdfParams
from partialloading.result import Status
from partialloading.timing import schedule


def deadline_order(users: IntArray, deadlines: FloatArray, models: IntArray) -> IntArray:
    """``users`` by deadline, then model, then index: the toolkit's one earliest-deadline-first
    order (``deadlines`` and ``models`` indexed by user)."""
    return users[np.lexsort((users, models[users], deadlines[users]))]


def edf_order(instance: Instance) -> list[int]:
    """Users by deadline, then model, then position in the instance."""
    users = np.arange(instance.num_users, dtype=np.int64)
    return deadline_order(users, instance.deadlines, instance.user_models).tolist()


class _Appends(Protocol):
    def fits(self, k: int) -> bool: ...

    def append(self, k: int) -> None: ...


A = TypeVar("A", bound=_Appends)


def _admitted(appender: A, users: Sequence[int]) -> A:
    """``appender`` after ``users`` in this order, each appended when everybody stays on time."""
    for k in users:
        if appender.fits(k):
            appender.append(k)
    return appender


def edf_schedule(instance: Instance) -> list[int]:
    """The earliest-deadline-first schedule of one request per batch: users in :func:`edf_order`,
    each appended when everybody stays on time."""
    return _admitted(schedule(instance, tolerance_share=1.0).appender(), edf_order(instance)).order


def admit_in_order(instance: Instance, users: Sequence[int]) -> tuple[list[int], list[int] | None]:
    """``users`` appended in this order, each when everybody stays on time; where models have
    batch tables a user joins the last batch when that is its model's and has room and it
    finishes no later that way (the schedule's :meth:`batch_appender`).
    Returns the order and its batch numbers (``None``: one request per batch)."""
    p = schedule(instance, tolerance_share=1.0)
    if not instance.batching:
        return _admitted(p.appender(), users).order, None
    batched = _admitted(p.batch_appender(), users)
    return batched.order, batched.batch


def edf_steps(instance: Instance) -> tuple[list[int], list[int] | None]:
    """The earliest-deadline-first schedule in batches: :func:`admit_in_order` of :func:`edf_order`."""
    return admit_in_order(instance, edf_order(instance))


def solve(instance: Instance, params: EdfParams, request: SolveRequest) -> SolverOutput:
    """Earliest-deadline-first admission (the seed, time limit and initial schedule are not used)."""
    order, batch = edf_steps(instance)
    return SolverOutput(order=order, status=Status.FEASIBLE, batch=batch)
