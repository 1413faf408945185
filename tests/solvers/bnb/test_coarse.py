"""The coarse instance of the branch-and-bound: its optimum bounds the instance's, and the search
takes it as a ceiling."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import partialloading as pl
from partialloading.instance import Block, Instance, Model, User
from partialloading.scenarios import generate, with_own_times
from partialloading.solvers.bnb.coarse import coarse
from partialloading.timing import FrameSchedule
from partialloading.validation.verify import verify_solution


def backbone(seed: int, users: int, own: bool = False) -> Instance:
    inst = generate("backbone", seed, n_users=users, deadlines="per_user", n_models=6)
    weights = np.random.default_rng(seed).integers(1, 4, users)
    inst = dataclasses.replace(
        inst, users=tuple(dataclasses.replace(u, weight=int(w)) for u, w in zip(inst.users, weights, strict=True))
    )
    return with_own_times(inst, seed) if own else inst


@pytest.mark.parametrize("own", [False, True], ids=["model-times", "own-times"])
@pytest.mark.parametrize("seed", range(7))  # (seed 7's seven users request too few models to coarsen)
def test_the_coarse_optimum_is_never_below_the_instance_optimum(seed: int, own: bool) -> None:
    # Every coarse load is checked no longer than the real one, so every order that serves a
    # set on time serves it on time in the coarse instance: its optimum is at least as heavy.
    inst = backbone(seed, 7, own)
    rough = coarse(inst)
    assert rough is not None and len(rough.models) < len({int(j) for j in inst.user_models})
    optimum = pl.solve(inst, "enumerate").objective
    assert pl.solve(rough, "enumerate").objective >= optimum - 1e-9
    # The instance's optimal order is feasible in the coarse instance as it is.
    order = pl.solve(inst, "enumerate").solution.order
    assert FrameSchedule.build(rough).feasible(list(order))


@pytest.mark.parametrize("seed", range(4))
def test_the_search_with_the_ceiling_proves_the_enumerated_optimum(seed: int) -> None:
    inst = backbone(seed, 8, own=seed % 2 == 1)
    optimum = pl.solve(inst, "enumerate").objective
    result = pl.solve(inst, "bnb", initial=[])
    assert verify_solution(inst, result.to_dict()).ok
    assert result.status == pl.Status.OPTIMAL and result.objective == pytest.approx(optimum)
    coarse_bound = result.info["certificate"]["coarse_bound"]
    assert coarse_bound is not None and coarse_bound >= optimum - 1e-9


def test_no_coarse_instance_where_a_coarse_load_would_be_longer() -> None:
    # A (blocks x: 10 MB, h) and B (x, k) share their largest block x; C is y (20 MB) alone,
    # and D holds y and x (its largest y). Groups {A, B}, {C, D}: coarse {x}, {y}. After D the
    # real load of A is h alone (D holds x), the coarse load after {y} is x: longer. No ceiling.
    blocks = (Block("x", 1e7), Block("h", 1e5), Block("k", 1e5), Block("y", 2e7))
    models = (
        Model("A", ("x", "h"), 0.01),
        Model("B", ("x", "k"), 0.01),
        Model("C", ("y",), 0.01),
        Model("D", ("y", "x"), 0.01),
    )
    users = tuple(User(f"u{i}", m, 1e3, 1.0, spectral_efficiency=1.0) for i, m in enumerate("ABCD"))
    inst = Instance(blocks, models, users, bandwidth_hz=1e7, load_speed_bytes_per_s=1e9, name="holds")
    assert coarse(inst) is None
    # Without D the check passes: two groups for three models would not be coarse enough
    # (more than half), four models on two backbones are.
    two = Instance(blocks, (*models[:2], Model("C", ("y",), 0.01), Model("E", ("y", "k"), 0.01)),
                   tuple(User(f"u{i}", m, 1e3, 1.0, spectral_efficiency=1.0) for i, m in enumerate("ABCE")),
                   bandwidth_hz=1e7, load_speed_bytes_per_s=1e9, name="two")  # fmt: skip
    rough = coarse(two)
    assert rough is not None and [m.blocks for m in rough.models] == [("x",), ("y",)]
