"""Exhaustive search: hand-computed optimum, brute force, EDF and the verifier."""

from __future__ import annotations

from itertools import permutations

import pytest

from partialloading import instances
from partialloading.errors import InstanceTooLargeError
from partialloading.instance import Instance
from partialloading.memory import memory_of
from partialloading.result import Status
from partialloading.scenarios import Structure, random_instance
from partialloading.solve import solve
from partialloading.tolerance import RELATIVE_TOLERANCE
from partialloading.validation.verify import verify_solution


def brute_force(inst: Instance, sharing: bool) -> float:
    """Best total weight over every ordered subset of users (all Σ_r n!/(n-r)! sequences)."""
    loads = memory_of(inst if sharing else inst.unshared()).matrix.tolist()
    first = memory_of(inst if sharing else inst.unshared()).first.tolist()
    model = inst.user_models.tolist()
    infer = inst.infer_times.tolist()
    upload = inst.upload_times.tolist()
    limit = (inst.deadlines * (1 + RELATIVE_TOLERANCE)).tolist()
    weight = inst.weights.tolist()
    best = 0.0
    for size in range(1, inst.num_users + 1):
        for seq in permutations(range(inst.num_users), size):
            value = sum(weight[k] for k in seq)
            if value <= best:
                continue
            t = sum(upload[k] for k in seq)
            last = None
            for k in seq:
                m = model[k]
                t += (first[m] if last is None else loads[last][m]) + infer[m]
                last = m
                if t > limit[k]:
                    break
            else:
                best = value
    return best


def test_tiny_optimum_by_hand() -> None:
    # With sharing: u1, u3 (birds) then u2 (cars) load the 300 MB backbone once and finish at
    # 0.43 s; adding u4 (dogs) would finish at 0.56 s > 0.5 s, so 3 is optimal. Without sharing
    # the cars model reloads the backbone (u2 would finish at 0.73 s) and u4 at 0.51 s: 2.
    tiny = instances.load("tiny")
    shared = solve(tiny, "enumerate", sharing=True)
    assert shared.objective == 3 and shared.status is Status.OPTIMAL and shared.bound == 3
    assert shared.solution.admitted == ("u1", "u3", "u2")
    plain = solve(tiny, "enumerate", sharing=False)
    assert plain.objective == 2 and plain.status is Status.OPTIMAL and plain.bound == 2
    assert set(plain.solution.admitted) == {"u1", "u3"}
    for result in (shared, plain):
        assert verify_solution(tiny, result.to_dict()).ok
    assert brute_force(tiny, True) == 3 and brute_force(tiny, False) == 2


def generated(count: int) -> list[Instance]:
    """Tiny instances of every kind: structures, deadlines, weights, initial model."""
    out = []
    structures: tuple[Structure, ...] = ("backbone", "general", "none")
    for seed in range(count):
        out.append(
            random_instance(
                seed,
                n_users=2 + seed % 5,
                n_models=1 + seed % 4,
                structure=structures[seed % 3],
                deadlines="per_user" if seed % 2 else "common",
                weighted=seed % 4 == 3,
                initial_model=seed % 5 == 1,
            )
        )
    return out


def test_against_brute_force_edf_and_verifier() -> None:
    # 300 instances × 2 sharing modes = 600 exact solves, each checked three ways.
    strictly_better = 0
    for inst in generated(300):
        for sharing in (True, False):
            result = solve(inst, "enumerate", sharing=sharing)
            assert result.status is Status.OPTIMAL
            assert result.objective == pytest.approx(brute_force(inst, sharing)), inst.name
            assert result.bound == pytest.approx(result.objective)
            baseline = solve(inst, "edf", sharing=sharing)
            assert result.objective >= baseline.objective - 1e-9
            strictly_better += result.objective > baseline.objective + 1e-9
            report = verify_solution(inst, result.to_dict())
            assert report.ok, str(report)
    # The comparison has teeth: EDF is not optimal on a good share of these instances.
    assert strictly_better >= 50


def test_refuses_large_instances() -> None:
    inst = random_instance(0, n_users=11, n_models=3)
    with pytest.raises(InstanceTooLargeError, match="at most 10 users"):
        solve(inst, "enumerate")
    with pytest.raises(InstanceTooLargeError, match="at most 4 users"):
        solve(random_instance(0, n_users=5), "enumerate", max_users=4)


def test_time_limit_falls_back_on_a_valid_schedule() -> None:
    inst = random_instance(7, n_users=10, n_models=4, structure="general", deadlines="per_user")
    result = solve(inst, "enumerate", time_limit=1e-9, initial=[])  # cold: no time for greedy either
    assert result.status in (Status.FEASIBLE, Status.TIME_LIMIT)
    assert result.bound is not None and result.bound >= result.objective
    assert verify_solution(inst, result.to_dict()).ok


def test_deterministic() -> None:
    inst = random_instance(11, n_users=7, n_models=3, structure="general", deadlines="per_user")
    first = solve(inst, "enumerate", seed=1).solution.order
    assert all(solve(inst, "enumerate", seed=s).solution.order == first for s in (1, 2))
