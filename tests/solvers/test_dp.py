"""The backbone-sharing DP: hand-solved optima, agreement with enumeration, a brute force and the
MILP, its refusals outside the exact case, and verified schedules."""

from __future__ import annotations

import dataclasses
from itertools import combinations

import numpy as np
import pytest

from partialloading import instances, solve
from partialloading.errors import InstanceTooLargeError, MethodNotApplicableError
from partialloading.instance import Block, Instance, Model, User
from partialloading.result import Result, Status
from partialloading.scenarios import random_instance
from partialloading.sharing import sharing_structure
from partialloading.solve import choose_method
from partialloading.solvers import dp
from partialloading.tolerance import RELATIVE_TOLERANCE
from partialloading.validation.verify import verify_solution


def check_valid(result: Result) -> None:
    """The independent verifier accepts the DP's solution document."""
    report = verify_solution(result.solution.instance, result.to_dict())
    assert report.ok, str(report)
    assert result.status is Status.OPTIMAL
    assert result.bound == result.objective


def assert_grouped(result: Result) -> None:
    """Clusters and models appear contiguously in the service order, the initial ones first."""
    inst = result.solution.instance
    structure = sharing_structure(inst if result.solution.sharing else inst.unshared())
    models = [int(inst.user_models[k]) for k in result.solution.order]
    clusters = [structure.cluster_of[m] for m in models]
    for seq in (models, clusters):
        runs = [x for i, x in enumerate(seq) if i == 0 or seq[i - 1] != x]
        assert len(runs) == len(set(runs)), f"not contiguous: {seq}"
    i0 = inst.initial_model_index
    if i0 is not None and models:
        c0 = structure.cluster_of[i0]
        if c0 in clusters:
            assert clusters[0] == c0
        if i0 in models:
            assert models[0] == i0


def brute_force_unit(inst: Instance, sharing: bool) -> int:
    """Optimum by trying every set of "opened" models (unit weights, common deadline).

    Independent of the DP's recursion: for a set O of models, every needed block not in GPU
    memory at time 0 is loaded once (grouped order), and then the cheapest users of O are
    added while the total fits. An optimal solution opens exactly its used models, so the
    maximum over O is the optimum. Loads are computed from the block sets, not the structure.
    """
    limit = float(inst.deadlines[0]) * (1 + RELATIVE_TOLERANCE)
    p = inst.upload_times + inst.infer_times[inst.user_models]
    requested = sorted(set(inst.user_models.tolist()))
    initial = set(inst.models[inst.initial_model_index].blocks) if inst.initial_model is not None else set()
    size = {b.id: b.size_bytes for b in inst.blocks}
    best = 0
    for r in range(len(requested) + 1):
        for opened in combinations(requested, r):
            if sharing:
                needed = set().union(*(inst.models[m].blocks for m in opened)) - initial
                load = sum(size[b] for b in needed)
            else:
                load = sum(sum(size[b] for b in inst.models[m].blocks) for m in opened if m != inst.initial_model_index)
            t = load / inst.load_speed_bytes_per_s
            if t > limit:
                continue
            costs = np.sort(p[np.isin(inst.user_models, opened)])
            best = max(best, int(np.searchsorted(np.cumsum(costs), limit - t, side="right")))
    return best


# ----------------------------------------------------------------------------- hand-solved
def test_tiny_with_and_without_sharing() -> None:
    # tiny: every user has p = a/B + c = 0.02 + 0.01 = 0.03 s, deadline 0.5 s. Loads at 1 GB/s:
    # vit backbone 0.3 s, birds/cars heads 0.02 s each, dogs (resnet) 0.1 s.
    # Sharing: the vit cluster with all three of its users takes 0.34 + 0.09 = 0.43 s; adding
    # dogs (0.13 s) or swapping cars for dogs (0.51 s) does not fit -> 3 users (u1, u3, u2).
    # No sharing: birds alone costs 0.32 s of loading; birds+dogs 0.42 + 0.09 = 0.51 s (late),
    # dogs+cars 0.42 + 0.06 = 0.48 s -> 2 users.
    inst = instances.load("tiny")
    res = solve(inst, "dp")
    check_valid(res)
    assert res.objective == 3
    assert res.solution.admitted == ("u1", "u3", "u2")
    res_ns = solve(inst, "dp", sharing=False)
    check_valid(res_ns)
    assert res_ns.objective == 2


