"""Exact methods start from greedy's schedule, never return less, and say where the answer came from."""

from __future__ import annotations

import pytest

from partialloading import solve
from partialloading.result import Status
from partialloading.scenarios import generate, random_instance

WARM = ["milp", "cpsat", "bnb", "enumerate"]


def hard(users: int = 8):
    # Per-user deadlines, weights and general sharing: greedy rarely proves these on its own.
    return generate("general", 3, n_users=users, deadlines="per_user", weighted=True, max_weight=3)


@pytest.mark.parametrize("method", WARM)
def test_exact_methods_are_never_below_greedy(method: str) -> None:
    for seed in range(4):
        instance = random_instance(seed, 8, 3, structure="general", deadlines="per_user", weighted=True)
        greedy = solve(instance, "greedy", seed=seed)
        exact = solve(instance, method, seed=seed, time_limit=30)
        assert exact.objective >= greedy.objective - 1e-9
        assert exact.info["incumbent_from"] in ("method", "greedy")
        assert exact.info["warm_start"]["objective"] == greedy.objective


@pytest.mark.parametrize("method", WARM)
def test_a_proven_optimum_is_the_same_warm_or_cold(method: str) -> None:
    for seed in range(3):
        instance = random_instance(seed, 7, 3, structure="general", deadlines="per_user", weighted=True)
        warm = solve(instance, method, seed=seed)
        cold = solve(instance, method, seed=seed, initial=[])
        assert "warm_start" not in cold.info
        assert warm.status == cold.status == Status.OPTIMAL
        assert warm.objective == pytest.approx(cold.objective)


def test_a_time_limited_method_is_never_below_its_warm_start() -> None:
    # 60 users and 0.3 s (a quarter of it for greedy): CP-SAT stops long before it could prove
    # anything; whatever it found, the answer is at least greedy's and says where it came from.
    instance = generate("general", 0, n_users=60, deadlines="per_user", weighted=True, max_weight=3)
    result = solve(instance, "cpsat", time_limit=0.3)
    start = result.info["warm_start"]
    assert result.objective >= start["objective"] - 1e-9
    if result.objective > start["objective"]:
        assert result.info["incumbent_from"] == "method"
    else:  # greedy's own schedule, or another of the same weight the method found
        assert result.info["incumbent_from"] in ("greedy", "method")
    cold = solve(instance, "cpsat", time_limit=0.3, initial=[])
    assert cold.objective < result.objective  # what the warm start is for


@pytest.mark.parametrize("method", WARM)
def test_a_start_that_reaches_greedys_bound_is_proven_at_once(method: str) -> None:
    # Two users of one model with generous deadlines: greedy serves both, the served-alone
    # weight, and that bound goes with the start into the method's model.
    instance = random_instance(0, 2, 1, deadlines="common", tightness=5.0)
    result = solve(instance, method)
    assert result.status == Status.OPTIMAL
    assert result.bound == result.objective == result.info["warm_start"]["bound"]


def test_the_milp_accepts_greedy_as_its_mip_start() -> None:
    instance = hard(12)
    greedy = solve(instance, "greedy")
    result = solve(instance, "milp", time_limit=2, initial=list(greedy.solution.admitted))
    assert result.info["mip_start"] is True
    assert result.objective >= greedy.objective


def test_the_reported_bound_includes_the_relaxation() -> None:
    instance = hard(24)
    result = solve(instance, "cpsat", time_limit=2)
    assert result.bound is not None
    assert result.bound <= result.info["warm_start"]["bound"] + 1e-9
    assert result.bound >= result.objective - 1e-9


@pytest.mark.parametrize("family", ["general", "backbone"])
def test_proven_optima_agree_across_methods_and_starts(family: str) -> None:
    # Small instances: every method, cold and warm, proves the same optimum as enumeration.
    for seed in range(3):
        instance = generate(family, seed, n_users=8, deadlines="per_user", weighted=True, max_weight=3)
        reference = solve(instance, "enumerate", initial=[])
        assert reference.status == Status.OPTIMAL
        for method in WARM:
            for start in (None, []):
                result = solve(instance, method, time_limit=30, initial=start)
                assert result.status == Status.OPTIMAL, (method, start)
                assert result.objective == pytest.approx(reference.objective), (method, start)


def test_cpsat_and_milp_agree_where_both_prove() -> None:
    # Beyond enumeration (12 users): where both exact methods prove, cold, the optima are equal.
    both = 0
    for seed in range(4):
        instance = generate("backbone", seed, n_users=12, deadlines="per_user", weighted=True, max_weight=3)
        cpsat = solve(instance, "cpsat", time_limit=10, initial=[])
        milp = solve(instance, "milp", time_limit=10, initial=[])
        if cpsat.status == milp.status == Status.OPTIMAL:
            both += 1
            assert cpsat.objective == pytest.approx(milp.objective)
    assert both >= 2
