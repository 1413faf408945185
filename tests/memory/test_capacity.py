"""The GPU memory with a capacity (``server.memory_bytes``): default rule, exact methods,
verifier, properties (a)–(d), files and errors."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from partialloading import solve
from partialloading.cli import main
from partialloading.errors import InstanceError, MethodNotApplicableError
from partialloading.instance import Block, Instance, Model, User
from partialloading.io import instance_to_dict, write_instance
from partialloading.memory import CapacityMemory, memory_of
from partialloading.result import Result, Status
from partialloading.solvers.order_search import find_order
from partialloading.timing import schedule, timeline
from partialloading.validation.verify import verify_solution

from strategies import generated_instances

EXACT = ("enumerate", "milp")
ANY_MEMORY = ("enumerate", "greedy", "edf", "fifo", "auto")


def user(uid: str, model: str, deadline: float, weight: float = 1.0) -> User:
    # Negligible uploads (1 bit at 10^9 bit/s/Hz): the loads and inferences decide.
    return User(uid, model, 1.0, deadline, spectral_efficiency=1e9, weight=weight)


def return_to_a(memory_bytes: float | None) -> Instance:
    """Two 100 MB models at 1 GB/s (0.1 s each to load), 0.1 s of inference each.

    a1 (A) is due at 0.2 s, b1 (B) at 0.45 s, a2 (A) at 0.55 s. Serving A, A, B makes b1 finish at
    0.5 s: late. A, B, A finishes at 0.2, 0.4 and then 0.5 s if A is still resident (a capacity of
    200 MB holds both), 0.6 s if it must be reloaded (one model at a time, or 100 MB). So the
    optimum serves 3 with room for both models and 2 otherwise: it needs the cache to return to A.
    """
    blocks = (Block("a", 1e8), Block("b", 1e8))
    models = (Model("A", ("a",), 0.1), Model("B", ("b",), 0.1))
    users = (user("a1", "A", 0.2), user("b1", "B", 0.45), user("a2", "A", 0.55))
    return Instance(blocks, models, users, 1e9, 1e9, memory_bytes=memory_bytes, name="return")


def choose_eviction() -> Instance:
    """A base (300 MB) with two adapters x and y (10 MB each) and an unrelated model Z (300 MB),
    capacity 615 MB, loads at 1 GB/s, no inference time.

    Serving X, Z, Y, X: after X and Z (0.31 s + 0.3 s) the memory holds base, x and z (610 MB);
    Y needs 10 MB more, so one block goes, x or z (Y needs the base). The default rule evicts the
    block used again furthest: z is never used again, x is used by the last request, so z goes
    and the last X loads nothing. The least recently used block, x (used before z), would be
    reloaded.
    """
    blocks = (Block("base", 3e8), Block("x", 1e7), Block("y", 1e7), Block("z", 3e8))
    models = (Model("X", ("base", "x"), 0.0), Model("Y", ("base", "y"), 0.0), Model("Z", ("z",), 0.0))
    users = (user("u1", "X", 1.0), user("u2", "Z", 1.0), user("u3", "Y", 1.0), user("u4", "X", 1.0))
    return Instance(blocks, models, users, 1e9, 1e9, memory_bytes=6.15e8, name="evict")


def with_memory(instance: Instance, share: float) -> Instance:
    """``instance`` with a capacity ``share`` of the way from its largest model to every block."""
    low, high = float(instance.model_sizes.max()), float(instance.block_sizes.sum())
    return dataclasses.replace(instance, memory_bytes=low + share * (high - low))


# --------------------------------------------------------------------------- hand-built cases
@pytest.mark.parametrize("method", EXACT)
@pytest.mark.parametrize(("memory_bytes", "optimum"), [(2e8, 3.0), (1e8, 2.0), (None, 2.0)])
def test_the_optimum_returns_to_a_resident_model(method: str, memory_bytes: float | None, optimum: float) -> None:
    result = solve(return_to_a(memory_bytes), method)
    assert result.status == Status.OPTIMAL and result.objective == optimum
    assert verify_solution(return_to_a(memory_bytes), result.to_dict()).ok
    if optimum == 3.0:
        assert result.solution.admitted == ("a1", "b1", "a2")
        assert result.solution.timeline.loaded_bytes.tolist() == [1e8, 1e8, 0.0]


def test_the_default_rule_evicts_the_block_used_furthest() -> None:
    inst = choose_eviction()
    tl = timeline(inst, [0, 1, 2, 3])
    z = inst.block_index["z"]
    assert tl.evicted == ((), (), (z,), ())
    np.testing.assert_allclose(tl.loaded_bytes, [3.1e8, 3e8, 1e7, 0.0])
    np.testing.assert_allclose(tl.resident_bytes, [3.1e8, 6.1e8, 3.2e8, 3.2e8])


def test_ties_go_to_the_least_recently_used_then_the_largest_then_the_smallest_id() -> None:
    # Nothing is used again: the next-use rule ties, so the least recently used block goes.
    blocks = (Block("p", 1e8), Block("q", 1e8), Block("r", 2e8))
    models = (Model("P", ("p",), 0.0), Model("Q", ("q",), 0.0), Model("R", ("r",), 0.0))
    users = (user("u1", "P", 9.0), user("u2", "Q", 9.0), user("u3", "R", 9.0))
    inst = Instance(blocks, models, users, 1e9, 1e9, memory_bytes=3e8)
    assert timeline(inst, [0, 1, 2]).evicted == ((), (), (inst.block_index["p"],))
    # Initial blocks are older than any request, least recently used first; among equally old
    # blocks (two initial ones never used), the largest goes first.
    start = dataclasses.replace(inst, initial_blocks=("q", "p"), users=(user("u3", "R", 9.0),))
    assert timeline(start, [0]).evicted == ((inst.block_index["q"],),)


def test_evictions_are_decisions_of_the_exact_methods() -> None:
    # Capacity 310 MB: after X (base + x) and Y (base + y), Z needs room. Serving X, Y, Z, X
    # within 0.93 s needs Z to evict y (not base, nor x): the default rule agrees here, and
    # enumerate reports its own evictions in the solution file.
    blocks = (Block("base", 2e8), Block("x", 5e7), Block("y", 5e7), Block("z", 5e7))
    models = (Model("X", ("base", "x"), 0.0), Model("Y", ("base", "y"), 0.0), Model("Z", ("base", "z"), 0.0))
    users = (user("u1", "X", 9.0), user("u2", "Y", 9.0), user("u3", "Z", 9.0), user("u4", "X", 9.0))
    inst = Instance(blocks, models, users, 1e9, 1e9, memory_bytes=3.5e8)
    result = solve(inst, "enumerate", initial=[])
    doc = result.to_dict()
    assert all("evicted" in entry for entry in doc["schedule"])
    assert verify_solution(inst, doc).ok


# --------------------------------------------------------------------------- the verifier
def test_the_verifier_replays_the_evictions() -> None:
    inst = choose_eviction()
    doc = solve(inst, "enumerate").to_dict()
    assert verify_solution(inst, doc).ok
    needed = json.loads(json.dumps(doc))
    q = next(q for q, entry in enumerate(doc["schedule"]) if q > 0 and entry["model"] != "Z")
    needed["schedule"][q]["evicted"] = ["base"]
    assert "needs it" in str(verify_solution(inst, needed))
    absent = json.loads(json.dumps(doc))
    absent["schedule"][0]["evicted"] = ["z"]
    assert "not resident" in str(verify_solution(inst, absent))
    # Without the lists a reader applies the default rule.
    bare = json.loads(json.dumps(doc))
    for entry in bare["schedule"]:
        del entry["evicted"]
    assert verify_solution(inst, bare).ok


def test_the_verifier_catches_memory_beyond_capacity() -> None:
    inst = choose_eviction()
    doc = solve(inst, "edf").to_dict()
    for entry in doc["schedule"]:
        entry["evicted"] = []
    report = verify_solution(inst, doc)
    assert not report.ok and "beyond memory_bytes" in str(report)


def test_solution_files_keep_the_evictions(tmp_path: Path) -> None:
    inst = choose_eviction()
    result = solve(inst, "milp")
    again = Result.from_dict(inst, result.to_dict())
    assert again.solution.evicted == tuple(tuple(e) for e in result.solution.timeline.evicted)
    np.testing.assert_allclose(again.solution.timeline.finish, result.solution.timeline.finish)


# --------------------------------------------------------------------------- methods
@pytest.mark.parametrize("method", ["dp", "bnb", "cpsat"])
def test_methods_written_on_one_model_loads_refuse(method: str) -> None:
    with pytest.raises(MethodNotApplicableError, match="memory model does not have"):
        solve(return_to_a(2e8), method)


@settings(max_examples=15, deadline=None)
@given(generated_instances(min_users=2, max_users=6, max_models=3), st.sampled_from([0.0, 0.4, 1.0]))
def test_enumerate_and_the_milp_agree_under_pipelined_timing(instance: Instance, share: float) -> None:
    # Under pipelined timing the MILP's batch-slot model (one request per slot here) with the
    # resident blocks, solved by SCIP: the second exact method of this combination.
    inst = dataclasses.replace(with_memory(instance, share), timing="pipelined")
    found = {m: solve(inst, m, initial=[]) for m in EXACT}
    assert all(r.status == Status.OPTIMAL for r in found.values())
    assert found["enumerate"].objective == pytest.approx(found["milp"].objective)
    assert found["milp"].info["formulation"] == "batched"
    for r in found.values():
        assert verify_solution(inst, r.to_dict()).ok


@settings(max_examples=40, deadline=None)
@given(generated_instances(min_users=3, max_users=7, max_models=3), st.sampled_from([0.0, 0.4, 1.0]))
def test_enumerate_and_the_milp_agree(instance: Instance, share: float) -> None:
    inst = with_memory(instance, share)
    found = {m: solve(inst, m) for m in EXACT}
    assert all(r.status == Status.OPTIMAL for r in found.values())
    assert found["enumerate"].objective == pytest.approx(found["milp"].objective)
    for r in found.values():
        assert verify_solution(inst, r.to_dict()).ok


@pytest.mark.parametrize("timing", ["frame", "pipelined"])
@settings(max_examples=15, deadline=None)
@given(generated_instances(min_users=2, max_users=7, max_models=3), st.sampled_from([0.0, 0.5]), st.booleans())
def test_every_method_passes_the_verifier(timing: str, instance: Instance, share: float, sharing: bool) -> None:
    inst = dataclasses.replace(with_memory(instance, share), timing=timing)
    exact = solve(inst, "enumerate", sharing=sharing)
    for method in ANY_MEMORY:
        result = solve(inst, method, sharing=sharing)
        assert verify_solution(inst, result.to_dict()).ok, method
        assert result.objective <= exact.objective + 1e-9


# --------------------------------------------------------------------------- properties (a)-(d)
@settings(max_examples=30, deadline=None)
@given(generated_instances(min_users=2, max_users=6, max_models=3))
def test_room_for_every_model_never_loses_to_the_one_model_memory(instance: Instance) -> None:
    # (a) Evicting everything the next model does not need is one eviction plan.
    assert solve(with_memory(instance, 0.0), "enumerate").objective >= solve(instance, "enumerate").objective


@settings(max_examples=30, deadline=None)
@given(generated_instances(min_users=2, max_users=6, max_models=3))
def test_the_optimum_never_decreases_as_memory_grows(instance: Instance) -> None:
    # (b) Every eviction plan of a smaller memory fits a larger one.
    values = [solve(with_memory(instance, share), "enumerate").objective for share in (0.0, 0.3, 0.7, 1.0)]
    assert values == sorted(values)


@settings(max_examples=30, deadline=None)
@given(generated_instances(min_users=2, max_users=7, max_models=3))
def test_with_room_for_everything_each_block_is_loaded_once(instance: Instance) -> None:
    # (c) Nothing is ever evicted, so a block is loaded at its first use only.
    inst = with_memory(instance, 1.0)
    for method in ("enumerate", "greedy"):
        tl = solve(inst, method).solution.timeline
        assert all(not gone for gone in tl.evicted)
        models = inst.user_models[tl.order]
        used = np.flatnonzero(inst.membership[np.unique(models)].any(axis=0)) if models.size else []
        fresh = set(used) - set(inst.initial_resident)
        assert tl.loaded_bytes.sum() == pytest.approx(float(inst.block_sizes[sorted(fresh)].sum()))


@settings(max_examples=30, deadline=None)
@given(generated_instances(min_users=2, max_users=6, max_models=3), st.sampled_from([0.0, 0.5]))
def test_admissible_sets_stay_closed_under_removal(instance: Instance, share: float) -> None:
    # (d) Removing a request never delays the others: every subset of an optimal set is feasible.
    inst = with_memory(instance, share)
    served = list(solve(inst, "enumerate").solution.order)
    p = schedule(inst, tolerance_share=1.0)
    for k in served:
        assert find_order(p, [j for j in served if j != k]).order is not None


# --------------------------------------------------------------------------- data and files
def test_memory_persists_in_files(tmp_path: Path) -> None:
    inst = dataclasses.replace(choose_eviction(), initial_blocks=("z", "base"))
    path = tmp_path / "cap.json"
    write_instance(inst, path)
    doc = json.loads(path.read_text())
    assert doc["server"]["memory_bytes"] == 6.15e8 and doc["server"]["initial_blocks"] == ["z", "base"]
    assert isinstance(memory_of(inst), CapacityMemory)


@pytest.mark.parametrize(
    ("server", "message"),
    [
        ({"memory_bytes": 1e8}, "server.memory_bytes: model 'X'"),
        ({"memory_bytes": -5.0}, "server.memory_bytes: "),
        ({"memory_bytes": 6.15e8, "initial_blocks": ["nope"]}, "server.initial_blocks[0]: unknown block 'nope'"),
        ({"memory_bytes": 6.15e8, "initial_blocks": ["x"], "initial_model": "X"}, "not both"),
        ({"memory_bytes": 6.15e8, "initial_blocks": ["base", "z", "x", "y"]}, "more than memory_bytes"),
        ({"initial_blocks": ["x"]}, "needs server.memory_bytes"),
    ],
)
def test_bad_memory_fields_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], server: dict[str, object], message: str
) -> None:
    doc = instance_to_dict(choose_eviction())
    doc["server"] = {"load_speed_bytes_per_s": 1e9, "initial_model": None, **server}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    out = tmp_path / "out.json"
    assert main(["validate", str(path)]) == 2
    assert main(["solve", str(path), "--output", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err and all(message in line and str(path) in line for line in err)
    assert not out.exists()


def test_no_sharing_is_the_whole_model_cache() -> None:
    # Private copies: serving X then Y reloads the base for Y; the initial blocks holding X whole
    # become X's copies, the lone y block (no whole model) is dropped.
    inst = dataclasses.replace(choose_eviction(), initial_blocks=("y", "base", "x"))
    plain = inst.unshared()
    assert plain.initial_blocks == ("X/base", "X/x")
    tl = timeline(plain, [inst.user_index["u3"]])
    assert tl.loaded_bytes.tolist() == [3.1e8]


def test_the_capacity_constructor_checks_the_fields() -> None:
    with pytest.raises(InstanceError, match=r"server\.memory_bytes"):
        dataclasses.replace(choose_eviction(), memory_bytes=float("nan"))


# --------------------------------------------------------------------------- the LRU baseline
@settings(max_examples=30, deadline=None)
@given(generated_instances(min_users=2, max_users=7, max_models=3), st.sampled_from([0.0, 0.4]))
def test_lru_steps_and_plans_agree(instance: Instance, share: float) -> None:
    # The exact search's one LRU choice per request reproduces the LRU default rule.
    inst = dataclasses.replace(with_memory(instance, share), memory="capacity-lru")
    memory = memory_of(inst)
    order = inst.user_models
    plan = memory.plan(order)
    state = memory.start()
    for q, m in enumerate(order.tolist()):
        ((load, state, gone),) = memory.choices(state, m)
        assert load == pytest.approx(plan.load[q]) and set(gone) == set(plan.evicted[q])


@settings(max_examples=30, deadline=None)
@given(generated_instances(min_users=2, max_users=6, max_models=3), st.sampled_from([0.0, 0.4]))
def test_planned_evictions_never_lose_to_lru(instance: Instance, share: float) -> None:
    inst = with_memory(instance, share)
    lru = dataclasses.replace(inst, memory="capacity-lru")
    planned = solve(inst, "enumerate")
    found = solve(lru, "enumerate")
    assert verify_solution(lru, found.to_dict()).ok
    assert planned.objective >= found.objective - 1e-9
