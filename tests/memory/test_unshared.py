"""No sharing as an instance transform: :meth:`Instance.unshared` and ``sharing=False`` agree."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from partialloading import solve
from partialloading.instance import Block, Instance, Model, User
from partialloading.memory import memory_of
from partialloading.methods import METHODS

from strategies import generated_instances


def test_private_copies(tiny: Instance) -> None:
    plain = tiny.unshared()
    # Every block now belongs to one model, and every change of model loads the whole model.
    assert plain.membership.sum(axis=0).max() == 1 and not plain.shares_blocks
    assert [m.id for m in plain.models] == [m.id for m in tiny.models]
    np.testing.assert_allclose(plain.model_sizes, tiny.model_sizes)
    whole = tiny.model_sizes / tiny.load_speed_bytes_per_s
    expected = np.tile(whole, (tiny.num_models, 1))
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(memory_of(plain).matrix, expected)
    assert plain.users == tiny.users and plain.initial_model == tiny.initial_model
    assert plain.unshared() is plain


def test_copy_names_stay_unique() -> None:
    # A block already called "a/x" must not collide with the copy of block "x" of model "a".
    blocks = (Block("x", 1.0), Block("a/x", 2.0))
    models = (Model("a", ("x",), 0.0), Model("b", ("x", "a/x"), 0.0))
    inst = Instance(blocks, models, (User("u", "a", 1.0, 1.0, 1.0),), 1.0, 1.0)
    ids = [b.id for b in inst.unshared().blocks]
    assert len(ids) == len(set(ids)) == 3


@pytest.mark.parametrize("method", [m for m in METHODS if m != "milp"])
@settings(max_examples=20, deadline=None)
@given(generated_instances(min_users=2, max_users=7, max_models=3))
def test_both_routes_give_identical_results(method: str, instance: Instance) -> None:
    if METHODS[method].why_not(instance.unshared()) is not None:
        return
    flag = solve(instance, method, sharing=False)
    transformed = solve(instance.unshared(), method)
    assert flag.solution.order == transformed.solution.order
    assert flag.objective == transformed.objective and flag.status == transformed.status
    np.testing.assert_allclose(flag.solution.timeline.finish, transformed.solution.timeline.finish, rtol=1e-12)


@settings(max_examples=5, deadline=None)
@given(generated_instances(min_users=2, max_users=5, max_models=3))
def test_both_routes_give_identical_milp_results(instance: Instance) -> None:
    flag = solve(instance, "milp", sharing=False)
    transformed = solve(instance.unshared(), "milp")
    assert flag.objective == pytest.approx(transformed.objective) and flag.status == transformed.status


@pytest.mark.slow
@pytest.mark.parametrize("method", ["enumerate", "greedy", "edf", "bnb"])
@settings(max_examples=300, deadline=None)
@given(generated_instances(min_users=2, max_users=9, max_models=4))
def test_both_routes_agree_on_many_instances(method: str, instance: Instance) -> None:
    """The same identity on 300 larger instances per method (opt-in: ``pytest -m slow``)."""
    if METHODS[method].why_not(instance.unshared()) is not None:
        return
    flag = solve(instance, method, sharing=False)
    transformed = solve(instance.unshared(), method)
    assert flag.solution.order == transformed.solution.order and flag.status == transformed.status
