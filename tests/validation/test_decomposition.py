"""Tests of the joint problem and the numerical check of the decomposition theorem."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from partialloading.cli import main
from partialloading.formulations.joint import min_upload_phase, solve_joint_enumeration, solve_joint_scip
from partialloading.instance import Block, Instance, Model, User
from partialloading.scenarios import random_instance
from partialloading.solve import solve
from partialloading.timing import bandwidth_split, timeline
from partialloading.validation import decomposition
from partialloading.validation.decomposition import (
    CheckedInstance,
    DecompositionReport,
    check_instance,
    generate,
)


def two_user_instance() -> Instance:
    """One model (10 MB at 1 GB/s: 0.01 s to load, 0.01 s to infer), two users over 10 MHz.

    ``a_1 = 1e5`` and ``a_2 = 3e5`` Hz·s. The best split is 2.5 MHz / 7.5 MHz: both uploads take
    0.04 s (any other split delays one of them). Then ``u1`` ends at 0.06 s and ``u2`` at 0.07 s,
    exactly on ``u2``'s deadline, so both are served. An equal split would end the uploads at
    0.06 s and ``u2`` at 0.09 s: the bandwidth split decides the optimum.
    """
    blocks = (Block("b", 1e7),)
    models = (Model("m", ("b",), 0.01),)
    users = (
        User("u1", "m", 1e5, 0.2, spectral_efficiency=1.0),
        User("u2", "m", 3e5, 0.07, spectral_efficiency=1.0),
    )
    return Instance(blocks, models, users, bandwidth_hz=1e7, load_speed_bytes_per_s=1e9, name="two")


def test_hand_solved_joint_problem() -> None:
    inst = two_user_instance()
    joint = solve_joint_scip(inst)
    assert joint.optimal
    assert joint.objective == 2
    assert joint.upload_end_s == pytest.approx(0.04, rel=1e-4)
    split = dict(zip(joint.order, joint.bandwidth_hz, strict=True))
    assert split[0] == pytest.approx(2.5e6, rel=1e-3)
    assert split[1] == pytest.approx(7.5e6, rel=1e-3)
    enumerated, _ = solve_joint_enumeration(inst)
    assert enumerated.objective == 2
    assert enumerated.upload_end_s == pytest.approx(0.04, rel=1e-7)


@pytest.mark.parametrize(("instance", "sharing"), list(generate(10, seed=11)), ids=lambda x: getattr(x, "name", x))
def test_joint_equals_decomposed(instance: Instance, sharing: bool) -> None:
    row = check_instance(instance, sharing)
    assert row.scip_optimal
    assert row.joint_scip == row.decomposed
    assert row.joint_enumeration == row.decomposed
    if row.milp is not None:
        assert row.milp == row.decomposed
    assert row.scip_bandwidth_difference <= decomposition.SCIP_BANDWIDTH_TOLERANCE
    assert row.convex_bandwidth_difference <= decomposition.CONVEX_BANDWIDTH_TOLERANCE
    assert row.agrees


def test_scip_schedule_is_on_time_with_the_closed_form_split() -> None:
    # SCIP's schedule, re-timed with τ = Σ_S a_k / B by the toolkit's evaluator, is on time.
    for seed in range(3):
        inst = random_instance(seed, n_users=5, n_models=3, structure="general", deadlines="per_user")
        joint = solve_joint_scip(inst)
        assert timeline(inst, list(joint.order)).feasible
        assert joint.upload_end_s == pytest.approx(timeline(inst, list(joint.order)).upload_end, rel=1e-4)


@pytest.mark.parametrize("seed", range(5))
def test_convex_bandwidth_equals_closed_form(seed: int) -> None:
    inst = random_instance(seed, n_users=7, n_models=3)
    rng = np.random.default_rng(seed)
    for size in range(1, inst.num_users + 1):
        users = sorted(rng.choice(inst.num_users, size, replace=False).tolist())
        result = min_upload_phase(inst, users)
        closed = bandwidth_split(inst, users)
        np.testing.assert_allclose(result.bandwidth_hz, closed, rtol=1e-5)
        assert result.max_relative_difference < 1e-5
        assert sum(result.bandwidth_hz) == pytest.approx(inst.bandwidth_hz, rel=1e-6)
        assert result.upload_end_s == pytest.approx(inst.upload_work[users].sum() / inst.bandwidth_hz, rel=1e-6)


def test_convex_bandwidth_of_the_empty_set() -> None:
    assert min_upload_phase(random_instance(0), []).max_relative_difference == 0.0


def _row(**changes: object) -> CheckedInstance:
    base = CheckedInstance("x", True, 3.0, True, 3.0, 3.0, None, 1e-7, 1e-8, 4)
    return dataclasses.replace(base, **changes)


@pytest.mark.parametrize(
    ("changes", "agrees"),
    [
        ({}, True),
        ({"milp": 3.0}, True),
        ({"joint_scip": 4.0}, False),
        ({"milp": 2.0}, False),
        ({"scip_optimal": False}, False),
        ({"scip_bandwidth_difference": 0.01}, False),
        ({"convex_bandwidth_difference": 1e-3}, False),
    ],
)
def test_agreement_rule(changes: dict[str, object], agrees: bool) -> None:
    assert _row(**changes).agrees is agrees


def test_generation_is_reproducible_and_mixed() -> None:
    first = [(inst.name, sharing) for inst, sharing in generate(40, seed=3)]
    assert first == [(inst.name, sharing) for inst, sharing in generate(40, seed=3)]
    names = " ".join(name for name, _ in first)
    for word in ("backbone", "general", "none", "common", "per_user"):
        assert word in names
    assert {sharing for _, sharing in first} == {True, False}


def test_cli_exit_codes(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["check", "decomposition", "--instances", "2", "--seed", "5", "--no-milp"]) == 0
    out = capsys.readouterr().out
    assert "2/2 instances agree" in out
    # A disagreeing instance makes the check fail.
    bad = DecompositionReport((_row(), _row(joint_scip=4.0)), seed=0)
    monkeypatch.setattr(decomposition, "check_decomposition", lambda *args, **kwargs: bad)
    assert main(["check", "decomposition", "--instances", "2"]) == 1
    assert "1/2 instances agree" in capsys.readouterr().out


def test_cli_rejects_bad_count(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "decomposition", "--instances", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--instances: must be at least 1" in err and "\n" not in err


def test_decomposed_optimum_is_the_enumeration() -> None:
    inst = two_user_instance()
    assert solve(inst, "enumerate").objective == solve_joint_scip(inst).objective
