"""The memory seam: a memory model is one module plus registry declarations.

:class:`ResidentMemory` is a memory model written for these tests only: every block that is
loaded stays resident (a GPU with room for everything), so each block is loaded at most once
over the whole schedule. Registered under ``"resident"``, it is accepted by the evaluator,
``enumerate``, ``greedy``, ``edf`` and ``fifo`` without a line changed elsewhere, and the methods
written on a load matrix refuse it. Its schedules are checked against an evaluation written here
from the definitions, and ``enumerate``'s optimum against a brute force over every order.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Hashable, Sequence
from typing import ClassVar

import numpy as np
import pytest
from hypothesis import given, settings

from partialloading import solve
from partialloading.arrays import FloatArray, IntArray
from partialloading.errors import MethodNotApplicableError
from partialloading.instance import Instance
from partialloading.memory import MEMORY_MODELS, MemoryPlan, SingleModelMemory, memory_of, register
from partialloading.result import Status
from partialloading.timing import timeline

from strategies import generated_instances


@dataclasses.dataclass(frozen=True, eq=False)
class ResidentMemory:
    """Every loaded block stays resident: a request loads the blocks of its model never loaded
    before (the initial model's blocks are resident from the start)."""

    blocks_of: tuple[frozenset[int], ...]
    block_seconds: FloatArray
    initial: frozenset[int]
    first: FloatArray
    matrix: FloatArray
    load_speed: float
    model_sizes: FloatArray

    name: ClassVar[str] = "resident"
    summary: ClassVar[str] = "every loaded block stays resident"
    structure: ClassVar[frozenset[str]] = frozenset()
    needs: ClassVar[tuple[str, ...]] = ()
    implied_by: ClassVar[str | None] = None
    evictions_in_files: ClassVar[bool] = False

    @classmethod
    def of(cls, instance: Instance) -> ResidentMemory:
        single = SingleModelMemory.of(instance)  # its matrix is the heuristics' estimate
        return cls(
            blocks_of=single.blocks_of,
            block_seconds=instance.block_sizes / float(instance.load_speed_bytes_per_s),
            initial=single.initial,
            first=single.first,
            matrix=single.matrix,
            load_speed=float(instance.load_speed_bytes_per_s),
            model_sizes=instance.model_sizes,
        )

    def start(self) -> Hashable:
        return self.initial

    def choices(
        self, state: Hashable, model: int, later: frozenset[int] | None = None
    ) -> list[tuple[float, Hashable, tuple[int, ...]]]:
        resident: frozenset[int] = state  # type: ignore[assignment]
        missing = self.blocks_of[model] - resident
        return [(float(sum(self.block_seconds[j] for j in sorted(missing))), resident | missing, ())]

    def plan(self, models: IntArray, evicted: Sequence[Sequence[int] | None] | None = None) -> MemoryPlan:
        if evicted is not None and any(gone for gone in evicted if gone is not None):
            raise ValueError("this memory never evicts")
        state: Hashable = self.start()
        load, resident = np.empty(models.size), np.empty(models.size)
        for q, m in enumerate(models.tolist()):
            load[q], state, _ = self.choices(state, m)[0]
            resident[q] = sum(self.block_seconds[j] for j in state) * self.load_speed  # type: ignore[attr-defined]
        return MemoryPlan(load, ((),) * models.size, resident)


register(ResidentMemory)


def resident(instance: Instance) -> Instance:
    return dataclasses.replace(instance, memory="resident")


def reference_finish(instance: Instance, order: list[int]) -> np.ndarray:
    """Frame completion times under the resident memory, from the definitions alone."""
    i0 = instance.initial_model_index
    resident_blocks = set() if i0 is None else set(instance.models[i0].blocks)
    sizes = {b.id: b.size_bytes for b in instance.blocks}
    tau = sum(instance.users[k].upload_work for k in order) / instance.bandwidth_hz
    t, out = tau, []
    for k in order:
        model = instance.models[instance.model_index[instance.users[k].model]]
        missing = [b for b in model.blocks if b not in resident_blocks]
        resident_blocks.update(missing)
        t += sum(sizes[b] for b in missing) / instance.load_speed_bytes_per_s + model.infer_time_s
        out.append(t)
    return np.asarray(out)


def on_time(instance: Instance, order: list[int]) -> bool:
    finish = reference_finish(instance, order)
    return bool(np.all(finish <= instance.deadlines[order] * (1 + 1e-9)))


def brute_force(instance: Instance) -> float:
    best = 0.0
    users = range(instance.num_users)
    for size in range(instance.num_users, 0, -1):
        for subset in itertools.combinations(users, size):
            weight = float(instance.weights[list(subset)].sum())
            if weight <= best:
                continue
            if any(on_time(instance, list(p)) for p in itertools.permutations(subset)):
                best = weight
    return best


def test_the_registry_knows_the_test_memory(tiny: Instance) -> None:
    assert MEMORY_MODELS["resident"] is ResidentMemory
    assert isinstance(memory_of(resident(tiny)), ResidentMemory)


def test_each_block_is_loaded_at_most_once(tiny: Instance) -> None:
    # tiny: birds and cars share the 300 MB backbone, dogs has its own 100 MB model. Serving
    # birds, dogs, cars loads birds (320 MB), dogs (100 MB), then only the cars head (20 MB):
    # the single-model memory would reload the backbone for cars (320 MB).
    inst = resident(tiny)
    order = [inst.user_index[u] for u in ("u1", "u4", "u2")]
    tl = timeline(inst, order)
    np.testing.assert_allclose(tl.loaded_bytes, [320e6, 100e6, 20e6])
    np.testing.assert_allclose(tl.finish, reference_finish(inst, order))
    single = timeline(tiny, order)
    np.testing.assert_allclose(single.loaded_bytes, [320e6, 100e6, 320e6])


@pytest.mark.parametrize("method", ["enumerate", "greedy", "edf", "fifo"])
@settings(max_examples=25, deadline=None)
@given(generated_instances(min_users=3, max_users=6, max_models=3))
def test_methods_accept_the_test_memory(method: str, instance: Instance) -> None:
    inst = resident(instance)
    result = solve(inst, method)
    order = list(result.solution.order)
    assert on_time(inst, order)
    np.testing.assert_allclose(result.solution.timeline.finish, reference_finish(inst, order), rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(generated_instances(min_users=3, max_users=6, max_models=3))
def test_enumerate_is_exact_under_the_test_memory(instance: Instance) -> None:
    inst = resident(instance)
    exact = solve(inst, "enumerate")
    assert exact.status == Status.OPTIMAL
    assert exact.objective == pytest.approx(brute_force(inst))
    # Keeping every block never loads more than keeping one model: never a lower optimum.
    assert exact.objective >= solve(instance, "enumerate").objective - 1e-9
    greedy = solve(inst, "greedy")
    assert solve(inst, "edf").objective - 1e-9 <= greedy.objective <= exact.objective + 1e-9


@settings(max_examples=15, deadline=None)
@given(generated_instances(min_users=3, max_users=6, max_models=3))
def test_pipelined_timing_under_the_test_memory(instance: Instance) -> None:
    inst = dataclasses.replace(resident(instance), timing="pipelined")
    exact = solve(inst, "enumerate")
    greedy = solve(inst, "greedy")
    assert greedy.solution.feasible and exact.solution.feasible
    assert greedy.objective <= exact.objective + 1e-9
    # Every frame-feasible order is pipelined-feasible: never below the frame optimum.
    assert exact.objective >= solve(resident(instance), "enumerate").objective - 1e-9


@pytest.mark.parametrize("method", ["dp", "bnb", "cpsat", "milp"])
def test_methods_that_need_a_load_matrix_refuse(tiny: Instance, method: str) -> None:
    with pytest.raises(MethodNotApplicableError, match="'resident' memory model"):
        solve(resident(tiny), method)


def test_auto_chooses_among_the_methods_that_apply(tiny: Instance) -> None:
    result = solve(resident(tiny), "auto")
    assert result.method == "enumerate" and result.status == Status.OPTIMAL


@pytest.mark.parametrize(("memory", "written"), [(None, None), ("capacity", None), ("capacity-lru", "capacity-lru")])
def test_the_memory_round_trips_through_instance_files(memory: str | None, written: str | None) -> None:
    # Each memory declares the field that implies it (`memory_bytes` for the capacity memory):
    # a file names a memory only when it is not the implied one, so older files read as before.
    import dataclasses
    import json

    from partialloading.io import dumps_instance, loads_instance
    from partialloading.scenarios import random_instance

    base = random_instance(1, 6, 3, structure="general")
    room = None if memory is None else 2.0 * float(base.model_sizes.max())
    inst = dataclasses.replace(base, memory=memory, memory_bytes=room)
    text = dumps_instance(inst)
    assert json.loads(text)["server"].get("memory") == written
    again = loads_instance(text)
    assert again == inst or (memory == "capacity" and again.memory is None and again.memory_bytes == room)
    assert memory_of(again).name == (memory or "single")
