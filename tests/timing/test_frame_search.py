"""The setup tree behind the branch-and-bound's knapsack bounds."""

from __future__ import annotations

import pytest

from partialloading.instance import Block, Instance, Model, User
from partialloading.timing.frame_search import SetupTree


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
    tree = SetupTree.of(instance(), sharing=True)
    # One laminar group, {A, B} (the backbone); {B, C} crosses it.
    assert tree.group_parent == (-1,)
    assert tree.model_parent == (0, 0, -1)
    assert tree.group_cost[0] == pytest.approx((0.1,))
    # Nothing in memory: A its head, B its head and half of x, C its head and half of x.
    assert tree.private[0] == pytest.approx((0.01, 0.035, 0.035))


def test_blocks_in_memory_cost_nothing() -> None:
    tree = SetupTree.of(instance(initial="B"), sharing=True)
    assert tree.group_cost[0] == pytest.approx((0.0,))  # B holds the backbone
    assert tree.private[0] == pytest.approx((0.01, 0.0, 0.01))  # and x
    # After serving C (row 3): the backbone and A's and B's heads are missing; x is held.
    assert tree.group_cost[3] == pytest.approx((0.1,))
    assert tree.private[3] == pytest.approx((0.01, 0.01, 0.0))


def test_without_sharing_every_model_is_loaded_whole() -> None:
    tree = SetupTree.of(instance(initial="A"), sharing=False)
    assert tree.group_parent == () and tree.model_parent == (-1, -1, -1)
    assert tree.private[0] == pytest.approx((0.0, 0.16, 0.06))
    assert tree.private[2] == pytest.approx((0.11, 0.0, 0.06))  # after B
