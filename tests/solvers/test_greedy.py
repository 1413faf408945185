"""Greedy heuristic with local search (``method="greedy"``): feasibility, quality, guarantees."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from partialloading.errors import ParameterError
from partialloading.instance import Block, Instance, Model, User
from partialloading.result import Result, Status
from partialloading.scenarios import random_instance
from partialloading.solve import solve
from partialloading.solvers.greedy import sequences
from partialloading.solvers.local_search import Budget, drop_until_feasible, improve
from partialloading.timing import timeline
from partialloading.timing.frame import FrameSchedule
from partialloading.validation.references import edf_trap_instance, no_loading_instance, no_loading_optimum
from partialloading.validation.verify import verify_solution

from strategies import generated_instances

FAMILIES = [
    ("general", "common"),
    ("general", "per_user"),
    ("backbone", "common"),
    ("backbone", "per_user"),
    ("none", "per_user"),
]


def tiny(seed: int) -> Instance:
    """A generated instance small enough for exhaustive search (6–10 users), families rotating."""
    structure, deadlines = FAMILIES[seed % len(FAMILIES)]
    return random_instance(
        seed,
        n_users=6 + seed % 5,
        n_models=2 + seed % 4,
        structure=structure,  # type: ignore[arg-type]
        deadlines=deadlines,  # type: ignore[arg-type]
        weighted=seed % 3 == 0,
        initial_model=seed % 4 == 1,
    )


def assert_verified(result: Result) -> None:
    report = verify_solution(result.solution.instance, result.to_dict())
    assert report.ok, str(report)


def shared_backbone() -> Instance:
    """Three heads on one 0.6 s backbone plus an unrelated 0.6 s model, common deadline 1.05 s.

    Uploads are negligible and inference free. Heads cost 0.1 s each: serving the three head
    users back to back costs 0.6 + 3·0.1 = 0.9 s ≤ 1.05 s, and any schedule that also serves
    the fourth user (model D) needs at least 0.9 + 0.6 = 1.5 s. Optimum 3; EDF in file order
    (ties by model index, D first) serves D then only one head (0.6 + 0.7 = 1.3 > 1.05).
    """
    return Instance(
        blocks=(Block("d", 0.6e9), Block("bb", 0.6e9), Block("h1", 0.1e9), Block("h2", 0.1e9), Block("h3", 0.1e9)),
        models=(
            Model("D", ("d",), 0.0),
            Model("H1", ("bb", "h1"), 0.0),
            Model("H2", ("bb", "h2"), 0.0),
            Model("H3", ("bb", "h3"), 0.0),
        ),
        users=tuple(
            User(f"u{i}", model, 1.0, 1.05, spectral_efficiency=1.0) for i, model in enumerate(("D", "H1", "H2", "H3"))
        ),
        bandwidth_hz=1e9,
        load_speed_bytes_per_s=1e9,
        name="shared-backbone",
    )


# ------------------------------------------------------------------------------ hand-solved
def test_beats_edf_on_the_edf_trap_instance() -> None:
    result = solve(edf_trap_instance(), "greedy")
    assert result.objective == 2
    assert set(result.solution.admitted) == {"y", "z"}
    # Three users: the branch-and-bound proves the optimum (no feasible order of all three).
    assert result.status == Status.OPTIMAL and result.bound == 2
    assert result.info["result_from"] == "branch-and-bound"
    assert_verified(result)
    # Pipelined timing has no branch-and-bound: the exact set search proves it instead.
    pipelined = solve(dataclasses.replace(edf_trap_instance(), timing="pipelined"), "greedy")
    assert pipelined.status == Status.OPTIMAL
    assert pipelined.info["result_from"] in (
        "exact set search",
        "edf (reaches the bound)",
        "initial (reaches the bound)",
    )


def test_serves_the_heads_of_a_shared_backbone_together() -> None:
    inst = shared_backbone()
    assert solve(inst, "edf").objective == 2 - 1  # D, then no head fits
    result = solve(inst, "greedy")
    assert result.objective == 3
    assert set(result.solution.admitted) == {"u1", "u2", "u3"}
    # Without sharing each head reloads the 0.6 s backbone: only one user fits.
    assert solve(inst, "greedy", sharing=False).objective == 1
    assert_verified(result)


# ------------------------------------------------------------------------------ feasibility
@pytest.mark.parametrize("sharing", [True, False])
@pytest.mark.parametrize("seed", range(10))
def test_every_schedule_passes_the_verifier(seed: int, sharing: bool) -> None:
    inst = random_instance(
        seed,
        n_users=40 + 10 * seed,
        n_models=3 + seed,
        structure=("general", "backbone", "none")[seed % 3],  # type: ignore[arg-type]
        deadlines=("per_user", "common")[seed % 2],  # type: ignore[arg-type]
        weighted=seed % 2 == 0,
        initial_model=seed % 3 == 0,
    )
    # A small search budget keeps the test fast; feasibility does not depend on it.
    result = solve(inst, "greedy", sharing=sharing, seed=seed, effort=3e5)
    assert_verified(result)
    assert result.bound is not None and result.bound >= result.objective


def test_large_instance_passes_the_verifier() -> None:
    inst = random_instance(11, n_users=2000, n_models=40, structure="general", deadlines="per_user", weighted=True)
    result = solve(inst, "greedy")
    assert_verified(result)
    assert result.objective > solve(inst, "edf").objective


def test_edge_cases() -> None:
    empty = random_instance(0, n_users=0, n_models=2)
    assert solve(empty, "greedy").objective == 0
    # A user that is late even when served alone is never admitted.
    late = random_instance(1, n_users=5, n_models=2, deadlines="common", tightness=1e-6)
    assert solve(late, "greedy").objective == 0


@settings(max_examples=40, deadline=None)
@given(
    generated_instances(),
    st.booleans(),
)
def test_properties_on_random_tiny_instances(inst: Instance, sharing: bool) -> None:
    """Verified, between edf (and, with sharing, the no-sharing edf) and the optimum."""
    result = solve(inst, "greedy", sharing=sharing)
    assert_verified(result)
    assert result.objective >= solve(inst, "edf", sharing=sharing).objective - 1e-9
    assert result.objective >= solve(inst, "edf", sharing=False).objective - 1e-9
    assert result.objective <= solve(inst, "enumerate", sharing=sharing).objective + 1e-9


# ------------------------------------------------------------------------------ quality
def test_gap_to_the_optimum_on_tiny_instances() -> None:
    """Quality gate (CI-sized version of ``benchmarks/greedy_quality.py``): fails on regression."""
    gaps = []
    for seed in range(60):
        inst = tiny(seed)
        opt = solve(inst, "enumerate").objective
        got = solve(inst, "greedy", seed=seed).objective
        assert got <= opt + 1e-9
        gaps.append((opt - got) / opt if opt else 0.0)
    assert np.mean(gaps) <= 0.01, f"mean gap {np.mean(gaps):.2%}"
    assert max(gaps) <= 0.10, f"max gap {max(gaps):.2%}"


@pytest.mark.parametrize("n_users", [5, 9, 20, 40, 300])
def test_optimal_without_loading_costs(n_users: int) -> None:
    """Without loads the drop rule is Moore–Hodgson's, which is exact for ``1||ΣU_j``."""
    for seed in range(4 if n_users < 100 else 1):
        inst = no_loading_instance(seed, n_users, n_models=min(n_users, 50))
        opt = no_loading_optimum(inst)
        assert solve(inst, "greedy", seed=seed).objective == opt
        if n_users <= 9:
            # A second exact method agrees with the reference.
            assert solve(inst, "enumerate").objective == opt


