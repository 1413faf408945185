"""Greedy's second phase: a priority sequence admitted by appending with the
Moore–Hodgson-like drop rule, or by best insertion; :func:`construct` keeps the best schedule
over every sequence and both rules."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from partialloading.errors import SolverError
from partialloading.instance import IntArray
from partialloading.timing import Schedule
from partialloading.tolerance import reaches

from ..local_search import better, drop_until_feasible, insert_all
from .orderings import sequences

DROP_EFFORT = 3e5
"""Effort (evaluated positions) of the drop rule per constructive sequence: a trial for every
user up to about a hundred users, a few dozen trials at 10,000 users."""


EDF_DROP_EFFORT = 3e6
"""Drop-rule effort of the EDF sequence: a trial for every user up to about 1,000 users, so that
the Moore–Hodgson argument (exactness without loading costs) covers such instances."""


DROP_OVERHEAD = 2000
"""Fixed effort charged per trial of the drop rule (several numpy passes)."""


INSERTION_MAX_USERS = 2000
"""Best-insertion constructions (O(K²)) run only up to this many users."""

FIRST_PASS_USERS = 1000
"""Up to this many users the constructive pass (every sequence, both admission rules: 0.35 s at
1,000 users, 0.02 s at 40) always completes, whatever the time left: under a short limit greedy,
and every exact method it starts, still answers with its constructed schedule."""


def append_admit(p: Schedule, seq: IntArray, *, drop: bool = True, drop_effort: float = np.inf) -> IntArray:
    """Admit ``seq`` in order by appending, with the Moore–Hodgson-like drop rule when ``drop``.

    The append test is the timing model's (:meth:`Schedule.appender`). The time each admitted
    user would save if dropped, per weight, is kept up to date so that a user whose own ratio is
    the largest — the drop rule would drop it first, restoring the current schedule — is
    rejected in O(1) without building the trial schedule. Each trial costs
    ``len(order) + DROP_OVERHEAD`` of ``drop_effort``; when it is spent, users are only appended.
    """
    model = p.model.tolist()
    upload = p.upload.tolist()
    infer = p.infer.tolist()
    first = p.first.tolist()
    weights = p.weight.tolist()
    loads = p.loads
    app = p.appender()
    order = app.order
    ratio: list[float] = []  # time saved per weight by dropping each admitted user
    top = -np.inf  # max(ratio)
    weight = 0.0
    for k in seq.tolist():
        m = model[k]
        delta = upload[k]
        load = app.next_load(k)
        if app.fits(k):
            if order:
                # The previous last user gains a successor: dropping it now also joins its
                # predecessor to k.
                q = len(order) - 1
                bridge = first[m] if q == 0 else float(loads[model[order[q - 1]], m])
                old = ratio[q]
                ratio[q] = old + (load - bridge) / weights[order[q]]
                if ratio[q] >= top:
                    top = ratio[q]
                elif old >= top:
                    top = max(ratio)
            app.append(k)
            ratio.append((delta + load + infer[k]) / weights[k])
            top = max(top, ratio[-1])
            weight += weights[k]
            continue
        if not drop or app.hopeless(k):
            continue  # k cannot be on time even when served first
        # When an earlier user is late, dropping k saves only its upload.
        own = (delta + load + infer[k] if app.absorbs(k) else delta) / weights[k]
        if own >= top or drop_effort < 0:
            continue
        drop_effort -= len(order) + DROP_OVERHEAD
        trial = drop_until_feasible(p, np.asarray([*order, k], dtype=np.int64), weights[k])
        if trial is None or trial.size == 0:
            continue
        new_weight = float(p.weight[trial].sum())
        new_finish = p.finish(trial)
        scale = max(1.0, weight)
        if new_weight > weight + 1e-12 * scale or (
            new_weight >= weight - 1e-12 * scale and float(new_finish[-1]) < app.makespan - 1e-12
        ):
            app.reset(trial)
            order = app.order
            ratio = (p.savings(trial) / p.weight[trial]).tolist()
            top = max(ratio)
            weight = new_weight
    return np.asarray(order, dtype=np.int64)


def insert_admit(p: Schedule, seq: IntArray) -> IntArray:
    """Admit ``seq`` in order, each user at the feasible position that lengthens the schedule least."""
    return insert_all(p, seq)


def construct(
    p: Schedule,
    extra: list[tuple[str, IntArray]],
    out_of_time: Callable[[], bool],
    bound: float = np.inf,
    sequences_too: bool = True,
) -> tuple[IntArray, str, dict[str, float]]:
    """Best schedule over the candidate sequences and both admission rules, plus ``extra`` starts.

    Returns the order, the name of the start it came from and every start's served weight. Stops
    at the first schedule that reaches ``bound`` (an upper bound: nothing can do better), and,
    above :data:`FIRST_PASS_USERS` users, when ``out_of_time()``.
    ``sequences_too=False``: only the ``extra`` starts (one of them already the best sequence).
    """
    if p.num_users <= FIRST_PASS_USERS:
        out_of_time = _never
    best = np.zeros(0, dtype=np.int64)
    best_name = "empty"
    values: dict[str, float] = {}

    def offer(name: str, order: IntArray) -> None:
        nonlocal best, best_name
        order = np.asarray(order, dtype=np.int64)
        if not p.feasible(order):
            raise SolverError(f"greedy: start {name} is infeasible")
        values[name] = p.score(order)[0]
        if better(p, order, best):
            best, best_name = order, name

    def done() -> bool:
        return out_of_time() or reaches(p.score(best)[0], bound)

    for name, order in extra:
        offer(name, order)
    for name, seq in sequences(p) if sequences_too else []:
        if done():
            break
        offer(f"{name}/append", append_admit(p, seq, drop_effort=EDF_DROP_EFFORT if name == "edf" else DROP_EFFORT))
        if p.num_users <= INSERTION_MAX_USERS and name in ("edf", "cheapest", "tour-w3") and not out_of_time():
            offer(f"{name}/insert", insert_admit(p, seq))
    return best, best_name, values


def _never() -> bool:
    return False
