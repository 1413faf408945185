"""Tests of the CP-SAT backend (``method="cpsat"``)."""

from __future__ import annotations

import dataclasses
import itertools
import time

import numpy as np
import pytest

from partialloading.errors import ParameterError
from partialloading.formulations.cpsat import TimeScale, WeightScale, build_model
from partialloading.instance import Block, Instance, Model, User
from partialloading.result import Status
from partialloading.scenarios import Structure, random_instance
from partialloading.solve import solve
from partialloading.timing import servable_alone, timeline
from partialloading.validation.verify import verify_solution

LIMIT = 20.0
"""Generous time limit: the tiny instances below solve in milliseconds."""


def hand_instance(deadline_b: float = 0.2) -> Instance:
    """Two models on one 100 MB backbone with 10 MB heads, loaded at 1 GB/s (0.1 s and 0.01 s).

    Users ``u1`` and ``u3`` request model ``A``, ``u2`` model ``B``; every inference takes
    0.01 s and every upload 1e-4 s (1000 bits at 1 bit/s/Hz over 10 MHz), so ``τ = 3e-4`` s when
    all three are served. Common deadline 0.2 s (``u2``'s deadline can be changed).

    With sharing, ``A, A, B`` finishes at 0.1203, 0.1303 and 0.1503 s (B loads only its head):
    all 3 are served. Without sharing, B loads all 110 MB: the third request ends at 0.2503 s
    whatever the order, so at most 2 are served (``A, A`` ends at 0.1302 s).
    With ``deadline_b = 0.13``, sharing serves ``B`` first (0.1203 s), then ``A, A`` (0.1403,
    0.1503 s): still 3.
    """
    blocks = (Block("bb", 1e8), Block("ha", 1e7), Block("hb", 1e7))
    models = (Model("A", ("bb", "ha"), 0.01), Model("B", ("bb", "hb"), 0.01))
    users = (
        User("u1", "A", 1000.0, 0.2, spectral_efficiency=1.0),
        User("u2", "B", 1000.0, deadline_b, spectral_efficiency=1.0),
        User("u3", "A", 1000.0, 0.2, spectral_efficiency=1.0),
    )
    return Instance(blocks, models, users, bandwidth_hz=1e7, load_speed_bytes_per_s=1e9, name="hand")


def check(instance: Instance, result, sharing: bool = True) -> None:
    assert result.solution.feasible
    report = verify_solution(instance, result.to_dict())
    assert report.ok, str(report)
    if result.bound is not None:
        assert result.bound >= result.objective - 1e-9


@pytest.mark.parametrize(
    ("deadline_b", "sharing", "expected"),
    [(0.2, True, 3), (0.2, False, 2), (0.13, True, 3)],
)
def test_hand_solved(deadline_b: float, sharing: bool, expected: int) -> None:
    inst = hand_instance(deadline_b)
    result = solve(inst, "cpsat", sharing=sharing, time_limit=LIMIT)
    assert result.status == Status.OPTIMAL
    assert result.objective == expected
    assert result.bound == expected
    check(inst, result, sharing)
    if deadline_b < 0.2:
        assert result.solution.admitted[0] == "u2"


def _tiny_cases() -> list[tuple[Instance, bool]]:
    cases = []
    structures: tuple[Structure, ...] = ("backbone", "general", "none")
    for seed in range(40):
        inst = random_instance(
            seed,
            n_users=5 + seed % 2,
            n_models=2 + seed % 3,
            structure=structures[seed % 3],
            deadlines="per_user" if seed % 4 in (1, 2) else "common",
            weighted=seed % 5 in (0, 3),
            initial_model=seed % 3 == 1,
        )
        cases.append((inst, seed % 2 == 0))
    return cases


@pytest.mark.parametrize(("instance", "sharing"), _tiny_cases(), ids=lambda x: getattr(x, "name", str(x)))
def test_agrees_with_enumeration(instance: Instance, sharing: bool) -> None:
    exact = solve(instance, "enumerate", sharing=sharing)
    result = solve(instance, "cpsat", sharing=sharing, time_limit=LIMIT)
    assert result.status == Status.OPTIMAL
    assert result.objective == pytest.approx(exact.objective, abs=1e-9)
    assert result.bound == pytest.approx(exact.objective, abs=1e-9)
    check(instance, result, sharing)