@pytest.mark.parametrize(("initial", "first"), [("birds", "u1"), ("cars", "u2"), ("dogs", "u4")])
def test_initial_model_goes_first_and_loads_nothing(initial: str, first: str) -> None:
    # With any model in memory, the loads needed by everyone are at most 0.3 + 0.02 + 0.02 + 0.1
    # minus what is in memory; with birds or cars in memory: 0.02 + 0.1 + 4 * 0.03 = 0.24 s, with
    # dogs: 0.34 + 0.12 = 0.46 s <= 0.5 s. All four users fit, the initial model's users first.
    inst = dataclasses.replace(instances.load("tiny"), initial_model=initial)
    res = solve(inst, "dp")
    check_valid(res)
    assert res.objective == 4
    assert res.solution.admitted[0] == first
    assert res.solution.timeline.load[0] == 0.0
    assert_grouped(res)


def _instance(
    models: dict[str, tuple[str, ...]],
    blocks: dict[str, float],
    users: list[tuple[str, float]],
    deadline: float,
    *,
    initial: str | None = None,
    weights: list[float] | None = None,
) -> Instance:
    """Hand-built instance: B = 1 Hz and η = 1 so ``a_k/B`` = data bits; v = 1 byte/s; c = 0."""
    return Instance(
        blocks=tuple(Block(b, s) for b, s in blocks.items()),
        models=tuple(Model(m, bl, 0.0) for m, bl in models.items()),
        users=tuple(
            User(f"u{k}", m, d, deadline, spectral_efficiency=1.0, weight=1 if weights is None else weights[k])
            for k, (m, d) in enumerate(users)
        ),
        bandwidth_hz=1.0,
        load_speed_bytes_per_s=1.0,
        initial_model=initial,
        name="hand",
    )


def test_head_cost_makes_cheap_users_of_a_new_model_lose() -> None:
    # Backbone bb (10) shared by a and b; heads ha (1), hb (6). Users (p): a: 1, 1, 4; b: 1, 1.
    # Deadline 16: bb + ha + a's two cheap users = 13; a's third makes 17; b alone costs 18 -> 2.
    # Deadline 17: all of a (17) -> 3. Deadline 21: a's cheap two and b's two, 10 + 1 + 6 + 4 = 21
    # -> 4 (cheaper than all of a plus one of b, 24). Deadline 25: everyone (25). Deadline 10.5:
    # any user needs bb and a head, 11 > 10.5 -> 0.
    models = {"a": ("bb", "ha"), "b": ("bb", "hb")}
    blocks = {"bb": 10.0, "ha": 1.0, "hb": 6.0}
    users = [("a", 1.0), ("a", 1.0), ("a", 4.0), ("b", 1.0), ("b", 1.0)]
    for deadline, expected in ((16.0, 2), (17.0, 3), (21.0, 4), (25.0, 5), (10.5, 0)):
        res = solve(_instance(models, blocks, users, deadline), "dp")
        check_valid(res)
        assert res.objective == expected, deadline


def test_weighted_knapsack_within_a_model() -> None:
    # One model, no loads (block of size 0). Users (cost, weight): (3, 3), (2, 1), (2, 1), (4, 4).
    # Deadline 7: best is {3: w3, 4: w4} = weight 7 at cost 7; the cheapest-first rule would take
    # 2 + 2 + 3 = 7 for weight 5.
    inst = _instance(
        {"m": ("x",)}, {"x": 0.0}, [("m", 3.0), ("m", 2.0), ("m", 2.0), ("m", 4.0)], 7.0, weights=[3, 1, 1, 4]
    )
    res = solve(inst, "dp")
    check_valid(res)
    assert res.objective == 7
    assert sorted(res.solution.admitted) == ["u0", "u3"]
    assert res.objective == solve(inst, "enumerate").objective


def test_equal_non_integer_weights_are_unit_weights() -> None:
    inst = _instance({"m": ("x",)}, {"x": 1.0}, [("m", 1.0), ("m", 2.0), ("m", 3.0)], 4.0, weights=[0.5, 0.5, 0.5])
    # Load 1, then users 1 and 2 (total 4): two users of weight 0.5.
    res = solve(inst, "dp")
    check_valid(res)
    assert res.objective == 1.0


