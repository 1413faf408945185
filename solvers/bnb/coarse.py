"""A ceiling for the branch-and-bound: the coarse instance, each group of models one model.

Where models share a large block (task heads on one backbone), :func:`coarse` merges each group
of models whose largest block is the same (:func:`.paths.groups_of`) into one model made of that
block alone; every user keeps its upload, deadline, weight and its own inference time (the
model's, or the request's). A coarse instance of eight models on three backbones has three
models, so its search has three pointers instead of eight and ends in seconds where the
instance's runs for minutes.

**Why its optimum bounds the instance's.** Suppose every coarse load is no longer than the real
load it stands for: from the model of any user to the model of any other, and from the initial
state. Then an order that serves a set on time in the instance serves it on time in the coarse
instance too: the upload phase is the same, and every step is no longer. So the coarse optimum,
or any upper bound of it, bounds the instance's optimum. The condition is checked on the numbers
(the memory model's loads of both instances), not assumed: with a memory that holds the last
model's blocks, a coarse load is the largest block of the next group when the groups differ,
which the real load includes unless the model before holds it; where it does not hold, there
is no ceiling.

:func:`ceiling` solves the coarse instance with the branch-and-bound itself, within a share of
the time, and returns its optimum, or its bound when stopped.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

from partialloading.instance import Instance, Model
from partialloading.stop import Deadline
from partialloading.timing import FrameSchedule

from .paths import groups_of, largest_blocks
from .records import VisitSearch


def coarse(instance: Instance) -> Instance | None:
    """The coarse instance of ``instance`` (see the module's text), or ``None`` when it would
    keep more than half the requested models, or some coarse load would be longer than a real one."""
    group = groups_of(instance)
    requested = sorted({int(j) for j in instance.user_models})
    if 2 * len({group[j] for j in requested}) > len(requested):
        return None  # not coarse enough to be solved in a share of the time
    # Every model of a group has the group's largest block as its own.
    largest = dict(zip(group, largest_blocks(instance), strict=True))
    names = {g: f"group{g}" for g in largest}
    # The inference time of a coarse model is never used: every user carries its own.
    models = tuple(Model(names[g], (block,), 1.0) for g, block in largest.items())
    model_of = {m.id: names[group[j]] for j, m in enumerate(instance.models)}
    times = instance.user_infer_times.tolist()
    users = tuple(
        dataclasses.replace(u, model=model_of[u.model], infer_time_s=times[k]) for k, u in enumerate(instance.users)
    )
    kept = set(largest.values())
    out = dataclasses.replace(
        instance,
        blocks=tuple(b for b in instance.blocks if b.id in kept),
        models=models,
        users=users,
        initial_model=None if instance.initial_model is None else model_of[instance.initial_model],
        name=f"{instance.name}-coarse",
    )
    real, rough = FrameSchedule.build(instance), FrameSchedule.build(out)
    index = [int(out.model_index[model_of[m.id]]) for m in instance.models]
    for a in requested:
        if rough.first[index[a]] > real.first[a]:
            return None
        for b in requested:
            if rough.loads[index[a], index[b]] > real.loads[a, b]:
                return None
    return out


def ceiling(
    instance: Instance,
    incumbent: Sequence[int],
    until: Deadline,
    run: Callable[..., VisitSearch],
) -> float:
    """An upper bound on the optimum of ``instance``: the coarse instance's optimum, or its
    search's bound when ``until`` stops it first (``inf`` without a coarse instance).

    ``run`` is the search (:func:`.backend.search`), given the coarse instance, ``incumbent``
    (feasible there too) and the compiled labels; its path relaxation takes a quarter of the
    time."""
    rough = coarse(instance)
    if rough is None:
        return math.inf
    found = run(rough, list(incumbent), lambda _: until.expired(), compiled=True, relax_until=until.share(0.25))
    return found.weight if found.proven else found.bound
