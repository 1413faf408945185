"""The upper bounds are never below a proven optimum, under both timing models."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from partialloading.instance import Block, Instance, Model, User
from partialloading.relaxations import alone_bound, best_cheap_bound, knapsack_bound, level_bound
from partialloading.scenarios import generate, random_instance
from partialloading.solve import solve

from strategies import generated_instances


@settings(max_examples=80, deadline=None)
@given(generated_instances(max_users=8), st.booleans(), st.sampled_from(["frame", "pipelined"]))
def test_bounds_are_never_below_the_optimum(instance, sharing: bool, timing: str) -> None:
    instance = dataclasses.replace(instance, timing=timing)
    optimum = solve(instance, "enumerate", sharing=sharing).objective
    assert knapsack_bound(instance if sharing else instance.unshared()) >= optimum - 1e-9
    assert alone_bound(instance if sharing else instance.unshared()) >= optimum - 1e-9
    assert best_cheap_bound(instance if sharing else instance.unshared()) >= optimum - 1e-9


@settings(max_examples=120, deadline=None)
@given(
    generated_instances(max_users=8),
    st.booleans(),
    st.sampled_from(["frame", "pipelined"]),
    st.sampled_from([None, 0.0, 1.0, 3.0]),
)
def test_the_level_bound_is_never_below_the_optimum(instance, sharing: bool, timing: str, target) -> None:
    # ``target`` is any weight the caller knows (it lets an LP bound below it stand in for the
    # MILP): the result is a bound whatever it is.
    instance = dataclasses.replace(instance, timing=timing)
    optimum = solve(instance, "enumerate", sharing=sharing, initial=[]).objective
    found = level_bound(instance if sharing else instance.unshared(), target=target)
    assert found.value >= optimum - 1e-9
    assert found.value <= best_cheap_bound(instance if sharing else instance.unshared()) + 1e-9


@pytest.mark.parametrize("family", ["general", "backbone"])
def test_the_level_bound_is_never_below_cpsat_proven_optima(family: str) -> None:
    # Mid-size instances with per-user deadlines, beyond enumeration: the optimum comes from CP-SAT.
    for seed in range(3):
        instance = generate(family, seed, n_users=14, deadlines="per_user", weighted=True, max_weight=3)
        exact = solve(instance, "cpsat", time_limit=60, initial=[])
        if exact.status.value != "optimal":
            continue
        assert level_bound(instance).value >= exact.objective - 1e-9


def test_the_level_bound_counts_every_missing_block() -> None:
    # Two models of one 2 GB block each at 1 GB/s (2 s to load), inference 1 s, uploads of 1 µs;
    # two users per model, weight 1, deadline 7.1 s. Serving all four loads both models and
    # infers four times: 2 + 2 + 4 = 8 s > 7.1 s; three fit (m, m, n: 7 s), so the optimum is 3.
    # The knapsack bound charges a single first load (4 users · 1 s ≤ 7.1 − 2) and says 4; the
    # level bound charges both blocks and proves 3.
    blocks = (Block("a", 2e9), Block("c", 2e9))
    models = (Model("m", ("a",), 1.0), Model("n", ("c",), 1.0))
    users = tuple(User(f"{name}{k}", name, 1.0, 7.1, spectral_efficiency=1.0) for name in "mn" for k in range(2))
    instance = Instance(blocks=blocks, models=models, users=users, bandwidth_hz=1e6, load_speed_bytes_per_s=1e9)
    assert solve(instance, "enumerate", initial=[]).objective == 3
    assert knapsack_bound(instance) == 4
    assert level_bound(instance).value == 3


def test_a_level_without_admitted_users_does_not_bind() -> None:
    # One model (1 s to load, 0.1 s inference). A: upload 0.05 s, deadline 1.2 s, weight 1;
    # B: upload 5 s, deadline 10 s, weight 2. Both: the uploads end at 5.05 s, after A's
    # deadline; B alone ends at 6.1 s. The optimum serves B (2). A's level (1.2 s) must not
    # count B's upload when A is not served.
    blocks = (Block("a", 1e9),)
    models = (Model("m", ("a",), 0.1),)
    users = (
        User("A", "m", 5e4, 1.2, spectral_efficiency=1.0, weight=1),
        User("B", "m", 5e6, 10.0, spectral_efficiency=1.0, weight=2),
    )
    instance = Instance(blocks=blocks, models=models, users=users, bandwidth_hz=1e6, load_speed_bytes_per_s=1e9)
    assert solve(instance, "enumerate", initial=[]).objective == 2
    assert level_bound(instance).value == 2
    assert level_bound(instance, target=0.0).value >= 2


def test_the_level_bound_is_never_below_a_verified_schedule_with_spread_deadlines() -> None:
    # Deadlines from 0.1 to 0.9 s with uploads of up to 0.08 s: the early levels cannot hold
    # every admitted upload, so they must only bind when one of their users is served.
    instance = random_instance(0, 40, 3, structure="general", deadlines="per_user", weighted=True)
    found = solve(instance, "greedy", initial=[])
    assert level_bound(instance).value >= found.objective


def test_the_knapsack_bound_is_tighter_on_a_large_common_deadline_instance() -> None:
    # 400 users, one tight deadline: nearly all are servable alone, but together only a few fit.
    instance = generate("zoo-heads", 0, n_users=400, tightness=0.1)
    alone, knapsack = alone_bound(instance), knapsack_bound(instance)
    served = solve(instance, "dp").objective  # the exact DP applies (backbone, one deadline)
    assert served <= knapsack < alone
    assert knapsack <= 1.5 * served


def test_empty_instance() -> None:
    instance = dataclasses.replace(generate("zoo-heads", 0, n_users=3), users=())
    assert knapsack_bound(instance) == alone_bound(instance) == 0.0


@pytest.mark.parametrize("timing", ["frame", "pipelined"])
def test_greedy_reports_the_level_bound(timing: str) -> None:
    instance = dataclasses.replace(generate("zoo-mixed", 1, n_users=200, tightness=0.2), timing=timing)
    result = solve(instance, "greedy")
    assert result.bound == pytest.approx(min(best_cheap_bound(instance), result.info["level_bound"]["value"]))
    assert result.bound >= result.objective


def _solve_with_default_threads() -> None:
    """A Pyomo model solved by HiGHS with its default threads, as a user's own code might: the
    process's HiGHS scheduler is then made for several threads."""
    import pyomo.environ as pyo

    m = pyo.ConcreteModel()
    m.x = pyo.Var(domain=pyo.Binary)
    m.objective = pyo.Objective(expr=m.x, sense=pyo.maximize)
    pyo.SolverFactory("highs").solve(m)


