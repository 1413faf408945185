"""The cheap upper bounds are never below a proven optimum, under both timing models."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from partialloading.bounds import alone_bound, best_cheap_bound, knapsack_bound
from partialloading.scenarios import generate
from partialloading.solve import solve

from strategies import generated_instances


@settings(max_examples=80, deadline=None)
@given(generated_instances(max_users=8), st.booleans(), st.sampled_from(["frame", "pipelined"]))
def test_bounds_are_never_below_the_optimum(instance, sharing: bool, timing: str) -> None:
    instance = dataclasses.replace(instance, timing=timing)
    optimum = solve(instance, "enumerate", sharing=sharing).objective
    assert knapsack_bound(instance, sharing) >= optimum - 1e-9
    assert alone_bound(instance, sharing) >= optimum - 1e-9
    assert best_cheap_bound(instance, sharing) >= optimum - 1e-9


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
def test_greedy_reports_the_cheap_bound(timing: str) -> None:
    instance = dataclasses.replace(generate("zoo-mixed", 1, n_users=200, tightness=0.2), timing=timing)
    result = solve(instance, "greedy")
    assert result.bound == pytest.approx(min(best_cheap_bound(instance), result.bound))
    assert result.bound >= result.objective
