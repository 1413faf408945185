"""Data model: field checks, references, derived quantities."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
import pytest

from partialloading import instances
from partialloading.errors import FieldError, InstanceError
from partialloading.instance import Block, Instance, Model, User
from partialloading.memory import memory_of
from partialloading.solve import solve
from partialloading.timing import timing_of


def small(**changes: object) -> Instance:
    """Two models on one backbone ``bb`` plus a separate model ``solo``."""
    blocks = (Block("bb", 300.0), Block("h1", 20.0), Block("h2", 30.0), Block("solo", 100.0))
    models = (Model("m1", ("bb", "h1"), 0.5), Model("m2", ("bb", "h2"), 0.25), Model("s", ("solo",), 0.0))
    users = (
        User("a", "m1", data_bits=100.0, deadline_s=10.0, spectral_efficiency=4.0),
        User("b", "m2", data_bits=300.0, deadline_s=20.0, snr_db=30.0, weight=2),
        User("c", "s", data_bits=50.0, deadline_s=5.0, spectral_efficiency=1.0),
    )
    fields: dict[str, object] = dict(
        blocks=blocks, models=models, users=users, bandwidth_hz=100.0, load_speed_bytes_per_s=10.0
    )
    fields.update(changes)
    return Instance(**fields)  # type: ignore[arg-type]


def test_derived_quantities() -> None:
    inst = small()
    eta_b = math.log2(1 + 10**3)
    np.testing.assert_allclose(inst.upload_work, [25.0, 300.0 / eta_b, 50.0])
    np.testing.assert_allclose(inst.upload_times, inst.upload_work / 100.0)
    np.testing.assert_allclose(inst.model_sizes, [320.0, 330.0, 100.0])
    np.testing.assert_array_equal(inst.user_models, [0, 1, 2])
    np.testing.assert_array_equal(inst.deadlines, [10.0, 20.0, 5.0])
    np.testing.assert_array_equal(inst.weights, [1.0, 2.0, 1.0])
    np.testing.assert_array_equal(inst.infer_times, [0.5, 0.25, 0.0])
    assert inst.users[1].eta == pytest.approx(eta_b)
    assert inst.user_index["c"] == 2 and inst.model_index["s"] == 2 and inst.block_index["h2"] == 2


def test_load_matrices() -> None:
    inst = small()
    # ℓ(m1, m2) = size of h2 / v = 3; ℓ(m2, m1) = h1 / v = 2; to and from `s` the whole model.
    expected_sharing = np.array([[0.0, 3.0, 10.0], [2.0, 0.0, 10.0], [32.0, 33.0, 0.0]])
    expected_plain = np.array([[0.0, 33.0, 10.0], [32.0, 0.0, 10.0], [32.0, 33.0, 0.0]])
    np.testing.assert_allclose(memory_of(inst).matrix, expected_sharing)
    np.testing.assert_allclose(memory_of(inst.unshared()).matrix, expected_plain)
    np.testing.assert_allclose(memory_of(inst).first, [32.0, 33.0, 10.0])
    np.testing.assert_allclose(memory_of(inst.unshared()).first, [32.0, 33.0, 10.0])
    assert (
        memory_of(inst).choices(None, 1)[0][0] == 33.0
        and memory_of(inst).choices(0, 1)[0][0] == 3.0
        and memory_of(inst.unshared()).choices(0, 1)[0][0] == 33.0
    )


def test_initial_model() -> None:
    inst = small(initial_model="m1")
    assert inst.initial_model_index == 0
    np.testing.assert_allclose(memory_of(inst).first, [0.0, 3.0, 10.0])
    np.testing.assert_allclose(memory_of(inst.unshared()).first, [0.0, 33.0, 10.0])


def test_cached_arrays_are_read_only() -> None:
    inst = small()
    for array in (inst.upload_work, memory_of(inst).matrix, memory_of(inst.unshared()).matrix, inst.deadlines):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 1.0


def test_objects_are_immutable_and_compare_by_value() -> None:
    inst = small()
    with pytest.raises(dataclasses.FrozenInstanceError):
        inst.bandwidth_hz = 1.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        inst.users[0].deadline_s = 1.0  # type: ignore[misc]
    assert small() == inst
    assert dataclasses.replace(inst, bandwidth_hz=50.0) != inst
    assert isinstance(inst.models[0].blocks, tuple)
    assert Model("m", ["a", "b"], 0.0).blocks == ("a", "b")  # type: ignore[arg-type]


def test_tiny_instance_numbers() -> None:
    # The numbers the README entry of tiny.json relies on.
    tiny = instances.load("tiny")
    np.testing.assert_allclose(tiny.upload_times, [0.02] * 4)
    birds, cars, dogs = (tiny.model_index[m] for m in ("birds", "cars", "dogs"))
    assert memory_of(tiny).choices(None, birds)[0][0] == pytest.approx(0.32)
    assert memory_of(tiny).choices(birds, cars)[0][0] == pytest.approx(0.02)
    assert memory_of(tiny.unshared()).choices(birds, cars)[0][0] == pytest.approx(0.32)
    assert memory_of(tiny).choices(cars, dogs)[0][0] == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: Block("", 1.0), "id"),
        (lambda: Block("b", -1.0), "size_bytes"),
        (lambda: Block("b", float("nan")), "size_bytes"),
        (lambda: Block("b", True), "size_bytes"),
        (lambda: Model("m", (), 0.0), "blocks"),
        (lambda: Model("m", "bb", 0.0), "blocks"),  # type: ignore[arg-type]
        (lambda: Model("m", ("a", "a"), 0.0), "blocks[1]"),
        (lambda: Model("m", ("a",), -1.0), "infer_time_s"),
        (lambda: User("u", "m", 1.0, 1.0), "spectral_efficiency"),
        (lambda: User("u", "m", 1.0, 1.0, spectral_efficiency=1.0, snr_db=1.0), "spectral_efficiency"),
        (lambda: User("u", "m", 0.0, 1.0, spectral_efficiency=1.0), "data_bits"),
        (lambda: User("u", "m", 1.0, float("inf"), spectral_efficiency=1.0), "deadline_s"),
        (lambda: User("u", "m", 1.0, 1.0, spectral_efficiency=1.0, weight=-1), "weight"),
        (lambda: User("u", "m", 1.0, 1.0, snr_db=float("nan")), "snr_db"),
        (lambda: User("u", "m", 10**400, 1.0, spectral_efficiency=1.0), "data_bits"),
    ],
)
def test_field_errors(make: object, field: str) -> None:
    with pytest.raises(FieldError) as info:
        make()  # type: ignore[operator]
    assert info.value.field == field


def test_zero_sizes_and_times_are_allowed() -> None:
    assert Block("b", 0.0).size_bytes == 0.0
    assert Model("m", ("b",), 0.0).infer_time_s == 0.0
    # A very low SNR is fine as long as some data gets through.
    assert User("u", "m", 1.0, 1.0, snr_db=-30.0).eta > 0


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"bandwidth_hz": 0.0}, "uplink.bandwidth_hz"),
        ({"load_speed_bytes_per_s": float("nan")}, "server.load_speed_bytes_per_s"),
        ({"initial_model": "nope"}, "server.initial_model"),
        ({"name": 3}, "name"),
        ({"blocks": (Block("bb", 1.0), Block("bb", 2.0))}, "blocks[1].id"),
        ({"users": (User("a", "zz", 1.0, 1.0, spectral_efficiency=1.0),)}, "users[0].model"),
        ({"models": (Model("m1", ("bb", "nope"), 0.0),), "users": ()}, "models[0].blocks[1]"),
        ({"users": [1, 2]}, "users[0]"),
        ({"users": "abc"}, "users"),
    ],
)
def test_instance_errors(changes: dict[str, object], where: str) -> None:
    with pytest.raises(InstanceError) as info:
        small(**changes)
    assert info.value.where == where


@pytest.mark.parametrize(
    ("changes", "registry", "where"),
    [({"timing": "slotted"}, timing_of, "timing"), ({"memory": "tape"}, memory_of, "server.memory")],
)
def test_unknown_timing_or_memory_fails_in_the_registries(
    changes: dict[str, str], registry: Callable[[Instance], object], where: str
) -> None:
    # The data model only stores the names; the registries resolve them, and so every solve.
    inst = small(**changes)
    with pytest.raises(InstanceError) as info:
        registry(inst)
    assert info.value.where == where
    with pytest.raises(InstanceError) as info:
        solve(inst, "greedy")
    assert info.value.where == where


def test_instance_without_users() -> None:
    inst = small(users=())
    assert inst.num_users == 0
    assert inst.upload_work.shape == (0,)


@pytest.mark.parametrize(
    ("weights", "unit"),
    [
        ((1, 2, 3), 1.0),  # coprime integers
        ((2, 4, 6), 2.0),
        ((3, 3, 3), 3.0),
        ((1.5, 3, 2), 0.0),  # not all integers: no unit
        ((2**60, 2, 4), 0.0),  # beyond what a float holds exactly
    ],
)
def test_weight_unit(weights: tuple[float, float, float], unit: float) -> None:
    users = tuple(dataclasses.replace(u, weight=w) for u, w in zip(small().users, weights, strict=True))
    assert small(users=users).weight_unit == unit


def test_round_bound_keeps_whole_units_only() -> None:
    users = tuple(dataclasses.replace(u, weight=w) for u, w in zip(small().users, (2, 4, 6), strict=True))
    inst = small(users=users)
    assert inst.round_bound(7.9) == 6.0  # no schedule weighs 7: the bound is 6
    assert inst.round_bound(8.0 - 1e-9) == 8.0  # rounding of a solver's sum is not a lost unit
    assert inst.round_bound(math.inf) == math.inf
    weights = (1.5, 1, 1)
    fractional = small(
        users=tuple(dataclasses.replace(u, weight=w) for u, w in zip(small().users, weights, strict=True))
    )
    assert fractional.round_bound(2.7) == 2.7
