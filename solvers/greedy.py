"""Sharing-aware greedy heuristic with local search for the general problem (``method="greedy"``).

Arbitrary block sharing, per-user deadlines, weights and an initial model. The method has
three phases (``docs/greedy.md`` states the rules and their complexity):

1. **Candidate sequences.** Priority sequences of all users: earliest deadline first (EDF);
   a nearest-neighbour tour of the model groups over the loading times ``ℓ`` (the next model
   is the one cheapest to load among the ``w`` groups with the earliest deadlines; ``w = 1`` is
   EDF over groups); the tour inside deadline buckets (so a model may be visited once per
   bucket); cheapest users first; and tiers of cheap users, each in deadline order.
2. **Admission.** Each sequence is admitted by one of two rules. *Append with drops*
   (Moore–Hodgson-like): users are appended in sequence order when everyone stays on time (an
   O(1) test: admitting ``k`` delays every admitted user by ``a_k/B``, so the running minimum
   slack must be at least ``a_k/B``); when ``k`` does not fit it is appended anyway and the
   admitted user with the largest time saved per weight is dropped until everyone is on time —
   the new set is kept when it is heavier, or as heavy and shorter. Without loading costs, with
   unit weights and negligible uploads this is the Moore–Hodgson rule on the EDF sequence,
   hence exact. *Best insertion*: each user
   is inserted at the feasible position that lengthens the schedule least (all positions are
   checked in one O(n) numpy pass). The baselines' own schedules are starts too: ``edf``, and
   when models share blocks the result of this very method on the instance without sharing
   (:meth:`~partialloading.instance.Instance.unshared`, whole-model loads) — an order feasible
   without sharing stays feasible with it, since ``ℓ ≤ ℓ_ns``. So the result is never worse
   than ``edf``, nor than greedy (hence ``edf``) without sharing.
3. **Improvement** (:mod:`partialloading.solvers.local_search`), from the best start, plus
   seeded randomized restarts on small instances. It never returns worse than its start.

Shortcuts end the work early, each with a proof of optimality (status ``optimal``). When
the EDF schedule (or the given start) already serves every user who can meet the deadline alone,
nothing better exists and it is returned at once. On frame instances of at most
:data:`BNB_USERS` users the branch-and-bound over model visits
(:mod:`partialloading.solvers.bnb`) runs from the best start within :data:`BNB_NODES`
nodes; when it finishes its schedule is optimal, otherwise it is one more start. On instances
of at most :data:`EXACT_SET_USERS` users the admitted sets heavier than the best start are tried heaviest
first with the exact order search
(:func:`~partialloading.solvers.order_search.find_order`), so the first feasible one is the
heaviest there is; the phases above run only if that search exceeds :data:`EXACT_SET_NODES`.
Above that size the bound includes the blocks-per-level relaxation
(:func:`partialloading.relaxations.level_bound`): every phase stops once its schedule reaches the
bound (then ``optimal``), and up to :data:`PROVE_FIRST_USERS` users the constructed schedule is
compared with it before any local search.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from partialloading.errors import SolverError
from partialloading.instance import FloatArray, Instance, IntArray
from partialloading.memory import BOUNDED, DEFAULT_MEMORY, PAIRWISE, memory_of
from partialloading.methods import METHODS, SolveRequest, SolverOutput
from partialloading.params import GreedyParams
from partialloading.relaxations import best_cheap_bound, level_bound, side_deadline
from partialloading.result import Status
from partialloading.stop import Deadline
from partialloading.timing import Schedule, schedule
from partialloading.tolerance import reaches

from . import bnb, edf, local_search
from .enumeration import MAX_EVICTABLE, evictable, heaviest_feasible_set
from .local_search import EVALUATION_COST, EXACT_RESEQUENCE_USERS, Budget, better, drop_until_feasible, insert_all
from .order_search import find_order

EFFORT_PER_USER = 4000.0
"""Default local-search effort per user and per user squared, in evaluated positions
(machine-independent): a local-search pass evaluates O(K) moves of O(K) each."""

DROP_EFFORT = 3e5
"""Effort (evaluated positions) of the drop rule per constructive sequence: a trial for every
user up to about a hundred users, a few dozen trials at 10,000 users."""

EDF_DROP_EFFORT = 3e6
"""Drop-rule effort of the EDF sequence: a trial for every user up to about 1,000 users, so that
the Moore–Hodgson argument (exactness without loading costs) covers such instances."""

DROP_OVERHEAD = 2000
"""Fixed effort charged per trial of the drop rule (several numpy passes)."""

MIN_EFFORT = 1e6
"""Floor of the default local-search effort (small instances get many restarts)."""

MAX_EFFORT = 1e7
"""Cap on the default local-search effort (a few seconds of numpy work)."""

EXACT_SET_USERS = 10
"""Instances up to this many users are solved by the exact set search (within its node budget)."""

EXACT_SET_NODES = 20_000
"""Node budget of the exact set search (order-search nodes, summed over the sets tried)."""

BNB_USERS = 20
"""Frame instances up to this many users first try the branch-and-bound over model visits
(:mod:`partialloading.solvers.bnb`) from the best start, within :data:`BNB_NODES` nodes."""

BNB_NODES = 10_000
"""Node budget of that attempt (tens of milliseconds): a proof ends greedy at once, otherwise
its incumbent is one more start."""

PATIENCE = 4
"""Restarts stop after this many in a row that found nothing better."""

INSERTION_MAX_USERS = 2000
"""Best-insertion constructions (O(K²)) run only up to this many users."""

LARGE = 2000
"""Above this many users only the sequences in :data:`LARGE_SEQUENCES` (and the pure tour) are
admitted: each costs an O(K) Python pass, and these are the ones that win at scale."""

LARGE_SEQUENCES = ("edf", "bucket-16", "cheapest", "cheap-tiers-2", "cheap-tiers-3", "cheap-tiers-4", "cheap-tiers-6")


def _tour(p: Schedule, groups: IntArray, keys: FloatArray, window: int) -> IntArray:
    """Nearest-neighbour tour over ``groups`` (model indices) by loading time.

    The next model is the cheapest to load from the current one among the ``window`` remaining
    groups with the smallest ``keys`` (``window=1``: order by key; large: a pure tour).
    """
    remaining = list(np.asarray(groups)[np.lexsort((groups, keys))])
    out: list[int] = []
    current: int | None = None
    while remaining:
        head = remaining[:window]
        cost = p.first[head] if current is None else p.loads[current, head]
        pick = int(np.argmin(cost))
        current = int(head[pick])
        out.append(current)
        remaining.pop(pick)
    return np.asarray(out, dtype=np.int64)


def edf_sequence(p: Schedule) -> IntArray:
    """All users by deadline (then model, then index): the first candidate sequence."""
    return edf.deadline_order(np.arange(p.num_users, dtype=np.int64), p.limit, p.model)


def _tour_rank(p: Schedule, window: int | None = None) -> IntArray:
    """Each model's place in the tour (:func:`_tour` from the earliest deadlines, over ``window``
    of them, ``None``: all)."""
    used = np.unique(p.model)
    earliest = np.full(p.first.size, np.inf)
    np.minimum.at(earliest, p.model, p.limit)
    tour = _tour(p, used, earliest[used], used.size if window is None else window)
    rank = np.empty(p.first.size, dtype=np.int64)
    rank[tour] = np.arange(tour.size)
    return rank


def tour_sequence(p: Schedule, window: int | None = None) -> IntArray:
    """The models in tour order (see :func:`_tour_rank`), each model's users in deadline order."""
    return np.lexsort((np.arange(p.num_users), p.limit, _tour_rank(p, window)[p.model]))


