"""The branch-and-bound over batches (``method="bnb"`` on instances with batch tables): against
enumeration, the batch-slot MILP and the verifier; its stopped bounds stay valid."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from partialloading import solve
from partialloading.instance import Instance
from partialloading.result import Status
from partialloading.scenarios import random_batched_instance, random_instance
from partialloading.solvers.bnb.batches import batch_numbers
from partialloading.validation.verify import verify_solution

from docpages import shown_after
from hand import batch_hand_instance
from strategies import generated_instances, with_random_tables


def check(instance: Instance, result) -> None:
    report = verify_solution(instance, result.to_dict())
    assert report.ok, str(report)
    assert result.bound is not None and result.bound >= result.objective - 1e-9


def test_hand_instance_needs_one_batch_of_three() -> None:
    # See batch_hand_instance: only A's three requests as one batch (20 + 14 = 34 ms ≤ 34.5 ms)
    # serve three; one at a time, or with B, at most one or two are on time.
    inst = batch_hand_instance()
    result = solve(inst, "bnb", initial=[])
    assert result.status is Status.OPTIMAL and result.objective == 3
    assert result.solution.batches == (("a1", "a2", "a3"),)
    check(inst, result)


@pytest.mark.parametrize("path_bound", [True, False], ids=["paths", "levels-only"])
@settings(max_examples=120, deadline=None)
@given(generated_instances(max_users=8, max_models=4), st.integers(0, 10_000), st.booleans())
def test_equals_enumerate(path_bound: bool, instance: Instance, table_seed: int, sharing: bool) -> None:
    inst = with_random_tables(instance, table_seed)
    exact = solve(inst, "enumerate", sharing=sharing)
    result = solve(inst, "bnb", sharing=sharing, initial=[], path_bound=path_bound)
    assert result.status is Status.OPTIMAL
    assert result.objective == pytest.approx(exact.objective)
    check(inst, result)


@pytest.mark.parametrize("seed", range(3))
def test_agrees_with_the_batch_slot_milp(seed: int) -> None:
    # Two exact methods of different kinds, each on its own (no warm start): the same optimum.
    inst = with_random_tables(
        random_instance(seed, 10, 4, structure="general", deadlines="per_user", weighted=True), seed
    )
    ours = solve(inst, "bnb", initial=[])
    other = solve(inst, "milp", initial=[], time_limit=120)
    assert ours.status is Status.OPTIMAL and other.status is Status.OPTIMAL
    assert ours.objective == pytest.approx(other.objective)
    check(inst, ours)


@pytest.mark.parametrize("seed", range(6))
def test_a_stopped_search_reports_a_valid_bound(seed: int) -> None:
    # Whatever the node budget, the bound covers enumerate's optimum; a proof ends at it.
    inst = with_random_tables(
        random_instance(seed, 9, 3, structure="general", deadlines="per_user", weighted=True), seed
    )
    optimum = solve(inst, "enumerate", initial=[]).objective
    for budget in (1, 20, 200, None):
        result = solve(inst, "bnb", initial=[], max_nodes=budget)
        check(inst, result)
        certificate = result.info["certificate"]
        assert certificate["bound"] >= optimum - 1e-9 and result.bound >= optimum - 1e-9
        assert result.objective <= optimum + 1e-9
        if certificate["proven"]:
            assert result.objective == pytest.approx(optimum)
    assert solve(inst, "bnb", initial=[]).info["certificate"]["proven"]


def test_starts_from_greedys_batches_and_is_never_below_them() -> None:
    inst = with_random_tables(random_instance(4, 16, 4, structure="backbone", deadlines="per_user", weighted=True), 4)
    greedy = solve(inst, "greedy")
    assert greedy.solution.batch is not None  # the start has batches of several requests
    result = solve(inst, "bnb", initial=greedy.solution.admitted, initial_batch=greedy.solution.batch, max_nodes=1)
    assert result.objective >= greedy.objective - 1e-9
    check(inst, result)


def test_deterministic() -> None:
    inst = with_random_tables(random_instance(2, 18, 5, structure="general", deadlines="per_user", weighted=True), 2)
    runs = [solve(inst, "bnb", initial=[], max_nodes=3000) for _ in range(2)]
    assert runs[0].solution.admitted == runs[1].solution.admitted
    assert runs[0].solution.batch == runs[1].solution.batch
    assert runs[0].bound == runs[1].bound and runs[0].info["nodes"] == runs[1].info["nodes"]


def test_batch_numbers_decode_the_recorded_steps() -> None:
    # 4 starts a batch, 7 joins it, 2 starts the next one, 5 and 1 join that.
    assert batch_numbers([4, -1 - 7, 2, -1 - 5, -1 - 1]) == ([4, 7, 2, 5, 1], [0, 0, 1, 1, 1])
    assert batch_numbers([]) == ([], [])


def reach_row(users: int) -> list[str]:
    """The ``bnb`` row at ``users`` of the batching page's reach table: ``greedy/found/bound`` per seed."""
    page = Path(__file__).resolve().parents[3] / "docs" / "batching.md"
    lines = shown_after(page, "python benchmarks/batching_exact.py --no-small --sizes 20 30")
    row = next(line.split() for line in lines if line.split()[:2] == [str(users), "bnb"])
    assert row[2] == "6/6"  # proven, each
    return row[4:]


@pytest.mark.parametrize("users", [20, pytest.param(30, marks=pytest.mark.slow)])
def test_the_reach_table_of_the_batching_page(users: int) -> None:
    # The page's figures are what `bnb` proves on the benchmark's instances (from greedy's
    # schedule, as `solve` runs it); each proof takes a few seconds at most.
    for seed, shown in zip(range(100, 106), reach_row(users), strict=True):
        inst = random_batched_instance(seed, users)
        result = solve(inst, "bnb", time_limit=60)
        assert result.status is Status.OPTIMAL
        check(inst, result)
        greedy = solve(inst, "greedy").objective
        assert f"{greedy:g}/{result.objective:g}/{result.bound:g}" == shown
