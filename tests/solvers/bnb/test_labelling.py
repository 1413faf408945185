"""The compiled layered search of the branch-and-bound against the depth-first one and enumeration."""

from __future__ import annotations

import math

import numpy as np
import pytest

import partialloading as pl
from partialloading.scenarios import generate, random_instance
from partialloading.solvers.bnb import label_kernels, labelling
from partialloading.solvers.bnb.bounds import SetupTree
from partialloading.solvers.bnb.labelling import Dive, Layered, descend
from partialloading.solvers.bnb.search import BranchAndBound
from partialloading.stop import Deadline
from partialloading.timing import FrameSchedule, servable_alone


def prepared(instance: pl.Instance) -> tuple[FrameSchedule, BranchAndBound]:
    p = FrameSchedule.build(instance, tolerance_share=1.0)
    search = BranchAndBound(
        p, SetupTree.of(instance), servable_alone(instance).tolist(), [], unit=instance.weight_unit, compiled=True
    )
    search.relax_paths(Deadline())
    return p, search


def on_time(p: FrameSchedule, order: list[int]) -> bool:
    full = np.array(order, dtype=np.int64)
    return full.size == 0 or bool(np.all(p.finish(full) <= p.limit[full]))


@pytest.mark.parametrize(("family", "seed"), [(f, s) for f in ("general", "backbone", "zoo-mixed") for s in range(2)])
def test_layered_with_or_without_the_dive_and_depth_first_prove_the_same_optimum(family: str, seed: int) -> None:
    inst = generate(family, seed, n_users=16, deadlines="per_user", weighted=True, max_weight=3)
    layered = pl.solve(inst, "bnb", initial=[])
    rounds = pl.solve(inst, "bnb", initial=[], dive=False)
    deep = pl.solve(inst, "bnb", initial=[], path_bound=False)
    assert layered.info["certificate"]["search"] == rounds.info["certificate"]["search"] == "layered"
    assert deep.info["certificate"]["search"] == "depth-first"
    assert layered.status is rounds.status is deep.status is pl.Status.OPTIMAL
    assert layered.objective == pytest.approx(deep.objective) == rounds.objective


def test_growing_the_label_arrays_changes_nothing() -> None:
    # From 16 labels the arrays double many times during the search; the answer, the labels
    # expanded and kept are those of a search that never had to grow.
    inst = generate("backbone", 1, n_users=14, deadlines="per_user", weighted=True, max_weight=3)
    _, small_search = prepared(inst)
    _, large_search = prepared(inst)
    small = Layered(small_search, capacity=16).run(Deadline(), math.inf)
    large = Layered(large_search, capacity=1 << 16).run(Deadline(), math.inf)
    assert small.labels > 16 and small.proven and large.proven
    assert small.order == large.order and small.weight == large.weight
    assert (small.nodes, small.labels) == (large.nodes, large.labels)
    # The dive's stack grows with the labels, and keeps its order.
    dives = [Dive(search, capacity=capacity) for search, capacity in ((small_search, 16), (large_search, 1 << 16))]
    assert all(deep.expand(Deadline()) for deep in dives)
    assert dives[0].order() == dives[1].order() and dives[0].best == dives[1].best == small.weight
    assert dives[0].expanded == dives[1].expanded and dives[0].ints[0] == dives[1].ints[0] > 16


def enumerated(inst: pl.Instance) -> float:
    return pl.solve(inst, "enumerate", initial=[]).objective


@pytest.mark.parametrize(("structure", "seed"), [(s, seed) for s in ("general", "backbone") for seed in range(4)])
def test_the_dive_alone_is_a_complete_search(structure: str, seed: int) -> None:
    # Depth first, it may expand a label that a later one dominates, but it drops only labels
    # that cannot beat its best: run to the end from nothing, its best is the optimum.
    inst = random_instance(seed, 9, 3, structure=structure, deadlines="per_user", weighted=True)
    p, search = prepared(inst)
    deep = Dive(search)
    assert deep.expand(Deadline())
    assert deep.best == pytest.approx(enumerated(inst))
    assert on_time(p, deep.order())
    assert float(p.weight[deep.order()].sum()) == pytest.approx(deep.best)