@pytest.mark.parametrize("seed", range(12))
def test_never_worse_than_edf_or_no_sharing(seed: int) -> None:
    structure, deadlines = FAMILIES[seed % len(FAMILIES)]
    inst = random_instance(
        seed,
        n_users=15 + 5 * seed,
        n_models=4 + seed % 5,
        structure=structure,  # type: ignore[arg-type]
        deadlines=deadlines,  # type: ignore[arg-type]
        weighted=seed % 2 == 1,
        initial_model=seed % 3 == 2,
    )
    # The guarantee holds for any budget, as long as both greedy runs use the same one.
    got = solve(inst, "greedy", seed=seed, effort=3e5).objective
    for method, sharing, options in (("edf", True, {}), ("edf", False, {}), ("greedy", False, {"effort": 3e5})):
        assert got >= solve(inst, method, sharing=sharing, seed=seed, **options).objective - 1e-9, (method, sharing)


def test_reaches_the_dp_optimum_on_backbone_instances() -> None:
    """One deadline and backbone sharing: the exact DP applies; greedy should nearly always match."""
    hits = 0
    for seed in range(15):
        inst = random_instance(seed, n_users=12 + seed, n_models=4 + seed % 4, structure="backbone")
        hits += solve(inst, "greedy", seed=seed).objective == solve(inst, "dp").objective
    assert hits >= 14


# ------------------------------------------------------------------------------ search
def test_deterministic_for_a_seed() -> None:
    inst = random_instance(5, n_users=30, n_models=5, structure="general", deadlines="per_user", weighted=True)
    first = solve(inst, "greedy", seed=3)
    assert solve(inst, "greedy", seed=3).solution.order == first.solution.order
    other = solve(inst, "greedy", seed=4)
    assert_verified(other)


@pytest.mark.parametrize("seed", range(8))
def test_improvement_never_worse_than_its_start(seed: int) -> None:
    inst = random_instance(seed, n_users=60, n_models=6, structure="general", deadlines="per_user", weighted=True)
    start = solve(inst, "greedy", improve=False, seed=seed)
    improved = solve(inst, "greedy", seed=seed)
    assert improved.objective >= start.objective
    assert improved.info["start_objective"] <= improved.objective
    # The local search itself, from the worst start (edf): never worse, and feasible.
    p = FrameSchedule.build(inst, True)
    edf_order = np.asarray(solve(inst, "edf").solution.order, dtype=np.int64)
    order, _ = improve(p, edf_order, Budget(1e6))
    assert p.score(order) >= p.score(edf_order)
    assert timeline(inst, order).feasible


