"""Pipelined timing: a hand-computed timeline, the decomposition theorem's properties, methods."""

from __future__ import annotations

import copy
import dataclasses
import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partialloading import instances
from partialloading.cli import main
from partialloading.errors import MethodNotApplicableError
from partialloading.instance import Block, Instance, Model, User
from partialloading.memory import memory_of
from partialloading.result import Status
from partialloading.scenarios import random_instance
from partialloading.solve import solve
from partialloading.solvers.local_search import insert_all
from partialloading.timing import schedule, timeline
from partialloading.tolerance import RELATIVE_TOLERANCE, meets
from partialloading.validation.verify import verify_solution

from strategies import pipelined_instances

PROPERTIES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def pipelined(instance: Instance, **changes: Any) -> Instance:
    return dataclasses.replace(instance, timing="pipelined", **changes)


def latest_starts(instance: Instance, order: list[int], sharing: bool = True) -> np.ndarray:
    """``L_q`` by the backward recursion of the theorem, written independently of the toolkit's
    closed form: ``L_n = T_n − c_n``, ``L_q = min(T_q − c_q, L_{q+1} − ℓ_{q+1} − c_q)``."""
    models = [int(instance.user_models[k]) for k in order]
    infer = [float(instance.infer_times[m]) for m in models]
    loads = [
        memory_of(instance if sharing else instance.unshared()).choices(None if q == 0 else models[q - 1], models[q])[
            0
        ][0]
        for q in range(len(order))
    ]
    latest = [0.0] * len(order)
    for q in range(len(order) - 1, -1, -1):
        own = float(instance.deadlines[order[q]]) - infer[q]
        latest[q] = own if q == len(order) - 1 else min(own, latest[q + 1] - loads[q + 1] - infer[q])
    return np.asarray(latest)


def brute_force(instance: Instance, sharing: bool = True) -> float:
    """The optimum by trying every subset and every order with the toolkit's timeline."""
    best = 0.0
    n = instance.num_users
    for size in range(n + 1):
        for subset in itertools.combinations(range(n), size):
            weight = float(instance.weights[list(subset)].sum())
            if weight > best and any(
                timeline(instance if sharing else instance.unshared(), p).feasible
                for p in itertools.permutations(subset)
            ):
                best = weight
    return best


# ------------------------------------------------------------------------------ hand-computed
def test_tiny_timeline_by_hand(tiny: Instance) -> None:
    # tiny: B = 10 MHz, a_k = 1e6 bit / 5 bit/s/Hz = 2e5 Hz·s for every user, T = 0.5 s. Order
    # u1, u3 (birds), u2 (cars), u4 (dogs): loads 0.32, 0, 0.02, 0.10 s, inferences 0.01, 0.01,
    # 0.01, 0.01 s. Machine completions D = 0.33, 0.34, 0.37, 0.48; slacks 0.17, 0.16, 0.13, 0.02,
    # so every latest start is E + 0.02: L = 0.34, 0.35, 0.38, 0.49. Σ a/L = 2e5·10.4710 =
    # 2.0942e6 Hz ≤ B: λ = 0.20942, uploads end at λL = 0.0712, 0.0733, 0.0796, 0.1026 s — all
    # before their loads end, so nobody waits and all four are on time (frame timing serves 3:
    # there the GPU idles until τ = 0.08 s).
    inst = pipelined(tiny)
    order = [0, 2, 1, 3]
    tl = timeline(inst, order)
    latest = np.array([0.34, 0.35, 0.38, 0.49])
    lam = 2e5 * np.sum(1 / latest) / 1e7
    np.testing.assert_allclose(latest_starts(inst, order), latest)
    np.testing.assert_allclose(tl.upload_ends, lam * latest)
    np.testing.assert_allclose(tl.start, [0.0, 0.33, 0.34, 0.37])
    np.testing.assert_allclose(tl.load, [0.32, 0.0, 0.02, 0.10])
    np.testing.assert_allclose(tl.infer_start, [0.32, 0.33, 0.36, 0.47])
    np.testing.assert_allclose(tl.finish, [0.33, 0.34, 0.37, 0.48])
    assert tl.feasible and tl.bandwidth.sum() == pytest.approx(1e7)
    assert solve(inst, "enumerate").objective == 4 and solve(tiny, "enumerate").objective == 3