@pytest.mark.parametrize("share", [1, 2, 7])
@pytest.mark.parametrize("seed", range(4))
def test_whatever_the_dive_s_share_the_rounds_prove_the_optimum(monkeypatch, share: int, seed: int) -> None:
    # The share only decides which of the two searches meets the other first.
    monkeypatch.setattr(labelling, "SHARE", share)
    inst = random_instance(seed, 10, 3, structure="backbone", deadlines="per_user", weighted=True)
    p, search = prepared(inst)
    found = descend(search, Deadline(), search.root_bound(), inst.weight_unit)
    assert found.proven and found.weight == found.bound == pytest.approx(enumerated(inst))
    assert on_time(p, found.order)
    assert float(p.weight[found.order].sum()) == pytest.approx(found.weight)


@pytest.mark.parametrize("seed", range(4))
def test_a_dive_past_its_label_cap_leaves_the_rounds_alone(monkeypatch, seed: int) -> None:
    # A dive that can keep no label stops diving; the rounds go on and prove the optimum.
    monkeypatch.setattr(Dive, "advance", lambda self, budget: label_kernels.FULL)
    inst = random_instance(seed, 10, 3, structure="general", deadlines="per_user", weighted=True)
    p, search = prepared(inst)
    found = descend(search, Deadline(), search.root_bound(), inst.weight_unit)
    assert found.proven and found.weight == pytest.approx(enumerated(inst))
    assert on_time(p, found.order)


@pytest.mark.parametrize("budget", [0, 2000, 5000])
@pytest.mark.parametrize("seed", range(3))
def test_the_rounds_stopped_midway_give_a_valid_bound(budget: int, seed: int) -> None:
    # Stopped after a few labels, the answer is on time, never above the optimum, and its bound
    # (the target of the round under way) never below it. (Two of these searches prove after
    # 3,436 and 3,841 labels: stopped at 2,000 they are open with the bound a unit above.)
    inst = generate("backbone", seed, n_users=16, deadlines="per_user", weighted=True, max_weight=3)
    p, search = prepared(inst)
    optimum = pl.solve(inst, "bnb", initial=[]).objective
    found = descend(search, lambda nodes: nodes > budget, search.root_bound(), inst.weight_unit)
    assert on_time(p, found.order)
    assert float(p.weight[found.order].sum()) == pytest.approx(found.weight)
    assert found.weight <= optimum + 1e-9 <= found.bound + 1e-9
    if found.proven:
        assert found.weight == pytest.approx(optimum) == found.bound
    else:
        assert found.bound > found.weight


@pytest.mark.parametrize("seed", range(4))
def test_the_label_cap_stops_the_search_with_a_valid_bound(monkeypatch, seed: int) -> None:
    # With room for 32 labels only (these searches keep 25 to 312) the search stops unproven:
    # its schedule is on time, and its bound is never below the optimum enumeration finds.
    inst = random_instance(seed, 10, 3, structure="general", deadlines="per_user", weighted=True)
    optimum = pl.solve(inst, "enumerate", initial=[]).objective
    monkeypatch.setattr(labelling, "MAX_LABELS", 32)
    p, search = prepared(inst)
    found = Layered(search, capacity=16).run(Deadline(), search.root_bound())
    assert not found.proven and found.labels <= 32
    assert on_time(p, found.order)
    assert float(p.weight[found.order].sum()) == pytest.approx(found.weight)
    assert found.weight <= optimum + 1e-9 <= found.bound + 2e-9


def test_too_many_models_for_the_state_codes_search_depth_first() -> None:
    # 45 models: the product of the list lengths exceeds 64 bits, so the states cannot be coded.
    inst = random_instance(0, 80, 45, structure="general", deadlines="per_user", weighted=True)
    result = pl.solve(inst, "bnb", max_nodes=50)
    assert result.info["certificate"]["search"] == "depth-first"


def test_the_rounds_and_the_dive_give_the_same_answer_twice() -> None:
    # The two searches take turns by labels counted, not by the clock: two runs expand the same
    # labels and return the same schedule.
    inst = generate("backbone", 2, n_users=16, deadlines="per_user", weighted=True, max_weight=3)
    runs = []
    for _ in range(2):
        _, search = prepared(inst)
        runs.append(descend(search, Deadline(), search.root_bound(), inst.weight_unit))
    assert runs[0].proven and runs[0] == runs[1]