def test_time_limit_is_honoured() -> None:
    inst = random_instance(2, n_users=4000, n_models=80, structure="general", deadlines="per_user")
    # An effort the search could not spend in minutes: only the time limit stops it.
    result = solve(inst, "greedy", time_limit=1.0, effort=1e12)
    assert result.info["timed_out"]
    assert result.runtime < 2.5
    assert_verified(result)


def test_unknown_option_is_refused() -> None:
    with pytest.raises(ParameterError, match="greedy: unknown parameter 'bogus'"):
        solve(edf_trap_instance(), "greedy", bogus=1)


# ------------------------------------------------------------------------------ primitives
@pytest.mark.parametrize("seed", range(5))
def test_vectorized_insertion_matches_the_evaluator(seed: int) -> None:
    """``FrameSchedule.insertion`` decides every gap in one pass; check each against a full evaluation."""
    inst = random_instance(seed, n_users=14, n_models=4, structure="general", deadlines="per_user", initial_model=True)
    p = FrameSchedule.build(inst, True)
    order = np.asarray(solve(inst, "greedy", seed=seed).solution.order, dtype=np.int64)
    outside = [k for k in range(inst.num_users) if k not in set(order.tolist())]
    tau = float(p.upload[order].sum())
    for k in outside:
        ok, _, makespan, _ = p.insertion(order, tau, np.array([k]), float(p.upload[k]))
        for g in range(order.size + 1):
            trial = np.concatenate((order[:g], [k], order[g:]))
            tl = timeline(inst, trial)
            assert bool(ok[g]) == bool(np.all(tl.finish <= p.limit[trial])), (k, g)
            assert makespan[g] == pytest.approx(tl.makespan, rel=1e-12)
    # Relocating a segment of admitted users (no change of the upload phase).
    if order.size >= 3:
        segment, rest = order[1:3], np.concatenate((order[:1], order[3:]))
        ok, _, makespan, _ = p.insertion(rest, tau, segment, 0.0)
        for g in range(rest.size + 1):
            trial = np.concatenate((rest[:g], segment, rest[g:]))
            tl = timeline(inst, trial)
            assert bool(ok[g]) == bool(np.all(tl.finish <= p.limit[trial]))
            assert makespan[g] == pytest.approx(tl.makespan, rel=1e-12)


def test_drop_rule_restores_feasibility() -> None:
    inst = random_instance(4, n_users=30, n_models=4, structure="general", deadlines="per_user", weighted=True)
    p = FrameSchedule.build(inst, True)
    everyone = np.lexsort((np.arange(inst.num_users), inst.deadlines))
    assert not p.feasible(everyone)
    kept = drop_until_feasible(p, everyone)
    assert kept is not None and kept.size > 0 and p.feasible(kept)
    # The relative order of the kept users is unchanged.
    position = {int(k): q for q, k in enumerate(everyone)}
    assert [position[int(k)] for k in kept] == sorted(position[int(k)] for k in kept)


def test_candidate_sequences_are_permutations() -> None:
    inst = random_instance(6, n_users=50, n_models=7, structure="general", deadlines="per_user", weighted=True)
    seqs = sequences(FrameSchedule.build(inst, True))
    assert len({name for name, _ in seqs}) == len(seqs) >= 8
    for _, seq in seqs:
        assert sorted(seq.tolist()) == list(range(inst.num_users))


# ------------------------------------------------------------------------- proofs of optimality
@settings(max_examples=60, deadline=None)
@given(generated_instances(min_users=0, max_users=9), st.booleans())
def test_an_optimal_greedy_answer_is_the_exact_optimum(instance: Instance, sharing: bool) -> None:
    # Greedy reports `optimal` when its schedule reaches the served-alone bound or when the exact
    # set search (up to EXACT_SET_USERS users) finishes: then it equals enumerate's optimum and,
    # under frame timing, CP-SAT's.
    result = solve(instance, "greedy", sharing=sharing)
    assert verify_solution(instance, result.to_dict()).ok
    if result.status != Status.OPTIMAL:
        assert instance.num_users > 10
        return
    assert result.bound == pytest.approx(result.objective)
    assert result.objective == pytest.approx(solve(instance, "enumerate", sharing=sharing).objective)
    if instance.num_users <= 6:
        assert result.objective == pytest.approx(solve(instance, "cpsat", sharing=sharing).objective)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 10), st.booleans())
def test_greedy_is_exact_on_small_pipelined_instances(seed: int, n_users: int, sharing: bool) -> None:
    import dataclasses

    instance = dataclasses.replace(
        random_instance(seed, n_users=n_users, n_models=3, structure="general", deadlines="per_user"),
        timing="pipelined",
    )
    result = solve(instance, "greedy", sharing=sharing)
    # Greedy finds the optimum; it says `optimal` only when its exact set search finished within
    # its node budget (then the bound it proved is its objective).
    assert result.objective == pytest.approx(solve(instance, "enumerate", sharing=sharing).objective)
    if result.status == Status.OPTIMAL:
        assert result.bound == pytest.approx(result.objective)
    else:
        assert result.info.get("result_from") != "exact set search"
    assert verify_solution(instance, result.to_dict()).ok
