"""The setup tree behind the branch-and-bound's knapsack bounds."""

from __future__ import annotations

import numpy as np
import pytest

from partialloading.instance import Block, Instance, Model, User
from partialloading.solvers.bnb.bounds import SetupTree
from partialloading.solvers.bnb.knapsack import fractional, key, upload_knapsack


def instance(initial: str | None = None) -> Instance:
    # Backbone "bb" (100 MB) under A and B, head blocks of 10 MB each, and a block "x" (50 MB)
    # held by B and C: it crosses {A, B}, so it is split between B and C. Loaded at 1 GB/s.
    blocks = (Block("bb", 1e8), Block("ha", 1e7), Block("hb", 1e7), Block("hc", 1e7), Block("x", 5e7))
    models = (
        Model("A", ("bb", "ha"), 0.01),
        Model("B", ("bb", "hb", "x"), 0.01),
        Model("C", ("hc", "x"), 0.01),
    )
    users = (User("u", "A", 1000.0, 1.0, spectral_efficiency=1.0),)
    return Instance(blocks, models, users, 1e7, 1e9, initial_model=initial, name="tree")


def test_backbone_is_a_group_and_a_crossing_block_is_shared() -> None:
    tree = SetupTree.of(instance())
    # One laminar group, {A, B} (the backbone); {B, C} crosses it.
    assert tree.group_parent == (-1,)
    assert tree.model_parent == (0, 0, -1)
    assert tree.group_cost[0] == pytest.approx((0.1,))
    # Nothing in memory: A its head, B its head and half of x, C its head and half of x.
    assert tree.private[0] == pytest.approx((0.01, 0.035, 0.035))


def test_blocks_in_memory_cost_nothing() -> None:
    tree = SetupTree.of(instance(initial="B"))
    assert tree.group_cost[0] == pytest.approx((0.0,))  # B holds the backbone
    assert tree.private[0] == pytest.approx((0.01, 0.0, 0.01))  # and x
    # After serving C (row 3): the backbone and A's and B's heads are missing; x is held.
    assert tree.group_cost[3] == pytest.approx((0.1,))
    assert tree.private[3] == pytest.approx((0.01, 0.01, 0.0))


def test_without_sharing_every_model_is_loaded_whole() -> None:
    tree = SetupTree.of(instance(initial="A").unshared())
    assert tree.group_parent == () and tree.model_parent == (-1, -1, -1)
    assert tree.private[0] == pytest.approx((0.0, 0.16, 0.06))
    assert tree.private[2] == pytest.approx((0.11, 0.0, 0.06))  # after B


def _zero_one_optimum(items: list[tuple[float, float]], capacity: float) -> float:
    best = 0.0
    for mask in range(1 << len(items)):
        chosen = [items[i] for i in range(len(items)) if mask >> i & 1]
        if sum(s for _, s in chosen) <= capacity:
            best = max(best, sum(w for w, _ in chosen))
    return best


def knapsack_case(seed: int) -> tuple[list[float], list[float], float, list[int]]:
    """Weights, uploads (some free), a capacity and the users best weight per upload first."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 9))
    weight = [float(w) for w in rng.integers(1, 6, n)]
    upload = [float(u) if u > 0.15 else 0.0 for u in rng.random(n)]
    capacity = float(rng.random() * sum(upload))
    return weight, upload, capacity, sorted(range(n), key=lambda k: (key(weight[k], upload[k]), k))


@pytest.mark.parametrize("seed", range(40))
def test_upload_knapsack_lies_between_the_optimum_and_the_fractional_bound(seed: int) -> None:
    weight, upload, capacity, ranked = knapsack_case(seed)
    n = len(weight)
    bound = upload_knapsack(ranked, weight, upload, capacity)
    optimum = _zero_one_optimum(list(zip(weight, upload, strict=True)), capacity)
    dantzig = fractional([(key(weight[k], upload[k]), weight[k], upload[k]) for k in range(n)], capacity)
    assert optimum - 1e-9 <= bound <= dantzig + 1e-9


def test_upload_knapsack_example() -> None:
    # Uploads 5, 4, 3 s with weights 10, 6, 1 in 8 s (best weight per second first). The
    # fractional bound takes the first and 3/4 of the second: 10 + 4.5 = 14.5. Martello–Toth:
    # the second is out (10 + 3 s at the third's 1/3 per second = 11) or in at the cost of 1 s
    # of the first (10 + 6 − 2 = 14): 14. The optimum is 11 (the first and the third).
    weight, upload = [10.0, 6.0, 1.0], [5.0, 4.0, 3.0]
    assert upload_knapsack([0, 1, 2], weight, upload, 8.0) == pytest.approx(14.0)
    items = [(key(w, u), w, u) for w, u in zip(weight, upload, strict=True)]
    assert fractional(items, 8.0) == pytest.approx(14.5)
    assert _zero_one_optimum(list(zip(weight, upload, strict=True)), 8.0) == 11.0


@pytest.mark.parametrize("seed", range(20))
def test_the_compiled_uploads_bound_equals_the_python_one(seed: int) -> None:
    # The layered search's compiled twin of upload_knapsack, given the users in any order.
    from partialloading.solvers.bnb.label_kernels import upload_bound

    weight, upload, capacity, ranked = knapsack_case(seed)
    place = np.empty(len(weight), dtype=np.int64)
    place[ranked] = np.arange(len(weight))
    kids = np.random.default_rng(seed).permutation(len(weight)).astype(np.int64)
    compiled = upload_bound(kids, len(weight), place, np.array(weight), np.array(upload), capacity)
    assert compiled == upload_knapsack(ranked, weight, upload, capacity)
