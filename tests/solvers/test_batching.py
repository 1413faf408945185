"""Batching across the methods: properties (a)–(d) of batched schedules, each against
enumeration and an independent brute force; every method's schedules pass the verifier."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator

import numpy as np
import pytest

from partialloading import solve
from partialloading.errors import MethodNotApplicableError, ParameterError
from partialloading.instance import Instance
from partialloading.methods import METHODS, SolveRequest
from partialloading.params import MilpParams
from partialloading.portfolio import choose_method
from partialloading.scenarios.synthetic import random_instance
from partialloading.solution import Solution
from partialloading.solvers.milp.batched import solve_batched as solve_batched_milp
from partialloading.timing import servable_alone, timeline
from partialloading.validation.verify import verify_solution

from hand import MS, batch_hand_instance, ms_instance
from strategies import with_random_tables

BATCHING = [name for name, m in METHODS.items() if m.batching]
TIMINGS = ["frame", "pipelined"]
MEMORIES = ["single", "capacity"]


def batched_instance(seed: int, n: int = 7, timing: str = "frame", memory: str = "single", models: int = 3) -> Instance:
    inst = random_instance(seed, n, models, structure="general", deadlines="per_user", weighted=seed % 2 == 1)
    inst = dataclasses.replace(inst, timing=timing)
    if memory == "capacity":
        inst = dataclasses.replace(inst, memory_bytes=float(inst.model_sizes.max() * 1.3))
    return with_random_tables(inst, seed)


def all_batchings(inst: Instance, users: tuple[int, ...]) -> Iterator[tuple[list[int], list[int]]]:
    """Every sequence of batches (one model each, within its table) serving exactly ``users``."""
    for order in itertools.permutations(users):
        n = len(order)
        # Each cut pattern between neighbours: cut (new batch) or not (same batch).
        for cuts in itertools.product((True, False), repeat=max(n - 1, 0)):
            batch = [0]
            for cut in cuts:
                batch.append(batch[-1] + (1 if cut else 0))
            ok = all(
                inst.user_models[order[q]] == inst.user_models[order[q - 1]] for q in range(1, n) if not cuts[q - 1]
            )
            sizes = np.bincount(batch) if n else np.zeros(0, dtype=int)
            firsts = [order[batch.index(b)] for b in range(len(sizes))]
            if ok and all(sizes[b] <= inst.max_batch[inst.user_models[k]] for b, k in enumerate(firsts)):
                yield list(order), batch


def brute_force(inst: Instance) -> float:
    """The best weight over every subset and every batching (the evaluator's timelines, each order
    and each cut pattern: no search, no dominance)."""
    best = 0.0
    users = servable_alone(inst).tolist()
    for size in range(len(users), 0, -1):
        for subset in itertools.combinations(users, size):
            weight = float(inst.weights[list(subset)].sum())
            if weight <= best:
                continue
            if any(timeline(inst, order, batch=batch).feasible for order, batch in all_batchings(inst, subset)):
                best = weight
    return best


@pytest.mark.parametrize("timing", TIMINGS)
@pytest.mark.parametrize("memory", MEMORIES)
@pytest.mark.parametrize("seed", range(4))
def test_enumerate_agrees_with_the_brute_force(seed: int, timing: str, memory: str) -> None:
    inst = batched_instance(seed, n=5, timing=timing, memory=memory)
    result = solve(inst, "enumerate")
    assert result.status == "optimal"
    assert result.objective == pytest.approx(brute_force(inst))


@pytest.mark.parametrize("method", BATCHING)
@pytest.mark.parametrize("timing", TIMINGS)
@pytest.mark.parametrize("memory", MEMORIES)
def test_every_batching_method_verifies(method: str, timing: str, memory: str) -> None:
    for seed in range(3):
        inst = batched_instance(seed, n=7, timing=timing, memory=memory)
        refusal = METHODS[method].why_not(inst)
        if refusal is not None:
            with pytest.raises(MethodNotApplicableError) as caught:
                solve(inst, method)
            assert str(caught.value) == refusal and "\n" not in refusal
            continue
        result = solve(inst, method)
        report = verify_solution(inst, result.to_dict())
        assert report.ok, str(report)
        again = type(result).from_dict(inst, result.to_dict())
        # The file keeps the batches (and the evictions the default rule made, written out).
        assert (again.solution.order, again.solution.batch) == (result.solution.order, result.solution.batch)
        assert np.array_equal(again.solution.timeline.finish, result.solution.timeline.finish)


@pytest.mark.parametrize("method", ["cpsat", "dp"])
def test_methods_without_batches_refuse_in_one_line(method: str) -> None:
    inst = batched_instance(0)
    with pytest.raises(MethodNotApplicableError, match="does not serve batches") as caught:
        solve(inst, method)
    assert "\n" not in str(caught.value) and "enumerate" in str(caught.value)
    assert choose_method(inst) in BATCHING


@pytest.mark.parametrize("timing", TIMINGS)
def test_a_table_of_length_one_changes_nothing(method: str, timing: str) -> None:
    """Property (a): tables of one entry are the unbatched model, for every method."""
    inst = dataclasses.replace(random_instance(3, 6, 3, structure="general", deadlines="per_user"), timing=timing)
    if method in METHODS and METHODS[method].why_not(inst) is not None:
        pytest.skip(METHODS[method].why_not(inst) or "")
    ones = tuple(dataclasses.replace(m, batch_infer_time_s=(m.infer_time_s,)) for m in inst.models)
    tabled = dataclasses.replace(inst, models=ones)
    assert not tabled.batching
    plain, same = solve(inst, method, time_limit=30), solve(tabled, method, time_limit=30)
    assert same.objective == plain.objective and same.status == plain.status
    assert same.solution.order == plain.solution.order and same.solution.batch is None


@pytest.mark.parametrize("timing", TIMINGS)
@pytest.mark.parametrize("seed", range(6))
def test_batching_never_serves_less(seed: int, timing: str) -> None:
    """Property (b): extending a table never lowers the optimum (no table ⊂ 2 entries ⊂ all)."""
    inst = batched_instance(seed, n=7, timing=timing)
    shorter = dataclasses.replace(
        inst,
        models=tuple(dataclasses.replace(m, batch_infer_time_s=(m.batch_infer_time_s or ())[:2]) for m in inst.models),
    )
    values = [solve(i, "enumerate").objective for i in (inst.unbatched(), shorter, inst)]
    assert values == sorted(values)
    assert solve(inst, "greedy").objective >= solve(inst.unbatched(), "greedy").objective


@pytest.mark.parametrize("timing", TIMINGS)
@pytest.mark.parametrize("memory", MEMORIES)
@pytest.mark.parametrize("seed", range(4))
def test_removing_a_member_keeps_everyone_on_time(seed: int, timing: str, memory: str) -> None:
    """Property (c): admissible sets stay closed under removal (a member leaves its batch, an
    emptied batch disappears), so "late alone ⇒ never admitted" holds with batches."""
    inst = batched_instance(seed, n=7, timing=timing, memory=memory)
    sol = solve(inst, "enumerate").solution
    order, batch = list(sol.order), list(sol.batch or range(len(sol.order)))
    for q in range(len(order)):
        rest, numbers = order[:q] + order[q + 1 :], batch[:q] + batch[q + 1 :]
        # Renumber: an emptied batch disappears.
        renumbered = [0] * len(numbers)
        for r in range(1, len(numbers)):
            renumbered[r] = renumbered[r - 1] + (numbers[r] != numbers[r - 1])
        assert timeline(inst, rest, batch=renumbered).feasible
    assert set(sol.order) <= set(servable_alone(inst).tolist())


def deadline_ordered(sol: Solution) -> Solution:
    """The exchange of property (d): each model's users, in deadline order, refill the places its
    users held (same batches, same sizes)."""
    inst = sol.instance
    order = list(sol.order)
    for m in set(inst.user_models[order].tolist()):
        places = [q for q, k in enumerate(order) if inst.user_models[k] == m]
        users = sorted((order[q] for q in places), key=lambda k: (inst.deadlines[k], k))
        for q, k in zip(places, users, strict=True):
            order[q] = k
    return Solution(inst, tuple(order), batch=sol.batch)


@pytest.mark.parametrize("timing", TIMINGS)
@pytest.mark.parametrize("seed", range(8))
def test_equal_times_admit_a_deadline_ordered_optimum(seed: int, timing: str) -> None:
    """Property (d): with equal times within a model, the optimum's batches refilled in deadline
    order stay on time (the exchange argument: swapping two users of one model between batches so
    the earlier deadline goes first changes no batch's time and meets both deadlines)."""
    inst = batched_instance(seed, n=8, timing=timing)
    sol = solve(inst, "enumerate").solution
    assert deadline_ordered(sol).feasible


def test_per_user_times_break_the_deadline_order() -> None:
    """Property (d) fails with per-user times: no optimum serves the model's users in deadline order.

    One model, loads of 0.1 µs; a batch of two takes as long as its longer member. s takes 1 ms
    (due 17.5 ms), L1, L2, L3 take 10 ms (due 13.5, 19.5, 24.5). {L1, L2} ends at 10, s at 11, L3
    at 21: all four on time. In deadline order (L1, s, L2, L3) s comes before L2: with L1 in one
    batch (10 ms) L2 ends at 20 or later; alone after L1, s ends at 11 and L2 at 21; with L2, the
    batch ends at 20 and s is late. So the deadline order serves at most three.
    """
    inst = ms_instance(
        {"blk": 0.0001},
        {"A": (["blk"], 1)},
        [("s", "A", 17.5), ("L1", "A", 13.5), ("L2", "A", 19.5), ("L3", "A", 24.5)],
    )
    users = tuple(u if u.id == "s" else dataclasses.replace(u, infer_time_s=10 * MS) for u in inst.users)
    model = dataclasses.replace(inst.models[0], batch_infer_time_s=(1 * MS, 1 * MS))
    inst = dataclasses.replace(inst, users=users, models=(model,))
    best = solve(inst, "enumerate")
    assert best.objective == 4 and best.solution.batches[0] == ("L1", "L2")
    assert not deadline_ordered(best.solution).feasible
    for order, batch in all_batchings(inst, (1, 0, 2, 3)):
        if order == [1, 0, 2, 3]:  # the deadline order itself, every batch split
            assert not timeline(inst, order, batch=batch).feasible


@pytest.mark.parametrize("method", ["enumerate", "greedy"])
def test_the_hand_instance_is_solved_as_one_batch(method: str) -> None:
    result = solve(batch_hand_instance(), method)
    assert result.objective == 3 and result.status == "optimal"
    assert result.solution.batches == (("a1", "a2", "a3"),)


def milp_alone(inst: Instance) -> Solution:
    """The batch-slot MILP solved on its own (no warm start: greedy proves these small instances)."""
    out = solve_batched_milp(inst, MilpParams(), SolveRequest())
    assert out.status == "optimal"
    return Solution(inst, tuple(out.order), batch=out.batch)


@pytest.mark.parametrize("seed", range(6))
def test_the_batch_slot_milp_agrees_with_enumeration(seed: int) -> None:
    """The second exact method: the MILP's optimum is enumerate's, with equal and per-request
    times (its schedule re-evaluated by the toolkit and checked by the verifier)."""
    inst = batched_instance(seed, n=8, models=3)
    if seed % 2:
        # Per-request times within ±50% of the model's: the longest member paces the batch.
        rng = np.random.default_rng(seed)
        users = tuple(
            dataclasses.replace(
                u, infer_time_s=float(inst.infer_times[inst.model_index[u.model]] * rng.uniform(0.5, 1.5))
            )
            for u in inst.users
        )
        inst = dataclasses.replace(inst, users=users)
    sol = milp_alone(inst)
    assert sol.feasible
    assert sol.objective == solve(inst, "enumerate").objective


@pytest.mark.parametrize("timing", TIMINGS)
@pytest.mark.parametrize("memory", MEMORIES)
@pytest.mark.parametrize("seed", range(4))
def test_the_milp_alone_agrees_with_enumerate_in_every_combination(seed: int, timing: str, memory: str) -> None:
    # Every timing x memory with batches has two exact methods: the batch-slot model (HiGHS under
    # frame timing, SCIP under pipelined timing; resident blocks with a capacity) and enumerate.
    inst = batched_instance(seed, n=6, timing=timing, memory=memory)
    exact = solve(inst, "enumerate")
    result = solve(inst, "milp", initial=[], time_limit=120)
    assert result.status == "optimal" and result.info["formulation"] == "batched"
    assert result.objective == pytest.approx(exact.objective)
    report = verify_solution(inst, result.to_dict())
    assert report.ok, str(report)


def test_the_milp_refuses_other_formulations_for_batches_in_one_line() -> None:
    with pytest.raises(MethodNotApplicableError, match="does not serve batches"):
        solve(batched_instance(0), "milp", formulation="compact")


def test_greedy_is_within_three_percent_of_the_optimum() -> None:
    """On small generated instances with 4–6 models and tables of 2–8 entries, in total weight
    (12 users: past greedy's exact part, so its heuristic schedules are what is measured)."""
    greedy = optimum = 0.0
    for seed in range(12):
        inst = batched_instance(seed, n=12, timing=TIMINGS[seed % 2], models=4 + seed % 3)
        optimum += solve(inst, "enumerate", max_users=12).objective
        greedy += solve(inst, "greedy").objective
    assert greedy >= 0.97 * optimum


def test_a_start_keeps_its_batches() -> None:
    inst = batch_hand_instance()
    users = ["a1", "a2", "a3"]
    result = solve(inst, "greedy", initial=users, initial_batch=[0, 0, 0])
    assert result.objective == 3
    with pytest.raises(ParameterError, match="initial: the starting schedule is not feasible"):
        solve(inst, "greedy", initial=users)  # one request per batch: a2 and a3 are late
    with pytest.raises(ParameterError, match="initial_batch: batch numbers must start at 0"):
        solve(inst, "greedy", initial=users, initial_batch=[1, 1, 1])
    with pytest.raises(ParameterError, match="initial_batch: given without initial"):
        solve(inst, "greedy", initial_batch=[0])
