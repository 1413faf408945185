"""Gantt chart."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

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
