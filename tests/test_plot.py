"""Gantt chart."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Annotation

from partialloading import instances
from partialloading.plot import plot_gantt
from partialloading.solution import Solution
from partialloading.solve import solve


def test_uses_the_given_axes() -> None:
    fig, ax = plt.subplots()
    try:
        result = solve(instances.load("tiny"), "enumerate")
        assert plot_gantt(result, ax=ax) is ax
        # Three rows (u1, u3, u2), each with an upload, a load and an inference bar.
        assert len(ax.patches) == 9
        assert [t.get_text() for t in ax.get_yticklabels()] == ["u1 · birds", "u3 · birds", "u2 · cars"]
        assert "rejected (1): u4" in ax.get_xlabel()
        assert "enumerate" in ax.get_title()
    finally:
        plt.close(fig)


def test_creates_a_figure_and_writes_a_file(tmp_path: Path) -> None:
    solution = Solution.from_user_ids(instances.load("edge20"), ["u01", "u02"], sharing=False)
    ax = plot_gantt(solution, subtitle="by hand")
    fig = ax.get_figure()
    assert isinstance(fig, Figure)
    path = tmp_path / "gantt.png"
    fig.savefig(path)
    plt.close(fig)
    assert path.stat().st_size > 5_000
    assert "by hand" in ax.get_title() and "no sharing" in ax.get_title()


def test_empty_schedule() -> None:
    ax = plot_gantt(Solution(instances.load("tiny"), ()))
    try:
        assert "rejected (4)" in ax.get_xlabel()
    finally:
        fig = ax.get_figure()
        assert isinstance(fig, Figure)
        plt.close(fig)


def test_byte_labels_never_run_across_their_deadline_mark() -> None:
    # Labels start right after their row's last bar; one that would cross the row's deadline mark
    # is drawn after the mark instead (decided when drawn, on the final layout).
    from partialloading import scenarios

    moved = 0
    for family, seed in (("general", 3), ("zoo-heads", 0), ("backbone", 1)):
        inst = scenarios.generate(family, seed, n_users=12, deadlines="per_user")
        ax = plot_gantt(solve(inst, "greedy"))
        fig = ax.figure
        try:
            fig.tight_layout()
            fig.canvas.draw()
            renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
            marks = {
                round(float(line.get_ydata()[0]) + 0.45, 6): float(line.get_xdata()[0])
                for line in ax.lines
                if abs(float(line.get_ydata()[1]) - float(line.get_ydata()[0]) - 0.9) < 1e-9  # a row's mark
            }
            labels = [t for t in ax.texts if not isinstance(t, Annotation)]
            assert len(labels) == len(marks) == len(ax.get_yticks())
            for label in labels:
                mark = marks[round(float(label.get_position()[1]), 6)]
                box = label.get_window_extent(renderer).transformed(ax.transData.inverted())
                assert not box.x0 < mark < box.x1, label.get_text()
                moved += label.get_position()[0] > mark
        finally:
            plt.close(fig)
    assert moved > 0  # the rule was exercised


def test_a_capacity_memory_shows_its_evictions_and_the_memory_in_use() -> None:
    import dataclasses

    from partialloading.scenarios import random_instance

    plain = random_instance(3, 8, 4, structure="general", deadlines="per_user")
    kept = dataclasses.replace(plain, memory_bytes=1.3 * float(plain.model_sizes.max()))
    result = solve(kept, "enumerate")
    assert any(result.solution.evicted_ids)
    fig, ax = plt.subplots()
    plot_gantt(result, ax)
    labels = [t.get_text() for t in ax.texts if not t.get_text().startswith("uploads end")]
    assert labels and all(" in use" in text for text in labels)
    assert any("evicted" in text for text in labels)
    assert f"of {kept.memory_bytes / 1e6:.1f} MB" in ax.get_title()
    plt.close(fig)
    fig, ax = plt.subplots()
    plot_gantt(solve(plain, "enumerate"), ax)
    assert not any("in use" in t.get_text() for t in ax.texts)
    plt.close(fig)


def test_a_batch_is_one_bar_with_its_members() -> None:
    from hand import batch_hand_instance

    fig, ax = plt.subplots()
    try:
        result = solve(batch_hand_instance(), "enumerate")
        plot_gantt(result, ax=ax)
        # One row (the batch of three): one upload, one load and one inference bar.
        assert [t.get_text() for t in ax.get_yticklabels()] == ["A × 3: a1, a2, a3"]
        assert len(ax.patches) == 3
        _upload, load, inference = ax.patches
        assert load.get_width() == result.solution.timeline.load[0]  # the batch's one load, not three
        assert inference.get_width() == pytest.approx(0.014)  # t(3) = 14 ms
    finally:
        plt.close(fig)
