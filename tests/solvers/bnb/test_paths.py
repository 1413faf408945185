"""The Lagrangian path relaxation of the branch-and-bound: a bound for any multipliers, at any node."""

from __future__ import annotations

import dataclasses
import itertools
import math
import random
from collections.abc import Callable

import numpy as np
import pytest

import partialloading as pl
from partialloading.instance import Instance
from partialloading.scenarios import generate, with_own_times
from partialloading.solvers.bnb.bounds import SetupTree
from partialloading.solvers.bnb.paths import PathRelaxation, grouped, groups_of
from partialloading.solvers.bnb.search import BranchAndBound, Node
from partialloading.stop import Deadline
from partialloading.timing import FrameSchedule, servable_alone


def weighted(family: str, seed: int, users: int) -> Instance:
    inst = generate(family, seed, n_users=users, deadlines="per_user")
    weights = np.random.default_rng(seed).integers(1, 4, users)
    return dataclasses.replace(
        inst, users=tuple(dataclasses.replace(u, weight=int(w)) for u, w in zip(inst.users, weights, strict=True))
    )


def best_continuation(p: FrameSchedule, prefix: list[int], pending: list[int]) -> float:
    """The heaviest set of ``pending`` users that some order serves on time after ``prefix``."""
    best = 0.0
    for size in range(len(pending) + 1):
        for chosen in itertools.combinations(pending, size):
            gain = float(p.weight[list(chosen)].sum())
            if gain <= best:
                continue
            for order in itertools.permutations(chosen):
                full = np.array(prefix + list(order), dtype=np.int64)
                if full.size == 0 or np.all(p.finish(full) <= p.limit[full]):
                    best = gain
                    break
    return best


def walk_random_nodes(
    p: FrameSchedule, search: BranchAndBound, relaxation: PathRelaxation, seed: int, after: Callable[[Node], int]
) -> None:
    """For six random multiplier vectors, walk random nodes from the root to a leaf and check
    that ``G_λ(t, after(node)) + Σ_{kids} λ_k`` bounds every continuation of each node."""
    rng = random.Random(seed)
    checked = 0
    for _ in range(6):
        table = relaxation.table(np.array([rng.uniform(0, 4) * rng.randint(0, 1) for _ in relaxation.weight]))
        node: Node = (tuple(0 for _ in range(search.num_models)), None, 0.0, math.inf, 0.0)
        prefix: list[int] = []
        while True:
            kids = search.children(node)
            state = None if node[1] is None else after(node)
            bound = table.gain(state, node[2]) + sum(table.multipliers[kid[3]] for kid in kids)
            assert bound >= best_continuation(p, prefix, [kid[3] for kid in kids]) - 1e-9
            checked += 1
            if not kids:
                break
            kid = rng.choice(kids)
            node = search.child(node, kid)
            prefix.append(kid[3])
    assert checked >= 12


CASES = [(family, seed) for family in ("general", "backbone", "zoo-mixed") for seed in range(4)]


@pytest.mark.parametrize(("family", "seed"), CASES)
def test_any_multipliers_bound_every_node(family: str, seed: int) -> None:
    # G_λ(t, last) + Σ_{undecided} λ_k bounds what a node can add, for every λ ≥ 0: checked
    # against every continuation of random nodes of 6-user instances, for random multipliers.
    inst = weighted(family, seed, 6)
    p = FrameSchedule.build(inst, tolerance_share=1.0)
    search = BranchAndBound(p, SetupTree.of(inst), servable_alone(inst).tolist(), [], compiled=True)
    relaxation = search.path_relaxation()
    assert relaxation is not None
    # Below a node the path continues after its last user (the one before its model's pointer).
    walk_random_nodes(p, search, relaxation, seed, lambda node: search.rows[node[1]][node[0][node[1]] - 1][0])


@pytest.mark.parametrize("own", [False, True], ids=["model-times", "own-times"])
@pytest.mark.parametrize(("family", "seed"), [("backbone", s) for s in range(6)] + [("zoo-heads", 0), ("zoo-heads", 2)])
def test_any_multipliers_of_the_grouped_relaxation_bound_every_node(family: str, seed: int, own: bool) -> None:
    # The grouped relaxation (models sharing their largest block merged, nothing loaded within a
    # group): G_λ from the group's entry + Σ_{undecided} λ_k bounds what a node can add, for
    # random λ ≥ 0 at random nodes of 6-user instances, with the models' times and each user's own.
    inst = weighted(family, seed, 6)
    if own:
        inst = with_own_times(inst, seed)
    p = FrameSchedule.build(inst, tolerance_share=1.0)
    alone = servable_alone(inst).tolist()
    search = BranchAndBound(p, SetupTree.of(inst), alone, [], compiled=True, groups=groups_of(inst))
    relaxation = search.group_relaxation()
    assert relaxation is not None  # the family's heads share a backbone
    # Below a node the path starts from the entry of its last model's group.
    walk_random_nodes(p, search, relaxation, seed, lambda node: search.group_entry[node[1]])