def sequences(p: Schedule) -> list[tuple[str, IntArray]]:
    """Candidate priority sequences of all users (see the module docstring)."""
    n = p.num_users
    idx = np.arange(n)
    deadline = p.limit
    seqs: list[tuple[str, IntArray]] = [("edf", edf_sequence(p))]
    if n == 0:
        return seqs
    used = np.unique(p.model)
    for window in (1, 3, used.size):
        seqs.append((f"tour-w{window}", tour_sequence(p, window)))
    distinct = np.unique(deadline).size
    # Deadline buckets: serve the tour once per bucket of similar deadlines.
    deadline_rank = np.empty(n, dtype=np.int64)
    deadline_rank[np.lexsort((idx, deadline))] = idx
    rank = _tour_rank(p)
    for buckets in (2, 4, 8, 16):
        if buckets >= distinct:
            break
        bucket = deadline_rank * buckets // n
        seqs.append((f"bucket-{buckets}", np.lexsort((idx, deadline, rank[p.model], bucket))))
    # Cheapest first: own time plus the group's first load shared among its users, per weight;
    # then tiers of cheap users, each in deadline order.
    count = np.bincount(p.model, minlength=p.first.size)
    cost = (p.upload + p.infer + p.first[p.model] / count[p.model]) / p.weight
    seqs.append(("cheapest", np.lexsort((idx, deadline, cost))))
    cost_rank = np.empty(n, dtype=np.int64)
    cost_rank[np.lexsort((idx, cost))] = idx
    for tiers in (2, 3, 4, 6):
        seqs.append((f"cheap-tiers-{tiers}", np.lexsort((idx, deadline, cost_rank * tiers // n))))
    if n > LARGE:
        seqs = [(name, seq) for name, seq in seqs if name in LARGE_SEQUENCES or name == f"tour-w{used.size}"]
    return seqs


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
    at the first schedule that reaches ``bound`` (an upper bound: nothing can do better).
    ``sequences_too=False``: only the ``extra`` starts (one of them already the best sequence).
    """
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


def _ruin_and_recreate(p: Schedule, order: IntArray, rng: np.random.Generator) -> IntArray:
    """Remove a random subset (up to a third) of ``order`` and refill by best insertion: the users
    left out in random order, the removed ones last."""
    remove = rng.choice(order.size, size=int(rng.integers(1, max(1, order.size // 3) + 1)), replace=False)
    kept = np.delete(order, remove)
    outside = np.setdiff1d(np.arange(p.num_users), order)
    return insert_all(p, np.concatenate((rng.permutation(outside), order[remove])), kept)


def default_effort(n_users: int) -> float:
    """Default local-search budget: ``EFFORT_PER_USER·(K + K²)`` clipped to ``[MIN_EFFORT, MAX_EFFORT]``."""
    return float(np.clip(EFFORT_PER_USER * (n_users + n_users**2), MIN_EFFORT, MAX_EFFORT))


def restarts_for(n_users: int) -> int:
    """Randomized restarts of the local search by default (many on small instances, none on large)."""
    return int(min(30, 300 // max(n_users, 1)))


def _run(
    p: Schedule,
    extra: list[tuple[str, IntArray]],
    *,
    bound: float,
    improve_: bool,
    effort: float,
    restarts: int,
    rng: np.random.Generator,
    deadline: Deadline,
    sequences_too: bool = True,
) -> tuple[IntArray, dict[str, Any]]:
    out_of_time = deadline.expired
    start, start_name, values = construct(p, extra, out_of_time, bound if improve_ else np.inf, sequences_too)
    info: dict[str, Any] = {"start": start_name, "start_objective": p.score(start)[0], "starts": values}
    if not improve_ or reaches(p.score(start)[0], bound):
        return start, info
    # The budget counts evaluated positions; a timing model whose positions cost more gets fewer.
    budget = Budget(effort / EVALUATION_COST[p.timing], deadline)
    best, stats = local_search.improve(p, start, budget, target=bound)
    if better(p, start, best):
        raise SolverError("greedy: the improvement returned a worse schedule than its start")
    moves = stats.total()
    done = since = 0
    # Nobody can be served who misses the deadline when served alone: reaching that bound ends
    # the search (the schedule is then optimal).
    for _ in range(restarts):
        if budget.effort <= 0 or out_of_time() or reaches(p.score(best)[0], bound):
            break
        if since >= PATIENCE:  # the restarts stopped paying
            break
        if done % 2 == 0 and best.size:
            seed_order = _ruin_and_recreate(p, best, rng)
        elif done % 4 == 1:
            # Perturbed EDF: deadlines stretched by random factors, admitted by best insertion.
            noise = rng.uniform(0.0, 0.5, p.num_users)
            seed_order = insert_admit(p, np.lexsort((rng.permutation(p.num_users), p.limit * (1.0 + noise))))
        else:
            seed_order = insert_admit(p, rng.permutation(p.num_users))
        trial, trial_stats = local_search.improve(p, seed_order, budget, target=bound)
        moves += trial_stats.total()
        done += 1
        since += 1
        if better(p, trial, best):
            best, since = trial, 0
    polished = exact_polish(p, best, out_of_time)
    info["polished"] = bool(better(p, polished, best))
    best = polished if info["polished"] else best
    info.update(
        {
            "moves": moves,
            "restarts": done,
            "effort_left": max(budget.effort, 0.0),
            "timed_out": budget.timed_out or out_of_time(),
        }
    )
    return best, info


def exact_polish(p: Schedule, order: IntArray, out_of_time: Callable[[], bool]) -> IntArray:
    """On instances of at most :data:`~.local_search.EXACT_RESEQUENCE_USERS` users (timing models whose insertion
    test is not exhaustive), try every one-in and one-in-one-out change of the admitted set with
    the exact set search: heaviest rejected users first, the first heavier feasible set wins, until
    none is left. Returns ``order`` itself when nothing is found."""
    if p.num_users > EXACT_RESEQUENCE_USERS[p.timing]:
        return order
    improved = True
    while improved and not out_of_time():
        improved = False
        admitted = [int(k) for k in order]
        weight = float(p.weight[admitted].sum()) if admitted else 0.0
        rejected = sorted(set(range(p.num_users)) - set(admitted), key=lambda k: (-float(p.weight[k]), k))
        for k in rejected:
            if not p.alone_ok(k):
                continue
            swaps = [None, *sorted(admitted, key=lambda j: (float(p.weight[j]), j))]
            for j in swaps:
                if j is not None and float(p.weight[j]) >= float(p.weight[k]):
                    break
                users = [u for u in admitted if u != j] + [k]
                found = find_order(p, users).order
                gain = float(p.weight[users].sum()) - weight
                if found is not None and gain > min(1e-12 * max(1.0, weight), p.weight_tolerance):
                    candidate = np.asarray(found, dtype=np.int64)
                    if not p.feasible(candidate):  # feasible only with the search's own evictions
                        continue
                    order, improved = candidate, True
                    break
            if improved:
                break
    return order


def exact_set_search(
    p: Schedule, incumbent: IntArray, max_nodes: int, out_of_time: Callable[[], bool]
) -> tuple[IntArray | None, int, list[tuple[int, ...]] | None]:
    """The heaviest feasible admitted set, if it can be found within ``max_nodes`` search nodes.

    The sets of users who can each meet the deadline alone and are heavier than ``incumbent``
    are tried heaviest first (then larger, then lexicographic); the first one with a feasible
    order is optimal. A set containing a set already found infeasible is skipped (removing users
    never makes a schedule infeasible). Returns ``incumbent`` when no heavier set is feasible,
    ``None`` when the budget or the time runs out first; the nodes visited; and the evictions
    that make the order feasible (``None``: the memory's default rule does).
    """
    alone = [k for k in range(p.num_users) if p.alone_ok(k)]
    floor = float(p.weight[incumbent].sum()) if incumbent.size else 0.0
    tol = min(1e-12 * max(1.0, floor), p.weight_tolerance)
    found = heaviest_feasible_set(
        p, alone, p.weight.tolist(), lambda nodes: nodes > max_nodes or out_of_time(), floor + tol
    )
    if found.stopped:
        return None, found.nodes, None
    if found.order is None:
        return incumbent, found.nodes, None
    return np.asarray(found.order, dtype=np.int64), found.nodes, found.evicted


def alone_weight(instance: Instance) -> float:
    """Upper bound on the objective: the smaller of the served-alone weight and the time-per-level
    knapsack bound (:mod:`partialloading.relaxations`)."""
    return best_cheap_bound(instance)


PROVE_FIRST_USERS = 20
"""Up to this many users greedy constructs first and stops there when the constructed schedule
reaches the blocks-per-level bound (see :func:`solve`)."""


def solve(instance: Instance, params: GreedyParams, request: SolveRequest) -> SolverOutput:
    """Greedy construction and local search (see :class:`~partialloading.params.GreedyParams`).

    The initial schedule, if given, is one more start (and the result is never worse than it).
    Under a memory with a capacity see :func:`solve_bounded`.
    """
    memory = memory_of(instance)
    if BOUNDED in memory.structure and PAIRWISE not in memory.structure:
        return solve_bounded(instance, params, request)
    return _solve(instance, params, request)


def _solve(instance: Instance, params: GreedyParams, request: SolveRequest) -> SolverOutput:
    """The method on any memory (see :func:`solve`)."""
    deadline, seed = request.deadline, request.seed
    improve, effort, restarts = params.improve, params.effort, params.restarts
    n = instance.num_users
    effort = default_effort(n) if effort is None else float(effort)
    restarts = restarts_for(n) if restarts is None else int(restarts)
    kwargs: dict[str, Any] = {"improve_": improve, "effort": effort, "restarts": restarts, "seed": seed}
    info: dict[str, Any] = {}
    also: list[tuple[str, IntArray]] = []
    if request.initial is not None:
        also.append(("initial", np.asarray(request.initial, dtype=np.int64)))
    bound = alone_weight(instance)
    if improve:
        shortcut = _shortcut(instance, also, bound, deadline)
        if isinstance(shortcut, SolverOutput):
            return shortcut
        also.extend(shortcut)
    if improve and n > EXACT_SET_USERS:
        target = None
        if n <= PROVE_FIRST_USERS:
            # Small instances: when the constructed schedule reaches the relaxation's bound it is
            # optimal (the LP relaxation, solved first, often suffices), and the search stops at
            # once; otherwise it is one more start.
            built = construct(schedule(instance), [_edf_start(instance), *also], lambda: False)[0]
            target = float(instance.weights[built].sum()) if built.size else 0.0
            also.append(("construct", built))
        relaxation = level_bound(instance, time_limit=side_deadline(deadline).remaining(), target=target)
        info["level_bound"] = {"value": relaxation.value, "proven": relaxation.proven, "runtime_s": relaxation.runtime}
        bound = min(bound, relaxation.value)
        if target is not None and reaches(target, bound):
            info.update(
                {"start": "construct", "start_objective": target, "result_from": "construct (reaches the bound)"}
            )
            return SolverOutput(order=[int(k) for k in also[-1][1]], status=Status.OPTIMAL, bound=bound, info=info)
    if instance.timing != "frame":
        # A frame-feasible order is feasible under every other timing model (each upload ends by
        # the frame schedule's start), so greedy is never worse than its own frame schedule.
        frame_request = dataclasses.replace(request, initial=None, deadline=deadline.share(1 / 3))
        framed = solve(dataclasses.replace(instance, timing="frame"), params, frame_request)
        # With the memory's default evictions, which depend on the order alone, it carries over.
        if framed.evicted is None:
            also.append(("greedy-frame", np.asarray(framed.order, dtype=np.int64)))
        info["frame"] = {"objective": float(instance.weights[list(framed.order)].sum())}
    if instance.shares_blocks:
        # A schedule without sharing stays feasible with it (ℓ ≤ ℓ_ns). The no-sharing run is
        # exactly `greedy` on the unshared instance (same budgets and seed), so greedy is never
        # worse than greedy — nor edf — without sharing. It gets a third of any time limit.
        unshared = instance.unshared()
        third = deadline.share(1 / 3)
        ns_order, ns_info = _greedy(unshared, [], bound=alone_weight(unshared), deadline=third, **kwargs)
        # Under a memory whose default evictions are not optimal the carry-over is checked.
        if memory_of(instance).structure & {PAIRWISE} or schedule(instance).feasible(ns_order):
            also.append(("greedy-no-sharing", ns_order))
        info["no_sharing"] = {"objective": float(instance.weights[ns_order].sum()), "start": ns_info["start"]}
    # The small-instance path above already tried every constructive sequence ("construct").
    rebuild = not any(name == "construct" for name, _ in also)
    order, run_info = _greedy(instance, also, bound=bound, deadline=deadline, sequences_too=rebuild, **kwargs)
    info.update(run_info)
    status = Status.OPTIMAL if _reaches(instance, order, bound) else Status.FEASIBLE
    return SolverOutput(order=[int(k) for k in order], status=status, bound=bound, info=info)


def _edf_start(instance: Instance) -> tuple[str, IntArray]:
    return "edf", np.asarray(edf.edf_schedule(instance), dtype=np.int64)


def _reaches(instance: Instance, order: IntArray, bound: float) -> bool:
    weight = float(instance.weights[order].sum()) if order.size else 0.0
    return reaches(weight, bound)


def _shortcut(
    instance: Instance,
    also: list[tuple[str, IntArray]],
    bound: float,
    deadline: Deadline,
) -> SolverOutput | list[tuple[str, IntArray]]:
    """The answer when it is found cheaply and provably as good as the full search's, else the
    extra starts the attempt produced (for the full search).

    Either the EDF schedule (or the given start) serves every user who can be served alone — no
    schedule serves more — or, on a frame instance of at most :data:`BNB_USERS` users, the
    branch-and-bound proves its optimum within :data:`BNB_NODES` nodes, or the instance is small
    enough for the exact set search.
    """
    p = schedule(instance)
    starts = [_edf_start(instance), *also]
    for name, order in starts:
        if not p.feasible(order):
            raise SolverError(f"greedy: start {name} is infeasible")
    name, best = starts[0]
    for other, order in starts[1:]:
        if better(p, order, best):
            name, best = other, order
    info: dict[str, Any] = {"start": name, "start_objective": p.score(best)[0]}
    if reaches(p.score(best)[0], bound):
        info["result_from"] = f"{name} (reaches the bound)"
        return SolverOutput([int(k) for k in best], Status.OPTIMAL, bound=bound, info=info)
    out_of_time = deadline.expired
    extra: list[tuple[str, IntArray]] = []
    if instance.num_users <= BNB_USERS and METHODS["bnb"].why_not(instance) is None:
        # EDF and the tour with the drop rule (one O(K) pass each) are better incumbents than
        # EDF: the better the incumbent, the fewer nodes the proof takes.
        for seq in (edf_sequence(p), tour_sequence(p)):
            dropped = append_admit(p, seq, drop_effort=EDF_DROP_EFFORT)
            if better(p, dropped, best):
                best = dropped
        searched = bnb.search(instance, [int(k) for k in best], lambda nodes: nodes > BNB_NODES or out_of_time(), bound)
        info["bnb_nodes"] = searched.nodes
        if searched.proven:
            info["result_from"] = "branch-and-bound"
            return SolverOutput(searched.order, Status.OPTIMAL, bound=searched.weight, info=info)
        extra.append(("branch-and-bound", np.asarray(searched.order, dtype=np.int64)))
    if instance.num_users > EXACT_SET_USERS:
        return extra

    # The exact search uses the verifier's full tolerance, as `enumerate` does, so that the set
    # it proves heaviest is the optimum the exact methods report.
    exact = schedule(instance, tolerance_share=1.0)
    found, nodes, evicted = exact_set_search(exact, best, EXACT_SET_NODES, out_of_time)
    if found is None:
        return extra
    info.update({"result_from": "exact set search", "nodes": nodes})
    heaviest = float(instance.weights[found].sum()) if found.size else 0.0
    return SolverOutput([int(k) for k in found], Status.OPTIMAL, bound=heaviest, info=info, evicted=evicted)


def _greedy(
    instance: Instance,
    also: list[tuple[str, IntArray]],
    *,
    bound: float,
    improve_: bool,
    effort: float,
    restarts: int,
    seed: int,
    deadline: Deadline,
    sequences_too: bool = True,
) -> tuple[IntArray, dict[str, Any]]:
    """One run; ``also``: feasible orders used as starts (and returned when
    the search ends below them); ``sequences_too=False`` when one of them is already the best
    constructed schedule."""
    p = schedule(instance)
    best, info = _run(
        p,
        [_edf_start(instance), *also],
        bound=bound,
        improve_=improve_,
        effort=effort,
        restarts=restarts,
        rng=np.random.default_rng(seed),
        deadline=deadline,
        sequences_too=sequences_too,
    )
    info["result_from"] = "search" if improve_ else info["start"]
    for name, order in also:
        if not p.feasible(order):
            raise SolverError(f"greedy: start {name} is infeasible")
        if better(p, order, best):
            best = order
            info["result_from"] = name
    return best, info


CAPACITY_EXACT_USERS = 12
"""Under a memory with a capacity, instances up to this many users also run the whole method on
the memory itself (every test an exact evaluation of the order), beside the fast one-model run."""

CAPACITY_DIRECT_USERS = 4
"""Under a memory with a capacity, instances up to this many users skip the one-model run: the
exact set search on the memory itself is cheaper there."""

CAPACITY_TRIALS = 200
"""Whole-order evaluations the capacity phase of :func:`solve_bounded` may spend (a count, not a
clock, so that the result is deterministic)."""

CAPACITY_WINDOW = 2
"""The capacity phase tries each rejected user at its deadline position, this many gaps on
either side of it, and at the end of the order."""


def solve_bounded(instance: Instance, params: GreedyParams, request: SolveRequest) -> SolverOutput:
    """Greedy under a memory whose loads the one-model memory bounds (a capacity).

    0. Shortcuts: when every user fits in deadline order, that is optimal; up to
       :data:`CAPACITY_DIRECT_USERS` users the whole method runs on the memory itself.
    1. The whole method runs on the instance with the one-model memory
       (:data:`~partialloading.memory.DEFAULT_MEMORY`, the same initial state): it is fast, and
       its schedule is on time here too, since no request
       loads more than after the one-model memory.
    2. Its order is evaluated with this memory's default evictions; should they make someone
       late (the rule is not optimal), the one-model evictions are reported instead.
    3. The capacity phase inserts rejected users (heaviest first) where the memory now has room,
       each at a few gaps around its deadline position, every test a whole-order evaluation
       (:data:`CAPACITY_TRIALS` at most).
    4. Up to :data:`CAPACITY_EXACT_USERS` users the whole method also runs on the memory itself
       (its exact set search chooses evictions); the better schedule wins.
    """
    p = schedule(instance)
    everyone = np.asarray(edf.edf_order(instance), dtype=np.int64)
    if p.feasible(everyone):  # the cheapest proof there is (rounds of a lightly loaded server)
        total = float(instance.weights.sum())
        return SolverOutput(everyone.tolist(), Status.OPTIMAL, bound=total, info={"result_from": "everyone (edf)"})
    if instance.num_users <= CAPACITY_DIRECT_USERS and evictable(instance) <= MAX_EVICTABLE:
        # So few users that the exact set search on the memory itself is the cheaper way.
        return _solve(instance, params, request)
    surrogate = solve(dataclasses.replace(instance, memory=DEFAULT_MEMORY), params, request)
    order = np.asarray(surrogate.order, dtype=np.int64)
    evicted: list[tuple[int, ...]] | None = None
    if not p.feasible(order):
        evicted = _one_model_evictions(instance, order)
    elif params.improve:
        order = _capacity_phase(p, order)
    bound = alone_weight(instance)
    info: dict[str, Any] = {
        "one_model": {
            "objective": float(instance.weights[list(surrogate.order)].sum()),
            "status": str(surrogate.status),
        },
        "result_from": "one-model run" if evicted is not None else "one-model run + capacity phase",
    }
    best = SolverOutput([int(k) for k in order], Status.FEASIBLE, bound=bound, info=info, evicted=evicted)
    served = float(instance.weights[order].sum()) if order.size else 0.0
    if reaches(served, bound):  # everyone who can be served alone is: nothing can do better
        return dataclasses.replace(best, status=Status.OPTIMAL)
    if params.improve and instance.num_users <= CAPACITY_EXACT_USERS and evictable(instance) <= MAX_EVICTABLE:
        # Its own status is already optimal when it reaches a bound (never above `bound`).
        generic = _solve(instance, params, request)
        theirs = float(instance.weights[list(generic.order)].sum()) if len(generic.order) else 0.0
        if theirs > served or (generic.status == Status.OPTIMAL and theirs >= served):
            best = generic
    return best


def _one_model_evictions(instance: Instance, order: IntArray) -> list[tuple[int, ...]]:
    """Evict every block the next request does not need: the one-model memory's schedule, which
    fits any capacity that holds each model."""
    memory = memory_of(instance)
    held = set(instance.initial_resident)
    out = []
    for m in instance.user_models[order].tolist():
        need = memory.blocks_of[m]
        out.append(tuple(sorted(held - need)))
        held = set(need)
    return out


def _capacity_phase(p: Schedule, order: IntArray) -> IntArray:
    """Insert rejected users, heaviest first (then earliest deadline), at the feasible gap with
    the smallest makespan among those around each one's deadline position and the end."""
    outside = np.setdiff1d(np.arange(p.num_users), order)
    ranked = outside[np.lexsort((outside, p.limit[outside], -p.weight[outside]))]
    trials = 0
    for k in ranked.tolist():
        if trials >= CAPACITY_TRIALS:
            break
        if not p.alone_ok(k):
            continue
        at = int(np.searchsorted(p.limit[order], p.limit[k], side="right"))
        gaps = sorted({*range(max(0, at - CAPACITY_WINDOW), min(order.size, at + CAPACITY_WINDOW) + 1), order.size})
        best: tuple[float, IntArray] | None = None
        for g in gaps:
            trials += 1
            trial = np.concatenate((order[:g], [k], order[g:]))
            finish = p.finish(trial)
            if np.all(finish <= p.limit[trial]) and (best is None or float(finish[-1]) < best[0]):
                best = (float(finish[-1]), trial)
        if best is not None:
            order = best[1]
    return order
