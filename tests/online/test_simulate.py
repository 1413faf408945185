"""The round-by-round simulator: hand-solved workloads, conservation and timing properties, determinism."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from partialloading.instance import Block, Instance, Model
from partialloading.online import (
    DROPPED,
    SERVED,
    Policy,
    Request,
    Workload,
    dumps_outcomes_csv,
    generate_workload,
    simulate,
    summary_to_dict,
)
from partialloading.online.records import run_to_dict


def two_model_server(initial: str | None = None) -> Instance:
    # A 300 MB backbone and two 10 MB heads at 1 GB/s: a cold start loads 0.31 s, a change of
    # head 0.01 s. Uploads of 1e5 bits at 5 bit/s/Hz over 10 MHz take 2 ms with the whole uplink.
    return Instance(
        blocks=(Block("bb", 3e8), Block("h1", 1e7), Block("h2", 1e7)),
        models=(Model("m1", ("bb", "h1"), 0.01), Model("m2", ("bb", "h2"), 0.01)),
        users=(),
        bandwidth_hz=1e7,
        load_speed_bytes_per_s=1e9,
        initial_model=initial,
        name="two-heads",
    )


def req(i: str, model: str, arrival: float, deadline: float) -> Request:
    return Request(i, model, arrival, 1e5, deadline, spectral_efficiency=5.0)


def test_hand_solved_rounds() -> None:
    # Round 0 starts at t=0 with a (m1, deadline 0.4): upload 2 ms, load 0.31 s, inference
    # 0.01 s: finishes at 0.322. b (m2) and c (m1) arrive during round 0. Round 1 starts at
    # 0.322: c reuses everything (0.0004 s upload, 0.01 s inference), b loads its head (0.01 s).
    # d arrives at 0.1 with a deadline 0.2 away (absolute 0.3): it cannot make it alone once
    # round 0 is over, so it is dropped at round 1.
    w = Workload(
        two_model_server(),
        (req("a", "m1", 0.0, 0.4), req("b", "m2", 0.05, 1.0), req("c", "m1", 0.06, 1.0), req("d", "m2", 0.1, 0.2)),
    )
    run = simulate(w, "greedy")
    by_id = {o.request: o for o in run.outcomes}
    assert [o.request for o in run.outcomes] == ["a", "b", "c", "d"]
    assert by_id["a"].status == SERVED and by_id["a"].round == 0
    assert by_id["a"].finish_s == pytest.approx(0.002 + 0.31 + 0.01)
    assert by_id["d"].status == DROPPED and by_id["d"].round == 1 and math.isnan(by_id["d"].finish_s)
    assert by_id["b"].round == by_id["c"].round == 1
    assert run.summary.served == 3 and run.summary.dropped == 1 and run.summary.rounds == 2
    assert run.rounds[1].start_s == pytest.approx(by_id["a"].finish_s)


def test_a_rejected_request_waits_for_the_next_round() -> None:
    # Both arrive at 0 and each takes 0.322 s from a cold start; the m2 request's deadline (0.9)
    # allows it to be served after the m1 one only in a later round if the first round cannot
    # hold both: with a cap of one request per round it waits, pending, and is served in round 1.
    w = Workload(two_model_server(), (req("a", "m1", 0.0, 0.5), req("b", "m2", 0.0, 0.9)))
    run = simulate(w, "greedy", round_cap=1)
    by_id = {o.request: o for o in run.outcomes}
    assert (by_id["a"].round, by_id["b"].round) == (0, 1)
    assert by_id["b"].status == SERVED and by_id["b"].finish_s <= 0.9
    assert all(r.planned <= 1 for r in run.rounds)


def test_the_gpu_state_carries_over_between_rounds() -> None:
    # With m1 already in GPU memory the first request needs no load at all.
    w = Workload(two_model_server(initial="m1"), (req("a", "m1", 0.0, 0.05),))
    run = simulate(w, "fifo")
    assert run.outcomes[0].status == SERVED and run.summary.loaded_bytes == 0.0


def test_no_sharing_loads_whole_models() -> None:
    w = Workload(two_model_server(), (req("a", "m1", 0.0, 1.0), req("b", "m2", 0.0, 1.0)))
    shared = simulate(w, Policy("greedy"))
    whole = simulate(w, Policy("greedy", sharing=False))
    assert shared.summary.loaded_bytes == pytest.approx(3.2e8)
    assert whole.summary.loaded_bytes == pytest.approx(6.2e8)


def check_run(w: Workload, run) -> None:
    """Conservation, deadlines, arrivals and uploads, and one request on the GPU at a time."""
    ids = [o.request for o in run.outcomes]
    assert ids == [r.id for r in w.requests]  # each request exactly once, in workload order
    s = run.summary
    assert s.served + s.dropped == s.arrivals == len(w.requests)
    bandwidth = w.server.bandwidth_hz
    served = []
    for o, r in zip(run.outcomes, w.requests, strict=True):
        assert o.status in (SERVED, DROPPED)
        if o.status == DROPPED:
            assert math.isnan(o.finish_s)
            continue
        upload = r.user(1.0).upload_work / bandwidth
        assert o.finish_s <= r.deadline_s * (1 + 1e-9) + 1e-12
        assert o.upload_end_s >= r.arrival_s + upload * (1 - 1e-9)
        assert o.infer_start_s >= o.upload_end_s - 1e-12
        served.append((o.infer_start_s, o.finish_s))
    served.sort()
    for (_, f0), (s1, _) in itertools.pairwise(served):
        assert s1 >= f0 - 1e-9, "two inferences overlap on the GPU"
    for a, b in zip(run.rounds, run.rounds[1:], strict=False):
        assert b.start_s >= a.end_s - 1e-12


workloads = st.builds(
    lambda family, rate, cv, slo, seed, timing: generate_workload(
        family, rate=rate, duration=1.0, seed=seed, cv=cv, slo=slo, timing=timing, weighted=True
    ),
    st.sampled_from(["zoo-heads", "general", "backbone", "zoo-mixed"]),
    st.sampled_from([5.0, 30.0, 120.0]),
    st.sampled_from([0.5, 1.0, 3.0]),
    st.sampled_from([0.7, 2.0, 6.0]),
    st.integers(0, 10_000),
    st.sampled_from(["frame", "pipelined"]),
)


@settings(max_examples=25, deadline=None)
@given(workloads, st.sampled_from(["fifo", "edf", "greedy"]), st.booleans(), st.sampled_from([None, 3]))
def test_conservation_and_timing(w: Workload, method: str, sharing: bool, cap: int | None) -> None:
    run = simulate(w, Policy(method, sharing=sharing), round_cap=cap)
    check_run(w, run)


@pytest.mark.parametrize("method", ["enumerate", "milp", "cpsat"])
def test_exact_policies_with_a_round_cap(method: str) -> None:
    w = generate_workload("zoo-heads", rate=60, duration=0.5, seed=2)
    run = simulate(w, Policy(method, time_limit=5), round_cap=6)
    check_run(w, run)
    assert run.summary.served >= 1


@pytest.mark.parametrize("timing", ["frame", "pipelined"])
def test_same_workload_policy_and_seed_give_the_same_output(timing: str) -> None:
    w = generate_workload("zoo-mixed", rate=80, duration=1.0, seed=5, weighted=True, timing=timing)
    first, second = simulate(w, "greedy"), simulate(w, "greedy")
    assert dumps_outcomes_csv(first) == dumps_outcomes_csv(second)
    a, b = run_to_dict(first), run_to_dict(second)
    for key in first.summary.WALL_CLOCK:
        a.pop(key), b.pop(key)
    assert a == b


def test_pipelined_never_serves_fewer_than_frame_on_one_round() -> None:
    # One round, everything arriving at once: the pipelined schedule of the round is at least
    # as good as the frame one (a frame-feasible order stays feasible).
    w = generate_workload("zoo-heads", rate=400, duration=0.01, seed=1, slo=1.5)
    base = dataclasses.replace(w, requests=tuple(dataclasses.replace(r, arrival_s=0.0) for r in w.requests))
    frame = simulate(base, "greedy", round_cap=len(base.requests)).rounds[0].served
    pipelined = simulate(base, "greedy", timing="pipelined", round_cap=len(base.requests)).rounds[0].served
    assert pipelined >= frame


def test_summary_metrics_agree_with_the_outcomes() -> None:
    w = generate_workload("zoo-heads", rate=60, duration=2.0, seed=9)
    run = simulate(w, "edf")
    latency = np.array([o.finish_s - o.arrival_s for o in run.outcomes if o.status == SERVED])
    s = summary_to_dict(run.summary)
    assert s["latency_p50_s"] == pytest.approx(float(np.median(latency)))
    assert s["on_time_fraction"] == pytest.approx(len(latency) / len(w.requests))
    assert 0 < s["gpu_busy_fraction"] <= 1
    assert s["rounds"] == len(run.rounds)


def test_empty_workload() -> None:
    run = simulate(Workload(two_model_server(), ()), "greedy")
    assert run.outcomes == () and run.summary.arrivals == 0 and run.summary.latency_p50_s is None


def with_capacity(workload: Workload, share: float) -> Workload:
    """``workload`` with GPU memory ``share`` of the way from its largest model to every block."""
    server = workload.server
    low, high = float(server.model_sizes.max()), float(server.block_sizes.sum())
    return dataclasses.replace(workload, server=dataclasses.replace(server, memory_bytes=low + share * (high - low)))


@pytest.mark.parametrize("policy", ["greedy", "greedy/no-sharing", "edf", "fifo"])
@pytest.mark.parametrize("timing", ["frame", "pipelined"])
def test_room_for_every_block_loads_each_block_once(policy: str, timing: str) -> None:
    # The resident blocks persist from round to round and nothing is ever evicted, so over the
    # whole run each block is loaded at most once (its copies, without sharing).
    w = generate_workload("zoo-mixed", rate=60, duration=1.0, seed=4, timing=timing)
    method, _, plain = policy.partition("/")
    copies = w.server if not plain else w.server.unshared()
    room = dataclasses.replace(w.server, memory_bytes=float(copies.block_sizes.sum()))
    w = dataclasses.replace(w, server=room)
    run = simulate(w, Policy(method, sharing=not plain))
    assert len(run.outcomes) == len(w.requests)  # every request is accounted for
    assert {o.request for o in run.outcomes} == {r.id for r in w.requests}
    assert run.summary.evicted_bytes == 0.0
    assert run.summary.loaded_bytes <= float(copies.block_sizes.sum()) * (1 + 1e-12)
    assert run.summary.resident_bytes_max <= float(copies.block_sizes.sum()) * (1 + 1e-12)


def test_a_capacity_serves_at_least_as_much_as_one_model() -> None:
    # The same requests, the same policy: keeping blocks between rounds loads less.
    w = generate_workload("zoo-mixed", rate=80, duration=1.5, seed=7)
    one = simulate(w, "greedy")
    kept = simulate(with_capacity(w, 0.5), "greedy")
    assert kept.summary.loaded_bytes <= one.summary.loaded_bytes
    assert kept.summary.resident_bytes_max <= float(with_capacity(w, 0.5).server.memory_bytes or 0.0) * (1 + 1e-9)