def test_the_grouped_loads_are_lower_bounds_with_the_triangle_inequality() -> None:
    inst = weighted("backbone", 0, 20)
    p = FrameSchedule.build(inst, tolerance_share=1.0)
    group = groups_of(inst)
    assert len(set(group)) < len(group)  # heads on one backbone share a group
    models = list(range(len(group)))
    step, first = grouped(p.loads, p.first, group, models)
    for a, b in itertools.product(models, models):
        assert step[group[a], group[b]] <= p.loads[a, b] + 1e-12
        if group[a] == group[b]:
            assert step[group[a], group[b]] == 0
    for a in models:
        assert first[group[a]] <= p.first[a] + 1e-12
    count = len(step)
    for g, h, k in itertools.product(range(count), repeat=3):
        assert step[g, k] <= step[g, h] + step[h, k] + 1e-12
        assert first[k] <= first[h] + step[h, k] + 1e-12


def test_the_grouped_relaxation_tightens_the_root_on_backbones() -> None:
    # A path over models alternates between two heads of one backbone almost for free and
    # serves the same valuable users again and again; over groups it cannot (consecutive users
    # of a group keep its deadline order) and pays a backbone for every return.
    inst = weighted("backbone", 0, 40)
    p = FrameSchedule.build(inst, tolerance_share=1.0)
    alone = servable_alone(inst).tolist()
    search = BranchAndBound(p, SetupTree.of(inst), alone, [], compiled=True, groups=groups_of(inst))
    search.relax_paths(Deadline())
    assert search.paths is not None and search.group_paths is not None
    assert search.group_paths.root < search.paths.root - 1


@pytest.mark.parametrize("seed", range(4))
def test_both_path_bounds_stay_above_the_optimum_on_backbones(seed: int) -> None:
    inst = weighted("backbone", seed, 7)
    optimum = pl.solve(inst, "enumerate").objective
    p = FrameSchedule.build(inst, tolerance_share=1.0)
    alone = servable_alone(inst).tolist()
    search = BranchAndBound(p, SetupTree.of(inst), alone, [], compiled=True, groups=groups_of(inst))
    search.relax_paths(Deadline())
    assert search.paths is not None and search.group_paths is not None
    assert search.group_paths.root >= optimum - 1e-9 and search.paths.root >= optimum - 1e-9
    assert pl.solve(inst, "bnb", initial=[]).objective == optimum


@pytest.mark.parametrize(("family", "seed"), CASES[::2])
def test_the_tuned_root_bound_is_never_below_the_optimum_and_beats_the_start(family: str, seed: int) -> None:
    inst = weighted(family, seed, 7)
    optimum = pl.solve(inst, "enumerate").objective
    p = FrameSchedule.build(inst, tolerance_share=1.0)
    search = BranchAndBound(p, SetupTree.of(inst), servable_alone(inst).tolist(), [], compiled=True)
    relaxation = search.path_relaxation()
    assert relaxation is not None
    start = relaxation.table(np.where(relaxation.served, relaxation.weight / 2, 0.0))
    tuned = relaxation.tune(optimum, Deadline())
    assert start.root >= tuned.root >= optimum - 1e-9


def test_the_relaxation_sees_a_reload_the_level_bound_misses() -> None:
    # Two models A and B of 0.1 s to load (nothing shared), 0.01 s per inference. A's users have
    # deadlines 0.12 and 0.30 s, B's 0.225 s. The 0.12 s user must come first (0.11 s); then A
    # again and B (0.12, 0.23: B late) or B and A again (0.22, 0.33: A late): at most 2. Loading
    # each model once, as the level bound does, all three would fit (0.2 + 0.03 s by 0.30 s, the
    # two earlier deadlines' 0.22 s by 0.225 s); the paths see that A must be loaded twice.
    blocks = (pl.Block("a", 1e8), pl.Block("b", 1e8))
    models = (pl.Model("A", ("a",), 0.01), pl.Model("B", ("b",), 0.01))
    wanted = (("A", 0.12), ("B", 0.225), ("A", 0.30))
    users = tuple(pl.User(f"u{i}", m, 1.0, d, spectral_efficiency=1e9) for i, (m, d) in enumerate(wanted))
    inst = pl.Instance(blocks, models, users, bandwidth_hz=1e7, load_speed_bytes_per_s=1e9, name="reload")
    assert pl.solve(inst, "enumerate").objective == 2
    p = FrameSchedule.build(inst, tolerance_share=1.0)
    search = BranchAndBound(p, SetupTree.of(inst), servable_alone(inst).tolist(), [], compiled=True)
    root: Node = ((0, 0), None, 0.0, math.inf, 0.0)
    level = search.relaxation(root, search.children(root))
    assert level >= 3  # blind to the reload
    search.relax_paths(Deadline())
    assert search.paths is not None and search.paths.root < 3
    assert search.relaxation(root, search.children(root)) < 3
    assert pl.solve(inst, "bnb", initial=[]).objective == 2
