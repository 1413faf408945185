"""Batches on the timing seam: a schedule step serves a batch of one model (SPEC-free summary in
``docs/batching.md``); both timing models and every memory evaluate steps."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from partialloading.components import MAX_BATCH, Model
from partialloading.errors import FieldError, InstanceError
from partialloading.io import dumps_instance, loads_instance
from partialloading.solution import Solution
from partialloading.timing import timeline

from hand import MS, batch_hand_instance


@pytest.mark.parametrize("timing", ["frame", "pipelined"])
def test_a_batch_shares_one_load_and_one_inference(timing: str) -> None:
    inst = batch_hand_instance(timing)
    tl = timeline(inst, [0, 1, 2], batch=[0, 0, 0])
    # Uploads take 1e-7 s: the batch starts (frame) or infers (pipelined) right after its load.
    assert tl.finish == pytest.approx([34 * MS] * 3, abs=1e-6)
    assert tl.load == pytest.approx([20 * MS] * 3)
    assert tl.loaded_bytes.tolist() == [20e6, 0.0, 0.0]  # counted once, on the batch's first request
    assert tl.batch.tolist() == [0, 0, 0]
    assert tl.feasible
    one_by_one = timeline(inst, [0, 1, 2])
    assert one_by_one.finish == pytest.approx([30 * MS, 40 * MS, 50 * MS], abs=1e-6)


def test_batch_numbers_of_singletons_are_the_unbatched_schedule() -> None:
    inst = batch_hand_instance()
    plain = timeline(inst, [0, 3, 1])
    numbered = timeline(inst, [0, 3, 1], batch=[0, 1, 2])
    for field in ("finish", "start", "load", "infer_start", "bandwidth", "loaded_bytes"):
        assert np.array_equal(getattr(plain, field), getattr(numbered, field)), field
    assert Solution(inst, (0, 3, 1), batch=(0, 1, 2)).batch is None  # one form per schedule


@pytest.mark.parametrize(
    ("order", "batch", "problem"),
    [
        ([0, 1], [1, 1], "start at 0"),
        ([0, 1, 2], [0, 2, 2], "grow by 0 or 1"),
        ([0, 3], [0, 0], "mixes models"),
        ([0, 1], [0], "one batch number per request"),
    ],
)
def test_batch_numbers_that_form_no_batches_are_refused(order: list[int], batch: list[int], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        timeline(batch_hand_instance(), order, batch=batch)


def test_a_batch_larger_than_its_table_is_refused() -> None:
    inst = batch_hand_instance()
    small = dataclasses.replace(inst.models[0], batch_infer_time_s=(10 * MS, 12 * MS))
    inst = dataclasses.replace(inst, models=(small, inst.models[1]))
    with pytest.raises(ValueError, match="holds 3 requests"):
        timeline(inst, [0, 1, 2], batch=[0, 0, 0])


def test_the_longest_member_paces_the_batch() -> None:
    """Per-request times: ``t = t(b) · max c_k / c_i`` (the longest output sets the pace)."""
    inst = batch_hand_instance()
    users = list(inst.users)
    users[1] = dataclasses.replace(users[1], infer_time_s=20 * MS)
    inst = dataclasses.replace(inst, users=tuple(users))
    tl = timeline(inst, [0, 1], batch=[0, 0])
    assert tl.finish == pytest.approx([20 * MS + 12 * MS * 2.0] * 2, abs=1e-6)


def test_pipelined_batch_waits_for_its_last_upload() -> None:
    """Every member's upload ends at the same fraction of its batch's latest start (b ∝ a/L)."""
    inst = dataclasses.replace(batch_hand_instance("pipelined"), bandwidth_hz=20.0)
    users = tuple(dataclasses.replace(u, data_bits=100.0) for u in inst.users)
    inst = dataclasses.replace(inst, users=users)
    tl = timeline(inst, [0, 1, 2], batch=[0, 0, 0])
    # Three uploads of 100 bit over 20 Hz in all: 15 s; equal shares end together.
    assert tl.upload_ends == pytest.approx([15.0] * 3)
    assert tl.infer_start == pytest.approx([15.0] * 3)
    assert tl.finish == pytest.approx([15.0 + 14 * MS] * 3)


def test_capacity_memory_plans_one_load_per_batch() -> None:
    inst = dataclasses.replace(batch_hand_instance(), memory_bytes=30e6)
    tl = timeline(inst, [0, 1, 2, 3], batch=[0, 0, 0, 1])
    assert tl.loaded_bytes.tolist() == [20e6, 0.0, 0.0, 5e6]
    assert tl.evicted == ((), (), (), ())
    with pytest.raises(ValueError, match="middle of its batch"):
        timeline(inst, [0, 1, 3], batch=[0, 0, 1], evicted=[(), (0,), ()])


@pytest.mark.parametrize(
    ("table", "field", "problem"),
    [
        ([], "batch_infer_time_s", "1 to"),
        ("fast", "batch_infer_time_s", "list"),
        ([0.01, 0.009], "batch_infer_time_s[1]", "faster"),
        ([0.02, 0.03], "batch_infer_time_s[0]", "equal infer_time_s"),
        ([0.01, -1.0], "batch_infer_time_s[1]", "positive"),
        ([0.01, float("nan")], "batch_infer_time_s[1]", "finite"),
        ([0.01] * (MAX_BATCH + 1), "batch_infer_time_s", "1 to 4096"),
    ],
)
def test_bad_batch_tables_name_their_field(table: object, field: str, problem: str) -> None:
    with pytest.raises(FieldError, match=problem) as caught:
        Model("m", ("b",), 0.01, table)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_batch_tables_round_trip_through_instance_files() -> None:
    inst = batch_hand_instance()
    text = dumps_instance(inst)
    assert '"batch_infer_time_s"' in text
    again = loads_instance(text)
    assert again == inst and again.batching
    # A model without a table writes no key: files without batching read and write as before.
    assert text.count("batch_infer_time_s") == 1


def test_a_bad_table_in_a_file_names_the_place() -> None:
    text = dumps_instance(batch_hand_instance()).replace("0.012", "0.002")
    with pytest.raises(InstanceError, match=r"inst.json: models\[0\]\.batch_infer_time_s\[1\]"):
        loads_instance(text, source="inst.json")


@pytest.mark.parametrize("seed", range(60))
def test_the_frame_batch_tail_appends_as_the_whole_evaluations_do(seed: int) -> None:
    # BatchTail (O(1) per user) and BatchAppender (each test a whole evaluation) take the same
    # users, the same way, in random and in model-grouped arrival orders.
    from partialloading.scenarios import random_batched_instance
    from partialloading.timing import schedule
    from partialloading.timing.arithmetic import BatchAppender
    from partialloading.timing.frame import BatchTail

    inst = random_batched_instance(seed, 5 + seed % 25)
    p = schedule(inst, tolerance_share=1.0)
    users = np.random.default_rng(seed).permutation(inst.num_users).tolist()
    if seed % 2:
        users.sort(key=lambda k: (int(inst.user_models[k]), float(p.limit[k])))
    whole, tail = BatchAppender(p), p.batch_appender()
    assert isinstance(tail, BatchTail)
    for k in users:
        assert whole.fits(k) == tail.fits(k)
        if tail.fits(k):
            whole.append(k)
            tail.append(k)
    assert (tail.order, tail.batch) == (whole.order, whole.batch)
    if tail.order:
        assert p.feasible(np.asarray(tail.order), batch=tail.batch)