def test_a_binding_uplink_makes_requests_wait() -> None:
    # One user, one model: load 0.1 s, inference 0.1 s, a = 1 Hz·s. With B = 5 Hz the upload
    # takes 0.2 s > the load: inference starts at 0.2, ends at 0.3 (deadline 0.3: on time).
    inst = Instance(
        blocks=(Block("b", 1e8),),
        models=(Model("m", ("b",), 0.1),),
        users=(User("u", "m", data_bits=1.0, deadline_s=0.3, spectral_efficiency=1.0),),
        bandwidth_hz=5.0,
        load_speed_bytes_per_s=1e9,
        timing="pipelined",
    )
    tl = timeline(inst, [0])
    assert tl.upload_ends[0] == pytest.approx(0.2) and tl.infer_start[0] == pytest.approx(0.2)
    assert tl.finish[0] == pytest.approx(0.3) and tl.feasible
    # Half the bandwidth: the upload ends at 0.4 s, too late.
    assert not timeline(dataclasses.replace(inst, bandwidth_hz=2.5), [0]).feasible


# ------------------------------------------------------------------------------ theorem's properties
@PROPERTIES
@given(pipelined_instances(max_users=6), st.booleans())
def test_pipelined_optimum_is_never_below_the_frame_optimum(inst: Instance, sharing: bool) -> None:
    frame = dataclasses.replace(inst, timing="frame")
    frame_result = solve(frame, "enumerate", sharing=sharing)
    result = solve(inst, "enumerate", sharing=sharing)
    assert result.objective >= frame_result.objective - 1e-9
    # The frame schedule itself is feasible under pipelined timing.
    assert timeline(inst if sharing else inst.unshared(), frame_result.solution.order).feasible


@PROPERTIES
@given(pipelined_instances(max_users=6))
def test_the_two_models_coincide_without_uploads(inst: Instance) -> None:
    # Inputs of 1e-12 bit: every a_k/B is ~1e-19 s, far below the deadline tolerance.
    tiny_inputs = tuple(dataclasses.replace(u, data_bits=1e-12) for u in inst.users)
    none = dataclasses.replace(inst, users=tiny_inputs)
    assert solve(none, "enumerate").objective == solve(dataclasses.replace(none, timing="frame"), "enumerate").objective


@PROPERTIES
@given(pipelined_instances(min_users=1, max_users=8), st.data())
def test_split_ends_every_upload_at_the_same_fraction_of_its_latest_start(inst: Instance, data: st.DataObject) -> None:
    order = data.draw(st.permutations(range(inst.num_users)))
    order = order[: data.draw(st.integers(1, len(order)))]
    latest = latest_starts(inst, order)
    tl = timeline(inst, order)
    if np.all(latest > 0):
        fraction = tl.upload_ends / latest
        np.testing.assert_allclose(fraction, fraction[0], rtol=1e-9)
        expected = float(np.sum(inst.upload_work[order] / latest)) / inst.bandwidth_hz
        assert fraction[0] == pytest.approx(expected, rel=1e-9)
        # Feasible iff the machine meets the deadlines from its latest starts on and λ ≤ 1.
        assert tl.feasible == bool(expected <= 1 + 1e-9 and _machine_feasible(inst, order))
    else:
        assert not tl.feasible
    assert tl.bandwidth.sum() == pytest.approx(inst.bandwidth_hz)
    # Loads never overlap inferences: each load starts when the previous request is done.
    np.testing.assert_allclose(tl.start[1:], tl.finish[:-1])
    assert np.all(tl.infer_start >= tl.start + tl.load - 1e-12)
    assert np.all(tl.infer_start >= tl.upload_ends - 1e-12)