def test_ties_are_deterministic() -> None:
    # Six identical users over two identical models of one cluster: 3 fit (load 2 + head 1 + 3 * 1).
    models = {"a": ("bb", "ha"), "b": ("bb", "hb")}
    blocks = {"bb": 2.0, "ha": 1.0, "hb": 1.0}
    users = [("a", 1.0), ("b", 1.0)] * 3
    inst = _instance(models, blocks, users, 6.0)
    first = solve(inst, "dp")
    check_valid(first)
    assert first.objective == 3
    assert first.solution.admitted == ("u0", "u2", "u4")  # fewest users from the later model
    assert solve(inst, "dp").solution.order == first.solution.order


def test_empty_and_hopeless_instances() -> None:
    no_users = _instance({"m": ("x",)}, {"x": 1.0}, [], 1.0)
    assert solve(no_users, "dp").objective == 0
    # Every user needs 5 s of loading before a 4 s deadline: nobody fits.
    hopeless = _instance({"m": ("x",)}, {"x": 5.0}, [("m", 0.1), ("m", 0.1)], 4.0)
    res = solve(hopeless, "dp")
    check_valid(res)
    assert res.objective == 0
    assert res.solution.rejected == ("u0", "u1")


def test_zero_size_blocks_do_not_break_the_structure() -> None:
    # z (size 0) is shared by a, b, c across two clusters: it costs nothing, so it is ignored.
    models = {"a": ("bb", "ha", "z"), "b": ("bb", "hb", "z"), "c": ("cc", "z")}
    blocks = {"bb": 3.0, "ha": 1.0, "hb": 1.0, "cc": 2.0, "z": 0.0}
    users = [("a", 1.0), ("b", 1.0), ("c", 1.0), ("c", 2.0)]
    inst = _instance(models, blocks, users, 8.0)
    assert dp.why_not_exact(inst) is None
    res = solve(inst, "dp")
    check_valid(res)
    assert res.objective == solve(inst, "enumerate").objective == brute_force_unit(inst, True)


# ----------------------------------------------------------------------------- agreement
def _family(seed: int) -> Instance:
    """Backbone instances covering the cases of the issue, chosen by the seed."""
    rng = np.random.default_rng(seed)
    n_models = int(rng.integers(1, 6))
    kind = seed % 6
    return random_instance(
        seed,
        n_users=int(rng.integers(1, 10)),
        n_models=n_models,
        structure="backbone",
        n_clusters=n_models if kind == 0 else int(rng.integers(1, n_models + 1)),  # 0: single-model clusters
        initial_model=kind in (1, 4),
        weighted=kind == 2,
        tightness={3: 1.2, 5: 0.05}.get(kind),  # 3: everyone fits; 5: few or nobody fits
    )


@pytest.mark.parametrize("sharing", [True, False])
@pytest.mark.parametrize("block", range(4))
def test_dp_equals_enumeration(block: int, sharing: bool) -> None:
    served_all = served_none = multi_block = 0
    for seed in range(block * 25, block * 25 + 25):
        inst = _family(seed)
        multi_block += any(len(c.backbone) > 1 for c in sharing_structure(inst).clusters if len(c.models) > 1)
        res = solve(inst, "dp", sharing=sharing)
        check_valid(res)
        assert_grouped(res)
        assert res.objective == pytest.approx(solve(inst, "enumerate", sharing=sharing).objective), seed
        served_all += len(res.solution.order) == inst.num_users
        served_none += not res.solution.order
    # The family really contains both extremes.
    assert served_all > 0
    assert served_none > 0
    assert multi_block > 0


def test_dp_equals_enumeration_on_ties() -> None:
    # Users with identical data on identical models: many optimal sets.
    for seed in range(10):
        base = random_instance(seed, n_users=8, n_models=4, structure="backbone", n_clusters=2)
        users = tuple(dataclasses.replace(u, data_bits=1e6, spectral_efficiency=4.0) for u in base.users)
        inst = dataclasses.replace(base, users=users)
        res = solve(inst, "dp")
        check_valid(res)
        assert res.objective == solve(inst, "enumerate").objective
        assert res.solution.order == solve(inst, "dp").solution.order


@pytest.mark.parametrize("sharing", [True, False])
def test_dp_equals_brute_force_on_larger_instances(sharing: bool) -> None:
    for seed in range(40):
        inst = random_instance(
            seed, n_users=60, n_models=7, structure="backbone", n_clusters=3, initial_model=seed % 2 == 0
        )
        res = solve(inst, "dp", sharing=sharing)
        check_valid(res)
        assert_grouped(res)
        assert res.objective == brute_force_unit(inst, sharing), seed


