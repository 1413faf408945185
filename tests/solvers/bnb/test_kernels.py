"""The compiled level bound computes what the Python one does, node for node."""

from __future__ import annotations

import random

import pytest

import partialloading as pl
from partialloading.scenarios import generate
from partialloading.solvers.bnb.bounds import LevelRelaxation, SetupTree
from partialloading.solvers.bnb.search import BranchAndBound
from partialloading.solvers.edf import edf_schedule
from partialloading.timing import FrameSchedule, servable_alone


@pytest.mark.parametrize(("family", "seed"), [(f, s) for f in ("general", "backbone", "zoo-mixed") for s in range(3)])
def test_the_compiled_bound_equals_the_python_bound(family: str, seed: int) -> None:
    inst = generate(family, seed, n_users=25, deadlines="per_user")
    p = FrameSchedule.build(inst, tolerance_share=1.0)
    search = BranchAndBound(p, SetupTree.of(inst), servable_alone(inst).tolist(), edf_schedule(inst), compiled=True)
    rng = random.Random(seed)
    compared = 0
    for _ in range(60):
        # A node: a subset of the candidates, a model in memory, an elapsed time, a pruning level.
        ranked = [k for k in search.by_time if rng.random() < 0.6]
        if not ranked:
            continue
        last = rng.choice([None, *range(inst.num_models)])
        t, enough = rng.uniform(0.0, 0.3), rng.choice([-1.0, rng.uniform(0.0, 10.0)])
        compiled = search.levels.bound(ranked, last, t, enough)
        assert compiled == search.levels.reference_bound(ranked, last, t, enough)
        compared += 1
    assert compared > 40


def test_the_method_runs_the_compiled_bound_and_finds_what_the_python_one_finds(monkeypatch) -> None:
    # The depth-first search (without the path bound) asks LevelRelaxation.bound at every node.
    inst = generate("general", 4, n_users=18, deadlines="per_user")
    calls = {"compiled": 0}
    compiled = LevelRelaxation.bound

    def counting(self, *args):  # type: ignore[no-untyped-def]
        calls["compiled"] += 1
        return compiled(self, *args)

    monkeypatch.setattr(LevelRelaxation, "bound", counting)
    fast = pl.solve(inst, "bnb", initial=[], path_bound=False)
    assert calls["compiled"] > 0
    monkeypatch.setattr(LevelRelaxation, "bound", LevelRelaxation.reference_bound)
    slow = pl.solve(inst, "bnb", initial=[], path_bound=False)
    assert (fast.objective, fast.bound, fast.info["nodes"]) == (slow.objective, slow.bound, slow.info["nodes"])


def test_without_numba_the_method_runs_the_python_bound(monkeypatch) -> None:
    # Without the `fast` extra nothing is compiled and nothing fails: the same answer, in Python.
    from partialloading.solvers.bnb import backend, bounds

    inst = generate("backbone", 2, n_users=16, deadlines="per_user")
    with_numba = pl.solve(inst, "bnb", initial=[])
    monkeypatch.setattr(bounds, "compiled_available", lambda: False)

    def never(self, *args):  # type: ignore[no-untyped-def]
        raise AssertionError("the compiled bound ran")

    monkeypatch.setattr(LevelRelaxation, "bound", never)
    backend.warm_compiled()
    without = pl.solve(inst, "bnb", initial=[])
    # With numba the labels are expanded layer by layer, without it depth first: other nodes,
    # the same proven optimum.
    assert with_numba.info["certificate"]["search"] == "layered"
    assert without.info["certificate"]["search"] == "depth-first"
    assert without.status is with_numba.status is pl.Status.OPTIMAL
    assert (without.objective, without.bound) == (with_numba.objective, with_numba.bound)
