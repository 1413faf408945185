"""Earliest-deadline-first baseline."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from partialloading.instance import Instance
from partialloading.result import Status
from partialloading.scenarios import random_instance
from partialloading.solve import solve
from partialloading.solvers.edf import edf_order
from partialloading.timing import timeline
from partialloading.validation.references import edf_trap_instance
from partialloading.validation.verify import verify_solution

from strategies import generated_instances

PROPERTY_SETTINGS = settings(max_examples=60, deadline=None)

instance_strategy = generated_instances()


def test_edf_is_not_optimal() -> None:
    inst = edf_trap_instance()
    assert solve(inst, "edf").solution.admitted == ("x",)
    assert solve(inst, "enumerate").objective == 2


def test_order_rule() -> None:
    inst = random_instance(3, n_users=12, n_models=4, deadlines="common")
    order = edf_order(inst)
    keys = [(inst.deadlines[k], inst.user_models[k], k) for k in order]
    assert keys == sorted(keys)
    assert sorted(order) == list(range(inst.num_users))


@PROPERTY_SETTINGS
@given(instance_strategy, st.booleans())
def test_incremental_admission_matches_full_evaluation(inst: Instance, sharing: bool) -> None:
    # EDF's O(1) slack test must admit exactly the users a full re-evaluation would admit.
    expected: list[int] = []
    for k in edf_order(inst):
        if timeline(inst if sharing else inst.unshared(), [*expected, k]).feasible:
            expected.append(k)
    result = solve(inst, "edf", sharing=sharing)
    assert list(result.solution.order) == expected
    assert result.status is Status.FEASIBLE and result.bound is None


@PROPERTY_SETTINGS
@given(instance_strategy, st.booleans())
def test_enumerate_is_at_least_as_good_as_edf(inst: Instance, sharing: bool) -> None:
    exact = solve(inst, "enumerate", sharing=sharing)
    baseline = solve(inst, "edf", sharing=sharing)
    assert exact.objective >= baseline.objective - 1e-9
    for result in (exact, baseline):
        report = verify_solution(inst, result.to_dict())
        assert report.ok, str(report)


def test_deterministic() -> None:
    inst = random_instance(5, n_users=30, n_models=6, structure="general", deadlines="per_user")
    assert solve(inst, "edf", seed=0).solution.order == solve(inst, "edf", seed=9).solution.order