def test_symmetry_breaking_does_not_change_the_optimum() -> None:
    # Many users per model, so that the same-model constraints bite.
    for seed in range(6):
        inst = random_instance(seed, n_users=8, n_models=2, structure="general", deadlines="per_user", weighted=True)
        plain = solve(inst, "cpsat", time_limit=LIMIT, symmetry=False, hint=False)
        broken = solve(inst, "cpsat", time_limit=LIMIT)
        assert plain.status == broken.status == Status.OPTIMAL
        assert plain.objective == broken.objective


# ----------------------------------------------------------------------------- rounding safety
def _knife_edge(seed: int, shift: float) -> tuple[Instance, float]:
    """A generated instance whose common deadline is the smallest makespan of serving everyone,
    plus ``shift`` seconds (0: the best order finishes exactly on the deadline)."""
    base = random_instance(seed, n_users=5, n_models=3, structure="general", initial_model=seed % 2 == 1)
    makespan = min(timeline(base, order).makespan for order in itertools.permutations(range(base.num_users)))
    deadline = makespan + shift
    users = tuple(dataclasses.replace(u, deadline_s=deadline) for u in base.users)
    return dataclasses.replace(base, users=users, name=f"knife-{seed}-{shift:g}"), makespan


@pytest.mark.parametrize("seed", range(8))
def test_knife_edge_deadline_equal_to_finish_is_admitted(seed: int) -> None:
    inst, makespan = _knife_edge(seed, 0.0)
    assert inst.deadlines[0] == makespan  # the last request ends exactly on the deadline
    result = solve(inst, "cpsat", time_limit=LIMIT)
    assert result.status == Status.OPTIMAL
    assert len(result.solution.order) == inst.num_users
    check(inst, result)


@pytest.mark.parametrize("seed", range(8))
def test_knife_edge_deadline_too_early_is_never_admitted(seed: int) -> None:
    # 1e-7 s too early for every order that serves everyone: serving all is infeasible.
    inst, _ = _knife_edge(seed, -1e-7)
    result = solve(inst, "cpsat", time_limit=LIMIT)
    assert len(result.solution.order) < inst.num_users
    assert result.objective == solve(inst, "enumerate").objective
    check(inst, result)


@pytest.mark.parametrize("conservative", [True, False])
def test_time_scale_rounds_the_right_way(conservative: bool) -> None:
    inst = random_instance(3, n_users=6, n_models=3, structure="general", deadlines="per_user")
    users = servable_alone(inst).tolist()
    scale = TimeScale.for_instance(inst, users, conservative)
    assert scale.unit_s == pytest.approx(float(inst.deadlines.max()) / 1e8)
    for seconds in (*inst.upload_times.tolist(), *inst.infer_times.tolist()):
        rounded = scale.duration(seconds) * scale.unit_s
        assert (rounded >= seconds) if conservative else (rounded <= seconds)
        assert abs(rounded - seconds) < scale.unit_s
    for k in users:
        t = float(inst.deadlines[k])
        rounded = scale.deadline(t) * scale.unit_s
        assert (rounded <= t) if conservative else (rounded >= t * (1 + 1e-9) + scale.unit_s)


def test_knife_edge_falls_back_on_the_conservative_model() -> None:
    # The outer model admits everyone 5e-9 s too late (below its rounding, above the tolerance):
    # its schedule is refused in floating point and the inner model's optimum is returned.
    inst, _ = _knife_edge(0, -5e-9)
    result = solve(inst, "cpsat", time_limit=LIMIT, initial=[])  # cold: greedy's bound would settle it first
    assert result.info["knife_edge"]
    assert result.info["rounding"] == "inner"
    assert len(result.solution.order) == inst.num_users - 1
    assert result.objective == solve(inst, "enumerate").objective
    check(inst, result)


