"""Users with their own inference time (``User.infer_time_s``): every timing model, the verifier,
the methods that take them and the ones that refuse them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

import partialloading as pl
from partialloading.instance import Block, Instance, Model, User
from partialloading.io import instance_from_dict, instance_to_dict
from partialloading.online import Policy, read_workload, simulate, write_workload
from partialloading.online.workload import Request, Workload
from partialloading.scenarios import random_instance
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


def test_the_branch_and_bound_declares_that_it_refuses_them() -> None:
    inst = with_own_times(random_instance(2, n_users=6, deadlines="per_user"), 2)
    assert pl.METHODS["bnb"].why_not(inst) is not None
    with pytest.raises(pl.MethodNotApplicableError, match="infer_time_s"):
        pl.solve(inst, "bnb")
    # The same instance with the model's times is its case again.
    plain = dataclasses.replace(inst, users=tuple(dataclasses.replace(u, infer_time_s=None) for u in inst.users))
    assert pl.METHODS["bnb"].why_not(plain) is None


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