def test_the_level_bound_survives_another_highs_solve_in_the_process() -> None:
    # The relaxation solves single-threaded: after a default-threads solve HiGHS refused that
    # (kError, dual bound 0), and the 0 was taken as a bound — greedy then claimed a 146-weight
    # schedule optimal with bound 0 on this instance. Now the scheduler is reset first.
    instance = random_instance(0, 80, 45, structure="general", deadlines="per_user", weighted=True)
    alone = level_bound(instance, time_limit=None)
    _solve_with_default_threads()
    again = level_bound(instance, time_limit=None)
    assert again.value == alone.value >= 146
    result = solve(instance, "greedy")
    assert result.bound is not None and result.bound >= result.objective


def test_a_failed_relaxation_falls_back_on_the_cheap_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    # Should HiGHS fail anyway (kError: no model status, zeros for every figure), the answer is
    # the cheap bound, unproven — never HiGHS's zeros.
    import highspy

    from partialloading import relaxations

    instance = random_instance(1, 9, 4, structure="general", deadlines="per_user", weighted=True)
    optimum = solve(instance, "enumerate", initial=[]).objective
    real = relaxations.quiet_highs

    def failing() -> highspy.Highs:
        highs = real()
        highs.run = lambda: highspy.HighsStatus.kError
        return highs

    monkeypatch.setattr(relaxations, "quiet_highs", failing)
    found = level_bound(instance, time_limit=None)
    assert found.value >= optimum - 1e-9
    assert found.value == pytest.approx(best_cheap_bound(instance)) and not found.proven