def test_unservable_users_are_left_out_of_the_model() -> None:
    inst = hand_instance(deadline_b=0.05)  # B alone needs 0.1101 s > 0.05 s
    assert servable_alone(inst).tolist() == [0, 2]
    assert set(build_model(inst, conservative=True).present) == {0, 2}


def test_weight_scale() -> None:
    assert WeightScale.for_weights([1, 2, 5]) == WeightScale(1, True)
    assert WeightScale.for_weights([0.5, 1.25]) == WeightScale(100, True)
    assert not WeightScale.for_weights([1 / 3]).exact


def test_fractional_weights() -> None:
    inst = random_instance(4, n_users=6, n_models=3, deadlines="per_user")
    users = tuple(dataclasses.replace(u, weight=0.25 + 0.5 * k) for k, u in enumerate(inst.users))
    inst = dataclasses.replace(inst, users=users)
    result = solve(inst, "cpsat", time_limit=LIMIT)
    assert result.status == Status.OPTIMAL
    assert result.objective == pytest.approx(solve(inst, "enumerate").objective)


# ----------------------------------------------------------------------------- determinism, limits
def test_deterministic_for_a_seed() -> None:
    inst = random_instance(1, n_users=14, n_models=4, structure="general", deadlines="per_user", weighted=True)
    # Cold: a warm start that greedy proves optimal would not run CP-SAT at all.
    runs = [solve(inst, "cpsat", time_limit=LIMIT, seed=7, initial=[]) for _ in range(2)]
    assert runs[0].solution.order == runs[1].solution.order
    assert runs[0].info["branches"] == runs[1].info["branches"]
    assert runs[0].info["workers"] == 1


def test_time_limit_returns_a_valid_incumbent_and_bound() -> None:
    # Hard enough that CP-SAT does not prove optimality in 0.5 s (checked: it needs > 20 s).
    inst = random_instance(1, n_users=40, n_models=10, structure="general", deadlines="per_user")
    started = time.perf_counter()
    result = solve(inst, "cpsat", time_limit=0.5)
    assert time.perf_counter() - started < 10.0
    assert result.status in (Status.FEASIBLE, Status.TIME_LIMIT)
    assert result.bound is not None and result.bound > result.objective
    check(inst, result)


def test_rejects_unknown_options() -> None:
    with pytest.raises(ParameterError, match="unknown parameter 'formulation'"):
        solve(hand_instance(), "cpsat", formulation="compact")


def test_empty_instance() -> None:
    inst = dataclasses.replace(hand_instance(), users=())
    result = solve(inst, "cpsat")
    assert result.status == Status.OPTIMAL
    assert result.objective == 0
    assert np.asarray(result.solution.order).size == 0


@pytest.mark.parametrize("seed", range(12))
def test_coarse_time_unit_stays_safe_and_honest(seed: int) -> None:
    # With 100 units per deadline, rounding errors are ~1e-2 T: many instances take the knife-edge
    # path. Schedules must still be on time, "optimal" must be true, and the bound must be valid.
    inst = random_instance(seed, n_users=6, n_models=3, structure="general", deadlines="per_user")
    exact = solve(inst, "enumerate").objective
    result = solve(inst, "cpsat", time_limit=LIMIT, resolution=1e2)
    check(inst, result)
    assert result.objective <= exact
    assert result.bound is not None and result.bound >= exact - 1e-9
    if result.status == Status.OPTIMAL:
        assert result.objective == exact


def test_coarse_time_unit_exercises_the_inner_model() -> None:
    knife = [
        solve(
            random_instance(seed, n_users=6, n_models=3, structure="general", deadlines="per_user"),
            "cpsat",
            time_limit=LIMIT,
            resolution=1e2,
            initial=[],
        ).info["knife_edge"]
        for seed in range(12)
    ]
    assert any(knife)


def test_rejects_a_resolution_below_one() -> None:
    with pytest.raises(ParameterError, match="resolution"):
        solve(hand_instance(), "cpsat", resolution=0.5)