def _machine_feasible(inst: Instance, order: list[int]) -> bool:
    frame = dataclasses.replace(
        inst, timing="frame", users=tuple(dataclasses.replace(u, data_bits=1e-12) for u in inst.users)
    )
    return timeline(frame, order).feasible


# ------------------------------------------------------------------------------ exact methods
def agreement_cases() -> list[tuple[Instance, bool]]:
    """Tiny instances over every structure and deadline kind, weights, initial model, sharing, and
    squeezed uplinks (the CI-sized part of ``benchmarks/pipelined_agreement.py``)."""
    cases = []
    for seed, (structure, deadlines) in enumerate(
        itertools.product(["backbone", "general", "none"], ["common", "per_user"])
    ):
        base = random_instance(
            100 + seed,
            5,
            3,
            structure=structure,
            deadlines=deadlines,
            weighted=seed % 2 == 0,
            initial_model=seed % 3 == 0,
        )
        for squeeze, sharing in ((1.0, True), (6.0, seed % 2 == 1)):
            cases.append((pipelined(base, bandwidth_hz=base.bandwidth_hz / squeeze), sharing))
    return cases


@pytest.mark.parametrize(("inst", "sharing"), agreement_cases())
def test_enumerate_and_the_minlp_agree_with_brute_force(inst: Instance, sharing: bool) -> None:
    expected = brute_force(inst, sharing)
    for method in ("enumerate", "milp"):
        result = solve(inst, method, sharing=sharing, time_limit=60)
        assert result.status == Status.OPTIMAL, method
        assert result.objective == pytest.approx(expected), method
        report = verify_solution(inst, result.to_dict())
        assert report.ok, str(report)


