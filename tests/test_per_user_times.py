"""Users with their own inference time (``User.infer_time_s``): every timing model, the verifier,
the methods that take them and the ones that refuse them."""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

import partialloading as pl
from partialloading.instance import Block, Instance, Model, User
from partialloading.io import instance_from_dict, instance_to_dict
from partialloading.online import Policy, read_workload, simulate, write_workload
from partialloading.online.requests import Request
from partialloading.online.workload import Workload
from partialloading.scenarios import random_instance
from partialloading.timing import schedule
from partialloading.validation.verify import verify_solution


def with_own_times(inst: Instance, seed: int) -> Instance:
    """``inst`` with every user's inference time drawn around its model's (×0.2 to ×4)."""
    rng = np.random.default_rng(seed)
    base = inst.infer_times[inst.user_models]
    factors = rng.uniform(0.2, 4.0, inst.num_users)
    users = tuple(
        dataclasses.replace(u, infer_time_s=float(t * f)) for u, t, f in zip(inst.users, base, factors, strict=True)
    )
    out = dataclasses.replace(inst, users=users)
    assert out.per_user_times or not users
    return out


def solved(inst: Instance, method: str, **options: object) -> pl.Result:
    result = pl.solve(inst, method, **options)  # type: ignore[arg-type]
    report = verify_solution(inst, result.to_dict())
    assert report.ok, str(report)
    return result


def test_a_hand_computed_timeline() -> None:
    # One model (10 MB at 1 GB/s: 10 ms to load), two users with 1 ms uploads (1 kbit at 1 Mbit/s
    # each, 2 ms together), their own inference times 30 ms and 5 ms. Frame timing, order a, b:
    # uploads end at 2 ms, a finishes at 2 + 10 + 30 = 42 ms, b at 42 + 5 = 47 ms. The model's
    # own 1 ms would give 13 and 14 ms.
    inst = Instance(
        blocks=(Block("w", 1e7),),
        models=(Model("m", ("w",), 0.001),),
        users=(
            User("a", "m", 1000.0, 1.0, spectral_efficiency=1.0, infer_time_s=0.030),
            User("b", "m", 1000.0, 1.0, spectral_efficiency=1.0, infer_time_s=0.005),
        ),
        bandwidth_hz=1e6,
        load_speed_bytes_per_s=1e9,
    )
    assert inst.per_user_times
    line = pl.Solution(inst, (0, 1)).timeline
    assert line.finish == pytest.approx([0.042, 0.047])
    assert line.infer_start == pytest.approx([0.012, 0.042])
    pipelined = pl.Solution(dataclasses.replace(inst, timing="pipelined"), (0, 1)).timeline
    # Pipelined: the load starts at 0 and ends at 10 ms; a's input (half the uplink for its latest
    # start) has arrived by then, so a runs 10–40 ms and b 40–45 ms.
    assert pipelined.finish == pytest.approx([0.040, 0.045])


def test_files_keep_the_times() -> None:
    inst = with_own_times(random_instance(1, n_users=5), 1)
    again = instance_from_dict(json.loads(json.dumps(instance_to_dict(inst))))
    assert again.user_infer_times.tolist() == inst.user_infer_times.tolist()
    plain = random_instance(1, n_users=5)
    assert "infer_time_s" not in instance_to_dict(plain)["users"][0]
    assert not plain.per_user_times


@pytest.mark.parametrize("seed", range(12))
def test_exact_methods_agree_with_enumeration_frame(seed: int) -> None:
    inst = with_own_times(random_instance(seed, n_users=6, n_models=3, structure="general", deadlines="per_user"), seed)
    optimum = solved(inst, "enumerate").objective
    for method in ("milp", "cpsat"):
        result = solved(inst, method, initial=[])
        assert result.status == pl.Status.OPTIMAL
        assert result.objective == pytest.approx(optimum), method
    assert solved(inst, "greedy").objective <= optimum + 1e-9


@pytest.mark.parametrize("seed", range(6))
def test_one_deadline_keeps_the_dp_and_the_compact_model_exact(seed: int) -> None:
    inst = with_own_times(random_instance(seed, n_users=7, n_models=3, structure="backbone"), seed)
    optimum = solved(inst, "enumerate").objective
    assert pl.METHODS["dp"].why_not(inst) is None
    assert solved(inst, "dp").objective == pytest.approx(optimum)
    compact = solved(inst, "milp", formulation="compact", initial=[])
    assert compact.status == pl.Status.OPTIMAL and compact.objective == pytest.approx(optimum)


@pytest.mark.parametrize("seed", range(3))
def test_the_pipelined_model_agrees_with_enumeration(seed: int) -> None:
    inst = with_own_times(random_instance(seed, n_users=5, n_models=2, deadlines="per_user"), seed)
    inst = dataclasses.replace(inst, timing="pipelined")
    optimum = solved(inst, "enumerate").objective
    result = solved(inst, "milp", initial=[])
    assert result.status == pl.Status.OPTIMAL and result.objective == pytest.approx(optimum)


@pytest.mark.parametrize("seed", range(3))
def test_the_capacity_model_agrees_with_enumeration(seed: int) -> None:
    inst = with_own_times(random_instance(seed, n_users=5, n_models=3, structure="general", deadlines="per_user"), seed)
    inst = dataclasses.replace(inst, memory_bytes=float(inst.model_sizes.max()) * 1.6)
    optimum = solved(inst, "enumerate").objective
    result = solved(inst, "milp", initial=[])
    assert result.status == pl.Status.OPTIMAL and result.objective == pytest.approx(optimum)