def test_no_sharing_applies_to_general_structures() -> None:
    for seed in range(15):
        inst = random_instance(seed, n_users=7, n_models=4, structure="general", initial_model=seed % 2 == 1)
        assert dp.why_not_exact(inst.unshared()) is None
        res = solve(inst, "dp", sharing=False)
        check_valid(res)
        assert res.objective == solve(inst, "enumerate", sharing=False).objective


def test_dp_equals_milp() -> None:
    for seed in range(24):
        inst = _family(1000 + seed)
        sharing = seed % 3 != 0
        res = solve(inst, "dp", sharing=sharing)
        check_valid(res)
        milp = solve(inst, "milp", sharing=sharing)
        assert milp.status is Status.OPTIMAL
        assert res.objective == pytest.approx(milp.objective), seed


# ----------------------------------------------------------------------------- refusals
def test_refuses_per_user_deadlines() -> None:
    inst = random_instance(1, n_users=6, n_models=3, deadlines="per_user")
    reason = dp.why_not_exact(inst)
    assert reason is not None and "different deadlines" in reason
    with pytest.raises(MethodNotApplicableError, match="different deadlines"):
        solve(inst, "dp")
    assert choose_method(inst) != "dp"


def test_refuses_general_sharing_but_not_without_sharing() -> None:
    inst = random_instance(3, n_users=6, n_models=6, structure="general")
    reason = dp.why_not_exact(inst)
    assert reason is not None and "of the same cluster" in reason
    with pytest.raises(MethodNotApplicableError, match="of the same cluster"):
        solve(inst, "dp")
    assert dp.why_not_exact(inst.unshared()) is None


def test_refuses_fractional_unequal_weights() -> None:
    inst = _instance({"m": ("x",)}, {"x": 1.0}, [("m", 1.0), ("m", 1.0)], 4.0, weights=[1.0, 1.5])
    with pytest.raises(MethodNotApplicableError, match=r"user 'u1' has weight 1.5"):
        solve(inst, "dp")


def test_refuses_too_heavy_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    inst = _instance({"m": ("x",)}, {"x": 1.0}, [("m", 1.0), ("m", 1.0)], 4.0, weights=[3, 5])
    monkeypatch.setattr(dp, "MAX_TOTAL_WEIGHT", 7)
    assert "exceeds 7" in (dp.why_not_exact(inst) or "")
    with pytest.raises(InstanceTooLargeError, match="pseudo-polynomial"):
        solve(inst, "dp")


def test_auto_uses_the_dp_where_it_applies() -> None:
    inst = random_instance(5, n_users=40, n_models=6, structure="backbone")
    assert choose_method(inst) == "dp"
    res = solve(inst, "auto")
    assert res.method == "dp" and res.info["chosen_by"] == "auto"
    check_valid(res)


def test_large_instance_is_valid_and_grouped() -> None:
    inst = random_instance(7, n_users=3000, n_models=120, structure="backbone", n_clusters=12, tightness=0.5)
    res = solve(inst, "dp")
    check_valid(res)
    assert_grouped(res)
    assert 0 < len(res.solution.order) < inst.num_users
    assert res.info["time_used_s"] == pytest.approx(res.solution.timeline.makespan, rel=1e-9)
    # Sharing only shortens loads (ℓ <= ℓ_ns), so it never serves fewer users.
    res_ns = solve(inst, "dp", sharing=False)
    check_valid(res_ns)
    assert res_ns.objective <= res.objective


def test_pruning_is_exact_and_bounds_bracket_the_optimum() -> None:
    for seed in range(30):
        rng = np.random.default_rng(seed)
        n_models = int(rng.integers(1, 30))
        inst = random_instance(
            seed,
            n_users=int(rng.integers(5, 400)),
            n_models=n_models,
            structure="backbone",
            n_clusters=int(rng.integers(1, n_models + 1)),
            initial_model=seed % 2 == 0,
            weighted=seed % 3 == 0,
        )
        for sharing in (True, False):
            pruned = solve(inst, "dp", sharing=sharing)
            plain = solve(inst, "dp", sharing=sharing, prune=False)
            check_valid(pruned)
            assert pruned.objective == plain.objective, seed
            assert "pruning_fallback" not in pruned.info
            # The Lagrangian schedule is feasible and its dual value an upper bound.
            assert pruned.info["lagrange_lower"] <= pruned.objective <= pruned.info["lagrange_upper"] + 1e-6
            assert pruned.info["states"] <= plain.info["states"]