@pytest.mark.parametrize("method", ["dp", "cpsat"])
def test_frame_only_methods_refuse_cleanly(method: str, tiny: Instance, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(MethodNotApplicableError, match="does not support 'pipelined' timing"):
        solve(pipelined(tiny), method)
    assert main(["solve", str(instances.path("tiny")), "--timing", "pipelined", "--method", method]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "pipelined" in err


def test_auto_picks_a_method_that_supports_the_timing() -> None:
    inst = pipelined(random_instance(3, 20, 4, structure="backbone"))  # the DP's case under frame timing
    result = solve(inst, "auto")
    assert result.method == "greedy" and verify_solution(inst, result.to_dict()).ok


# ------------------------------------------------------------------------------ heuristics
@pytest.mark.parametrize("seed", range(12))
def test_heuristics_are_verified_and_ordered(seed: int) -> None:
    base = random_instance(
        seed, 7, 3, structure="general", deadlines="per_user", weighted=seed % 2 == 0, initial_model=True
    )
    inst = pipelined(base, bandwidth_hz=base.bandwidth_hz / (1 + seed % 4))
    optimum = solve(inst, "enumerate").objective
    edf = solve(inst, "edf")
    greedy = solve(inst, "greedy", seed=seed)
    frame_greedy = solve(dataclasses.replace(inst, timing="frame"), "greedy", seed=seed)
    for result in (edf, greedy):
        report = verify_solution(inst, result.to_dict())
        assert report.ok, str(report)
    assert edf.objective <= greedy.objective <= optimum + 1e-9
    assert greedy.objective >= frame_greedy.objective - 1e-9


def test_greedy_gap_on_tiny_instances() -> None:
    gaps = []
    for seed in range(30):
        base = random_instance(
            200 + seed, 6, 3, structure=["backbone", "general", "none"][seed % 3], deadlines="per_user"
        )
        inst = pipelined(base, bandwidth_hz=base.bandwidth_hz / (1 + seed % 3))
        optimum = solve(inst, "enumerate").objective
        if optimum:
            gaps.append((optimum - solve(inst, "greedy", seed=seed).objective) / optimum)
    assert np.mean(gaps) <= 0.01 and max(gaps) <= 0.10


# ------------------------------------------------------------------------------ the verifier
def _doc(tiny: Instance) -> dict[str, Any]:
    return solve(pipelined(tiny), "enumerate").to_dict()


CORRUPTIONS = {
    "upload_end": (
        lambda d: d["schedule"][1].update(upload_end_s=d["schedule"][1]["upload_end_s"] * 0.9),
        "schedule[1].upload_end_s",
    ),
    "load start": (
        lambda d: d["schedule"][2].update(start_s=d["schedule"][2]["start_s"] + 1e-3),
        "schedule[2].start_s",
    ),
    "inference start": (
        lambda d: d["schedule"][3].update(infer_start_s=d["schedule"][3]["infer_start_s"] - 1e-3),
        "schedule[3].infer_start_s",
    ),
    "finish": (lambda d: d["schedule"][0].update(finish_s=d["schedule"][0]["finish_s"] - 1e-3), "schedule[0].finish_s"),
    "bandwidth": (
        lambda d: d["bandwidth_hz"].update({k: v * 1.01 for k, v in d["bandwidth_hz"].items()}),
        "bandwidth_hz",
    ),
    "order": (lambda d: d["schedule"].reverse(), "schedule[0]"),
    "missing per-entry time": (lambda d: d["schedule"][0].pop("infer_start_s"), "schedule[0].infer_start_s"),
}


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_verifier_rejects_each_tampered_field(name: str, tiny: Instance) -> None:
    doc = _doc(tiny)
    assert verify_solution(tiny, doc).ok  # the file's timing field says pipelined
    mutate, where = CORRUPTIONS[name]
    bad = copy.deepcopy(doc)
    mutate(bad)
    report = verify_solution(tiny, bad)
    assert not report.ok
    assert any(v.where.startswith(where) for v in report.violations), str(report)


def test_verifier_replays_from_the_reported_bandwidth(tiny: Instance) -> None:
    # Starve u4: its upload ends after its load, it waits and finishes late; the verifier
    # derives that from the bandwidth alone (the closed form is not used).
    doc = _doc(tiny)
    bad = copy.deepcopy(doc)
    last = bad["schedule"][-1]["user"]
    bad["bandwidth_hz"][last] = 2e5 / 0.6  # its upload now ends at 0.6 s > the 0.5 s deadline
    report = verify_solution(tiny, bad)
    assert any("after its deadline" in v.problem for v in report.violations), str(report)
    assert meets(0.48, 0.5) and RELATIVE_TOLERANCE < 1e-6


@pytest.mark.parametrize("seed", range(40))
def test_bandwidth_bounds_of_every_gap_bracket_the_exact_need(seed: int) -> None:
    # The insertion test classifies gaps by bounds on Σ a/L; check them against a full analysis.
    base = random_instance(seed, 12, 3, structure="general", deadlines="per_user", initial_model=seed % 2 == 0)
    inst = pipelined(base, bandwidth_hz=base.bandwidth_hz / (1 + seed % 5))
    arith = schedule(inst)
    rng = np.random.default_rng(seed)
    users = rng.permutation(inst.num_users)
    rest = insert_all(arith, users[:9])  # a feasible order
    segment = users[9 : 9 + int(rng.integers(1, 3))]
    gaps = arith.machine.insertion(rest, 0.0, segment, 0.0)
    low, high = arith.need_bounds(rest, segment, gaps.added)
    for g in np.flatnonzero(gaps.ok):
        need = arith.analysis(np.concatenate((rest[:g], segment, rest[g:]))).load
        assert low[g] <= need * (1 + 1e-9) + 1e-12 and need <= high[g] * (1 + 1e-9) + 1e-12