def mixed_times(inst: Instance, seed: int, share: float) -> Instance:
    """``inst`` with a ``share`` of its users (drawn) taking their own time (×0.5 to ×1.5): 0 keeps
    the model's times, 1 gives everyone their own; a user may also draw exactly its model's."""
    rng = np.random.default_rng(seed)
    base = inst.infer_times[inst.user_models]
    users = []
    for u, t in zip(inst.users, base, strict=True):
        own = rng.random() < share
        factor = float(rng.choice([1.0, rng.uniform(0.5, 1.5)]))
        users.append(dataclasses.replace(u, infer_time_s=float(t * factor)) if own else u)
    return dataclasses.replace(inst, users=tuple(users))


@pytest.mark.parametrize("path_bound", [True, False], ids=["layered", "depth-first"])
@pytest.mark.parametrize("share", [0.0, 0.5, 1.0], ids=["equal", "mixed", "unequal"])
@pytest.mark.parametrize("seed", range(12))
def test_the_branch_and_bound_agrees_with_enumeration(seed: int, share: float, path_bound: bool) -> None:
    # Each model's users in deadline order, whatever their times (the move of search.py's text).
    structure = ("general", "backbone", "none")[seed % 3]
    deadlines = ("per_user", "common")[seed % 2]
    n = 5 + seed % 4
    inst = random_instance(seed, n, 1 + seed % 4, structure=structure, deadlines=deadlines, weighted=seed % 3 == 0)
    inst = mixed_times(inst, seed, share)
    optimum = solved(inst, "enumerate", initial=[]).objective
    result = solved(inst, "bnb", initial=[], path_bound=path_bound)
    assert result.status == pl.Status.OPTIMAL and result.objective == pytest.approx(optimum)


@pytest.mark.parametrize("seed", range(6))
def test_a_stopped_branch_and_bound_reports_a_valid_bound(seed: int) -> None:
    inst = with_own_times(random_instance(seed, 9, 3, structure="general", deadlines="per_user", weighted=True), seed)
    optimum = solved(inst, "enumerate", initial=[]).objective
    for budget in (1, 30, 300):
        result = solved(inst, "bnb", initial=[], max_nodes=budget)
        assert result.bound >= optimum - 1e-9 and result.objective <= optimum + 1e-9


def in_deadline_order(inst: Instance, order: tuple[int, ...]) -> bool:
    """Whether ``order`` takes each model's users by (deadline, heavier first, index)."""
    key = [(u.deadline_s, -u.weight, k) for k, u in enumerate(inst.users)]
    return all(
        key[x] < key[y] for x, y in itertools.combinations(order, 2) if inst.user_models[x] == inst.user_models[y]
    )


@pytest.mark.parametrize("seed", range(30))
def test_deadline_order_per_model_loses_no_feasible_set(seed: int) -> None:
    # The rule behind bnb with per-request times: whenever some order serves a set on time, an
    # order taking each model's users by deadline does too (move the later-deadline user of an
    # inverted pair to just after the other; swapping them would shift the users between by the
    # difference of their times). Checked on every subset of 5 users, against every order.
    structure = ("general", "backbone", "none")[seed % 3]
    inst = random_instance(seed, 5, 1 + seed % 3, structure=structure, deadlines="per_user", tightness=0.6)
    inst = with_own_times(inst, seed)
    p = schedule(inst)
    differ = 0
    for size in range(2, inst.num_users + 1):
        for subset in itertools.combinations(range(inst.num_users), size):
            feasible = [o for o in itertools.permutations(subset) if p.feasible(list(o))]
            if not feasible:
                continue
            differ += any(not in_deadline_order(inst, o) for o in feasible)
            assert any(in_deadline_order(inst, o) for o in feasible), subset
    # The property is not vacuous: sets with feasible orders out of deadline order are common.
    if seed == 0:
        assert differ > 0


def test_the_branch_and_bound_refuses_batches_with_them() -> None:
    inst = with_own_times(random_instance(2, n_users=6, deadlines="per_user"), 2)
    table = tuple(
        dataclasses.replace(m, batch_infer_time_s=(m.infer_time_s, 1.5 * m.infer_time_s)) for m in inst.models
    )
    batched = dataclasses.replace(inst, models=table)
    assert pl.METHODS["bnb"].why_not(inst) is None
    assert "infer_time_s" in (pl.METHODS["bnb"].why_not(batched) or "")
    with pytest.raises(pl.MethodNotApplicableError, match="their own infer_time_s"):
        pl.solve(batched, "bnb")


def test_a_workload_carries_them_into_every_round(tmp_path: Path) -> None:
    server = random_instance(3, n_users=0, n_models=2)
    model = server.models[0].id
    requests = tuple(
        Request(f"r{i}", model, 0.05 * i, 1e5, 5.0, spectral_efficiency=5.0, infer_time_s=0.002 * (1 + i % 4))
        for i in range(12)
    )
    workload = Workload(server, requests)
    written = write_workload(workload, tmp_path / "w.json", csv_table=True)
    again = read_workload(written[0])
    assert [r.infer_time_s for r in again.requests] == [r.infer_time_s for r in requests]
    run = simulate(again, Policy("greedy"))
    assert run.summary.served + run.summary.dropped == len(requests)
    # Served one by one on a warm model, each request's finish is its inference start plus its own time.
    for outcome, request in zip(run.outcomes, requests, strict=True):
        if outcome.status == "served":
            assert outcome.finish_s - outcome.infer_start_s == pytest.approx(request.infer_time_s)
