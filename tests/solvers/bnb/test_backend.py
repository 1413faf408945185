"""Branch-and-bound over model visits (``method="bnb"``): against enumeration, CP-SAT and the verifier."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from partialloading import instances, solve
from partialloading.errors import MethodNotApplicableError, ParameterError
from partialloading.instance import Block, Instance, Model, User
from partialloading.result import Status
from partialloading.scenarios import generate, random_instance
from partialloading.validation.verify import verify_solution

from strategies import generated_instances


def check(instance: Instance, result) -> None:
    report = verify_solution(instance, result.to_dict())
    assert report.ok, str(report)
    assert result.bound is not None and result.bound >= result.objective - 1e-9


def test_tiny_optimum_by_hand(tiny: Instance) -> None:
    # The bundled tiny instance: with sharing u1, u3 (birds) then u2 (cars) load the backbone
    # once and all three make 0.5 s, u4 (dogs) would not: 3. Without sharing 2 (see enumerate).
    for sharing, optimum in ((True, 3), (False, 2)):
        result = solve(tiny, "bnb", sharing=sharing, initial=[])
        assert result.status is Status.OPTIMAL and result.objective == optimum == result.bound
        check(tiny, result)


def test_users_of_one_model_are_served_in_deadline_order() -> None:
    # One model (0.1 s to load, 0.01 s per inference), three users with deadlines 0.135, 0.125
    # and 0.115 s, each uploading for 1e-4 s (upload phase 3e-4 s). Served in deadline order they
    # finish at 0.1103, 0.1203 and 0.1303 s: all on time. In any other order the 0.115 s user
    # finishes at 0.1203 s or later, so 3 needs exactly the deadline order.
    blocks = (Block("m", 1e8),)
    models = (Model("A", ("m",), 0.01),)
    users = tuple(User(f"u{k}", "A", 1000.0, d, spectral_efficiency=1.0) for k, d in enumerate((0.135, 0.125, 0.115)))
    inst = Instance(blocks, models, users, bandwidth_hz=1e7, load_speed_bytes_per_s=1e9, name="one-model")
    result = solve(inst, "bnb", initial=[])
    assert result.status is Status.OPTIMAL and result.objective == 3
    assert result.solution.admitted == ("u2", "u1", "u0")
    check(inst, result)


@pytest.mark.parametrize("path_bound", [True, False], ids=["layered", "depth-first"])
@settings(max_examples=150, deadline=None)
@given(generated_instances(max_users=8, max_models=4), st.booleans())
def test_equals_enumerate(path_bound: bool, instance: Instance, sharing: bool) -> None:
    # With the path relaxation the labels are searched layer by layer, without it depth first.
    exact = solve(instance, "enumerate", sharing=sharing)
    result = solve(instance, "bnb", sharing=sharing, initial=[], path_bound=path_bound)
    assert result.status is Status.OPTIMAL
    assert result.objective == pytest.approx(exact.objective)
    check(instance, result)


@settings(max_examples=60, deadline=None)
@given(
    generated_instances(max_users=8, max_models=4),
    st.lists(st.sampled_from([0.5, 1.0, 1.7, 2.0, 3.0]), min_size=8, max_size=8),
    st.sampled_from([1.0, 2.0, 0.1]),
)
def test_equals_enumerate_whatever_the_weights(instance: Instance, weights: list[float], scale: float) -> None:
    # Whole multiples of 2 (a weight unit of 2: pruning asks for 2 more), integers, and
    # fractional weights (no unit: pruning asks for more than a tie).
    users = tuple(dataclasses.replace(u, weight=w * scale) for u, w in zip(instance.users, weights, strict=False))
    instance = dataclasses.replace(instance, users=users)
    exact = solve(instance, "enumerate")
    result = solve(instance, "bnb", initial=[])
    assert result.status is Status.OPTIMAL
    assert result.objective == pytest.approx(exact.objective)
    check(instance, result)


@pytest.mark.parametrize("structure", ["backbone", "general"])
def test_agrees_with_cpsat_where_both_prove(structure: str) -> None:
    # 12–14 users over 4–6 models, per-user deadlines and weights 1–3: both methods prove these
    # in well under their limits, cold (the model alone) and from greedy's start.
    agreed = 0
    for seed in range(3):
        instance = generate(structure, seed, n_users=12 + seed, deadlines="per_user", weighted=True, max_weight=3)
        ours = solve(instance, "bnb", initial=[], time_limit=60)
        warm = solve(instance, "bnb", time_limit=60)
        other = solve(instance, "cpsat", initial=[], time_limit=60)
        check(instance, ours)
        check(instance, warm)
        assert ours.status is Status.OPTIMAL and warm.status is Status.OPTIMAL
        assert warm.objective == pytest.approx(ours.objective)
        if other.status is Status.OPTIMAL:
            assert other.objective == pytest.approx(ours.objective)
            agreed += 1
    assert agreed >= 2


def test_a_stopped_search_reports_a_valid_bound() -> None:
    # A node budget far too small for a proof: the result is greedy's start or better, and the
    # bound of the subtrees left open is never below the optimum proven without the budget.
    for seed in range(3):
        instance = random_instance(seed, 12, 4, structure="general", deadlines="per_user", weighted=True)
        full = solve(instance, "bnb", initial=[])
        cut = solve(instance, "bnb", initial=[], max_nodes=300)
        assert full.status is Status.OPTIMAL
        check(instance, cut)
        assert cut.objective <= full.objective + 1e-9
        assert cut.bound >= full.objective - 1e-9
        if cut.status is not Status.OPTIMAL:
            assert cut.info["nodes"] > 300


def test_starts_from_the_given_schedule_and_is_never_below_it() -> None:
    instance = random_instance(5, 10, 3, structure="backbone", deadlines="per_user", weighted=True)
    greedy = solve(instance, "greedy")
    result = solve(instance, "bnb", initial=greedy.solution.admitted, max_nodes=1)
    assert result.objective >= greedy.objective - 1e-9
    check(instance, result)


def test_deterministic() -> None:
    instance = generate("general", 2, n_users=14, deadlines="per_user", weighted=True, max_weight=3)
    runs = [solve(instance, "bnb", initial=[], max_nodes=2000) for _ in range(2)]
    assert runs[0].solution.admitted == runs[1].solution.admitted
    assert runs[0].bound == runs[1].bound and runs[0].info["nodes"] == runs[1].info["nodes"]


def test_refuses_pipelined_timing() -> None:
    instance = dataclasses.replace(instances.load("tiny"), timing="pipelined")
    with pytest.raises(MethodNotApplicableError, match="bnb does not support 'pipelined' timing"):
        solve(instance, "bnb")


def test_bad_node_budget_is_refused() -> None:
    with pytest.raises(ParameterError, match="max_nodes"):
        solve(instances.load("tiny"), "bnb", max_nodes=0)


@pytest.mark.parametrize("seed", range(8))
def test_the_certificate_bound_is_never_below_the_enumerated_optimum(seed: int) -> None:
    # Small per-user-deadline instances with weights: enumerate's optimum is the truth. With any
    # node budget, the bound the search ends with covers it; a proven search ends at it exactly.
    instance = random_instance(seed, 8, 3, structure="general", deadlines="per_user", weighted=True)
    optimum = solve(instance, "enumerate", initial=[]).objective
    for budget in (1, 20, 200, None):
        result = solve(instance, "bnb", initial=[], max_nodes=budget)
        certificate = result.info["certificate"]
        check(instance, result)
        assert certificate["bound"] >= optimum - 1e-9
        # (no node at all when the root's bound already proves the start)
        assert certificate["nodes"] >= 0 and certificate["labels"] >= 0 and certificate["search_s"] >= 0
        if certificate["proven"]:
            assert certificate["bound"] == pytest.approx(optimum) == pytest.approx(result.objective)
    assert solve(instance, "bnb", initial=[]).info["certificate"]["proven"]
