"""Gantt chart of a schedule: uploads, loads (bytes loaded vs reused), inferences, deadlines."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .result import Result
from .solution import Solution

if TYPE_CHECKING:
    from matplotlib.axes import Axes

UPLOAD_COLOR = "#9ecae1"
LOAD_COLOR = "#f28e2b"
INFER_COLOR = "#4e79a7"
DEADLINE_COLOR = "#d62728"
REUSE_COLOR = "#59a14f"


def _mb(num_bytes: float) -> str:
    return f"{num_bytes / 1e6:.1f} MB"


def plot_gantt(solution_or_result: Solution | Result, ax: Axes | None = None, *, subtitle: str | None = None) -> Axes:
    """Draw the timeline of a schedule as a Gantt chart, one row per admitted user.

    Each row shows the user's upload (from 0 until its data has arrived), the load before its
    request (labelled with the bytes loaded and the bytes of the model already in GPU memory)
    and its inference; red marks show deadlines. Rejected users are listed under the chart.

    Parameters
    ----------
    solution_or_result
        The schedule, or a :class:`Result` (its method and status go into the title).
    ax
        Axes to draw on; a new figure is created only when ``None``.
    subtitle
        Extra line for the title (e.g. the method that produced a solution file).

    Returns
    -------
    Axes
        The axes drawn on.
    """
    if isinstance(solution_or_result, Result):
        result: Result | None = solution_or_result
        solution = solution_or_result.solution
    else:
        result = None
        solution = solution_or_result
    inst = solution.instance
    tl = solution.timeline
    n = len(solution.order)
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(11, 1.6 + 0.42 * max(n, 2)))

    # Each bar shows the user's own upload, a_k/b_k (under frame timing they all end at τ).
    uploads = tl.upload_ends
    height = 0.62
    rows = np.arange(n)
    if inst.timing == "frame":
        ax.barh(rows, uploads, left=0.0, height=height, color=UPLOAD_COLOR, label="upload")
    else:
        # Loads overlap the uploads: a thin upload bar under each row keeps both visible.
        ax.barh(rows + 0.4, uploads, left=0.0, height=0.18, color=UPLOAD_COLOR, label="upload")
    ax.barh(rows, tl.load, left=tl.start, height=height, color=LOAD_COLOR, label="load (missing blocks)")
    ax.barh(rows, tl.finish - tl.infer_start, left=tl.infer_start, height=height, color=INFER_COLOR, label="inference")

    horizon = max(float(tl.makespan), float(np.max(tl.deadline)) if n else 0.0, float(np.max(inst.deadlines)))
    for q in range(n):
        ax.plot(
            [tl.deadline[q]] * 2,
            [q - 0.45, q + 0.45],
            color=DEADLINE_COLOR,
            linewidth=2,
            label="deadline" if q == 0 else None,
        )
        loaded, reused = tl.loaded_bytes[q], tl.reused_bytes[q]
        text = f"+{_mb(loaded)}" if loaded > 0 else "nothing loaded"
        if reused > 0:
            text += f", {_mb(reused)} reused"
        ax.text(
            tl.finish[q] + 0.005 * horizon,
            q,
            text,
            va="center",
            fontsize=8,
            color=REUSE_COLOR if loaded == 0 else "black",
            # Readable where a label crosses a deadline mark.
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.75, "pad": 0.5},
        )
    if n:
        ax.axvline(tl.upload_end, color="grey", linestyle=":", linewidth=1)
        ax.annotate(
            f"uploads end {tl.upload_end * 1e3:.1f} ms",
            xy=(tl.upload_end, -0.5),
            xytext=(2, 2),
            textcoords="offset points",
            fontsize=8,
            color="grey",
            va="bottom",
        )

    labels = [f"{inst.users[k].id} · {inst.users[k].model}" for k in solution.order]
    ax.set_yticks(rows, labels, fontsize=8)
    ax.set_ylim(n - 0.5 if n else 0.5, -0.9)
    # Room on the right for the byte labels.
    ax.set_xlim(0.0, horizon * 1.3 if horizon > 0 else 1.0)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)

    mode = ("sharing" if solution.sharing else "no sharing") + f", {inst.timing} timing"
    head = f"{inst.name}: {len(solution.order)}/{inst.num_users} served ({mode})"
    if result is not None:
        head += f", {result.method}, {result.status.value}"
    if subtitle:
        head += f"\n{subtitle}"
    ax.set_title(
        f"{head}\nloaded {_mb(solution.loaded_bytes)}, reused {_mb(solution.reused_bytes)} already in GPU memory",
        fontsize=10,
        pad=22,
    )
    rejected = solution.rejected
    if rejected:
        shown = ", ".join(rejected[:25]) + (" ..." if len(rejected) > 25 else "")
        note = f"rejected ({len(rejected)}): {shown}"
    else:
        note = "rejected: none"
    # In the x label, the list of rejected users takes part in tight_layout and never overlaps.
    ax.set_xlabel(f"time (s)\n\n{note}", fontsize=9)
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=4, fontsize=8, frameon=False)
    return ax
