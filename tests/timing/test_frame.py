"""Frame timing: hand-computed timelines and properties (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from partialloading import instances
from partialloading.instance import Instance
from partialloading.result import Result, Status
from partialloading.scenarios import random_instance
from partialloading.solution import Solution
from partialloading.timing import bandwidth_split, finish_alone, servable_alone, timeline
from partialloading.tolerance import RELATIVE_TOLERANCE, meets
from partialloading.validation.verify import verify_solution

from strategies import generated_instances

PROPERTY_SETTINGS = settings(max_examples=100, deadline=None)


@st.composite
def instance_and_order(draw: st.DrawFn, max_users: int = 8) -> tuple[Instance, list[int]]:
    """A random instance of any structure and a random order of a random subset of its users."""
    inst = random_instance(
        draw(st.integers(0, 10_000)),
        draw(st.integers(1, max_users)),
        draw(st.integers(1, 4)),
        structure=draw(st.sampled_from(["backbone", "general", "none"])),
        deadlines=draw(st.sampled_from(["common", "per_user"])),
        weighted=draw(st.booleans()),
        initial_model=draw(st.booleans()),
        tightness=draw(st.sampled_from([None, 2.0])),
    )
    order = draw(st.permutations(range(inst.num_users)))
    size = draw(st.integers(0, inst.num_users))
    return inst, list(order[:size])


def longest_feasible_prefix(inst: Instance, order: list[int], sharing: bool) -> list[int]:
    for size in range(len(order), -1, -1):
        if timeline(inst if sharing else inst.unshared(), order[:size]).feasible:
            return order[:size]
    raise AssertionError("the empty order is feasible")  # pragma: no cover


def test_tiny_timeline_by_hand() -> None:
    # u1, u3 (birds) then u2 (cars): uploads end at 3 × 0.02 s; birds loads the 300 MB ViT
    # backbone and its 20 MB head at 1 GB/s (0.32 s); u3 loads nothing; cars loads its head only.
    tiny = instances.load("tiny")
    tl = timeline(tiny, [0, 2, 1])
    assert tl.upload_end == pytest.approx(0.06)
    np.testing.assert_allclose(tl.load, [0.32, 0.0, 0.02])
    np.testing.assert_allclose(tl.start, [0.06, 0.39, 0.40])
    np.testing.assert_allclose(tl.infer_start, [0.38, 0.39, 0.42])
    np.testing.assert_allclose(tl.finish, [0.39, 0.40, 0.43])
    np.testing.assert_allclose(tl.loaded_bytes, [320e6, 0.0, 20e6])
    np.testing.assert_allclose(tl.reused_bytes, [0.0, 320e6, 300e6])
    assert tl.feasible and tl.makespan == pytest.approx(0.43)
    # Without sharing cars reloads the backbone: 0.06 + 0.33 + 0.01 + 0.33 = 0.73 > 0.5.
    plain = timeline(tiny.unshared(), [0, 2, 1])
    np.testing.assert_allclose(plain.finish, [0.39, 0.40, 0.73])
    assert list(plain.on_time) == [True, True, False] and not plain.feasible
    # Adding u4 (dogs, 100 MB) after them finishes at 0.08 + 0.35 + 0.11 = 0.56 > 0.5.
    assert timeline(tiny, [0, 2, 1, 3]).finish[-1] == pytest.approx(0.56)


def test_empty_order() -> None:
    tl = timeline(instances.load("tiny"), [])
    assert tl.upload_end == 0.0 and tl.feasible and tl.makespan == 0.0
    assert bandwidth_split(instances.load("tiny"), []).shape == (0,)


def test_bad_orders() -> None:
    tiny = instances.load("tiny")
    with pytest.raises(ValueError, match="twice"):
        timeline(tiny, [0, 0])
    with pytest.raises(IndexError):
        timeline(tiny, [4])
    with pytest.raises(IndexError):
        timeline(tiny, [-1])


def test_meets_uses_a_relative_tolerance() -> None:
    assert meets(1.0 + 0.5 * RELATIVE_TOLERANCE, 1.0)
    assert not meets(1.0 + 2 * RELATIVE_TOLERANCE, 1.0)
    assert meets(1e6 * (1 + 0.5 * RELATIVE_TOLERANCE), 1e6)


@PROPERTY_SETTINGS
@given(instance_and_order(), st.integers(0, 2**32 - 1))
def test_closed_form_split_is_optimal(case: tuple[Instance, list[int]], seed: int) -> None:
    inst, order = case
    if not order:
        return
    split = bandwidth_split(inst, order)
    assert split.sum() == pytest.approx(inst.bandwidth_hz)
    ends = inst.upload_work[order] / split
    np.testing.assert_allclose(ends, timeline(inst, order).upload_end)
    # Any other split of the same bandwidth ends no earlier (max a/b ≥ Σa / Σb).
    other = np.random.default_rng(seed).uniform(0.01, 1.0, len(order))
    other *= inst.bandwidth_hz / other.sum()
    assert (inst.upload_work[order] / other).max() >= timeline(inst, order).upload_end * (1 - 1e-12)


@PROPERTY_SETTINGS
@given(instance_and_order())
def test_sharing_never_loads_more(case: tuple[Instance, list[int]]) -> None:
    inst, order = case
    shared, plain = timeline(inst, order), timeline(inst.unshared(), order)
    assert np.all(shared.load <= plain.load + 1e-12)
    assert np.all(shared.finish <= plain.finish * (1 + 1e-12))
    assert shared.loaded_bytes.sum() <= plain.loaded_bytes.sum() * (1 + 1e-12)
    # Feasible without sharing ⇒ feasible with sharing (same order).
    assert shared.feasible or not plain.feasible


@PROPERTY_SETTINGS
@given(instance_and_order(), st.booleans())
def test_admissible_sets_are_closed_under_removal(case: tuple[Instance, list[int]], sharing: bool) -> None:
    # Proof. Let k sit between the requests for models p (or the initial state) and n. Removing k
    #  * shrinks the upload phase: τ = Σ_S a/B falls by a_k/B;
    #  * removes k's inference time c_{m_k};
    #  * replaces the loads ℓ(p, m_k) + ℓ(m_k, n) by ℓ(p, n), which is no longer (triangle
    #    inequality). With sharing, P_n \ P_p ⊆ (P_n \ P_{m_k}) ∪ (P_{m_k} \ P_p): a block n needs
    #    and p lacks is either lacking from m_k too (counted in ℓ(m_k, n)) or held by m_k and
    #    so lacking from p (counted in ℓ(p, m_k)); sizes are ≥ 0. Without sharing ℓ_ns(p, n) is 0
    #    or size(n): if m_k ≠ n then ℓ_ns(m_k, n) = size(n) already bounds it; if m_k = n then
    #    ℓ_ns(p, m_k) = ℓ_ns(p, n). From an empty GPU read "P_p = ∅".
    # Every later request starts no later and every earlier one finishes earlier (smaller τ),
    # so all remaining requests still meet their deadlines. ∎
    inst, order = case
    feasible = longest_feasible_prefix(inst, order, sharing)
    before = timeline(inst if sharing else inst.unshared(), feasible)
    for drop in range(len(feasible)):
        rest = feasible[:drop] + feasible[drop + 1 :]
        after = timeline(inst if sharing else inst.unshared(), rest)
        assert after.feasible
        kept = np.delete(before.finish, drop)
        assert np.all(after.finish <= kept * (1 + 1e-12) + 1e-15)


@PROPERTY_SETTINGS
@given(instance_and_order(), st.booleans())
def test_evaluator_and_verifier_agree(case: tuple[Instance, list[int]], sharing: bool) -> None:
    # Two implementations of the timeline: the verifier flags exactly the requests the evaluator
    # reports as late, and nothing else (status "feasible" with no bound, as a heuristic would).
    inst, order = case
    solution = Solution(inst, tuple(order), sharing)
    doc = Result("hypothesis", Status.FEASIBLE, solution, None, 0.0).to_dict()
    report = verify_solution(inst, doc)
    late = {f"schedule[{q}].finish_s" for q, ok in enumerate(solution.timeline.on_time) if not ok}
    assert {v.where for v in report.violations} == late


@settings(max_examples=40, deadline=None)
@given(generated_instances(), st.booleans())
def test_servable_alone_matches_one_user_timelines(instance: Instance, sharing: bool) -> None:
    # The shared pre-filter of the exact methods must agree with the evaluator on one-user orders.
    expected = [
        k for k in range(instance.num_users) if timeline(instance if sharing else instance.unshared(), [k]).feasible
    ]
    assert servable_alone(instance if sharing else instance.unshared()).tolist() == expected
    assert np.allclose(
        finish_alone(instance if sharing else instance.unshared())[expected],
        [timeline(instance if sharing else instance.unshared(), [k]).finish[0] for k in expected],
    )
