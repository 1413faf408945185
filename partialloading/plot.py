"""Gantt chart of a schedule: uploads, loads (bytes loaded vs reused), inferences, deadlines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .memory import memory_of
from .result import Result
from .servers import NetworkResult, NetworkSolution
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


MAX_ROWS = 100
"""Beyond this many served requests the chart has one row per model visit instead of per request."""


def _visits(models: np.ndarray) -> list[tuple[int, int]]:
    """``[start, end)`` positions of each maximal run of one model in the service order."""
    out: list[tuple[int, int]] = []
    for q in range(models.size):
        if out and models[q] == models[out[-1][0]]:
            out[-1] = (out[-1][0], q + 1)
        else:
            out.append((q, q + 1))
    return out


def _batches(batch: np.ndarray) -> list[tuple[int, int]]:
    """``[start, end)`` positions of each batch of the service order (one request each without batches)."""
    return _visits(batch)


def plot_gantt(
    solution_or_result: Solution | Result,
    ax: Axes | None = None,
    *,
    subtitle: str | None = None,
    violations: Sequence[str] = (),
    max_rows: int = MAX_ROWS,
    rejected: Sequence[str] | None = None,
    show_rejected: bool = True,
) -> Axes:
    """Draw the timeline of a schedule as a Gantt chart, one row per admitted user.

    Each row shows the user's upload (from 0 until its data has arrived), the load before its
    request (labelled with the bytes loaded and the bytes of the model already in GPU memory)
    and its inference; red marks show deadlines, and a request that finishes after its deadline
    is drawn in red and labelled late. A batch is one row (one load, one inference), labelled
    with its model, its size and its members. Rejected users are listed under the chart. With more
    than ``max_rows`` rows, each row is one *model visit* (consecutive requests of one model): its
    load, the span of its inferences, its earliest deadline and its request count.

    Parameters
    ----------
    solution_or_result
        The schedule, or a :class:`Result` (its method and status go into the title).
    ax
        Axes to draw on; a new figure is created only when ``None``.
    subtitle
        Extra line for the title (e.g. the method that produced a solution file).
    violations
        What the verifier found wrong with the schedule (the title says it is invalid and shows
        the first one).
    max_rows
        Rows per request up to this many served requests, per model visit beyond.
    rejected, show_rejected
        The users listed as not served (default: the schedule's rejected users), and whether
        to list them.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    result = solution_or_result if isinstance(solution_or_result, Result) else None
    solution = solution_or_result.solution if isinstance(solution_or_result, Result) else solution_or_result
    inst = solution.instance
    tl = solution.timeline
    order = np.asarray(solution.order, dtype=np.int64)
    n = int(order.size)
    late = ~tl.on_time if n else np.zeros(0, dtype=bool)
    models = inst.user_models[order] if n else np.zeros(0, dtype=np.int64)
    spans = _batches(tl.batch) if n else []
    grouped = len(spans) > max_rows
    if grouped:
        spans = _visits(models)
    if ax is None:
        import matplotlib.pyplot as plt

        # The height stops growing at max_rows rows: more visits get thinner rows, not a taller image.
        _, ax = plt.subplots(figsize=(11, 1.6 + 0.42 * max(min(len(spans), max_rows), 2)))
    small = len(spans) <= max_rows
    row_late = np.array([late[a:b].any() for a, b in spans], dtype=bool)
    _draw_bars(ax, solution, spans, row_late, height=0.62 if small else 0.9)
    _draw_deadlines(ax, solution, spans, row_late, grouped=grouped, fontsize=8 if small else 5)
    if grouped:
        labels = [f"{inst.models[int(models[a])].id} × {b - a}" for a, b in spans]
    else:
        labels = [_row_name(solution, a, b) for a, b in spans]
    ax.set_yticks(np.arange(len(spans)), [printable(text) for text in labels], fontsize=8 if small else 5)
    ax.set_ylim(len(spans) - 0.5 if len(spans) else 0.5, -0.9)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    _title(ax, solution, result, len(spans) if grouped else None, subtitle, violations)
    # In the x label, the list of rejected users takes part in tight_layout and never overlaps.
    note = "" if not show_rejected else _rejected_note(solution.rejected if rejected is None else rejected)
    ax.set_xlabel(f"time (s)\n\n{note}" if note else "time (s)", fontsize=9)
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=4, fontsize=8, frameon=False)
    return ax


def plot_servers(
    solution_or_result: NetworkSolution | NetworkResult,
    axes: Sequence[Axes] | None = None,
    *,
    subtitle: str | None = None,
    violations: Sequence[str] = (),
    max_rows: int = MAX_ROWS,
) -> Sequence[Axes]:
    """Draw a schedule on several servers: one lane (a :func:`plot_gantt` chart) per server,
    stacked on one time axis; the users no server serves are listed under the last lane.

    Parameters
    ----------
    solution_or_result
        The schedule, or its result (the method and status go into the first lane's title).
    axes
        One axes per server to draw on; a new figure is created only when ``None``.
    subtitle, violations, max_rows
        As for :func:`plot_gantt` (the violations go with the first lane).

    Returns
    -------
    list of Axes
        The lanes, in server order.
    """
    if isinstance(solution_or_result, NetworkResult):
        solution, head = solution_or_result.solution, f"method {solution_or_result.method}, "
        head += f"status {solution_or_result.status.value}"
    else:
        solution, head = solution_or_result, None
    network = solution.network
    if axes is None:
        import matplotlib.pyplot as plt

        rows = [max(min(len(p.order), max_rows), 2) for p in solution.parts]
        _, grid = plt.subplots(
            len(rows),
            1,
            figsize=(11, sum(1.6 + 0.42 * r for r in rows)),
            sharex=True,
            squeeze=False,
            gridspec_kw={"height_ratios": rows},
        )
        axes = list(grid[:, 0])
    if len(axes) != network.num_servers:
        raise ValueError(f"{len(axes)} axes for {network.num_servers} servers")
    last = network.num_servers - 1
    for n, (ax, server, part) in enumerate(zip(axes, network.servers, solution.parts, strict=True)):
        lines = [
            f"server {server.id}",
            *([head] if head and n == 0 else []),
            *([subtitle] if subtitle and n == 0 else []),
        ]
        plot_gantt(
            part,
            ax,
            subtitle=" · ".join(lines),
            violations=violations if n == 0 else (),
            max_rows=max_rows,
            rejected=solution.rejected,
            show_rejected=n == last,
        )
    return list(axes)


def _row_name(solution: Solution, a: int, b: int) -> str:
    """The label of the row of positions ``[a, b)``: the user and model, or a batch's model, size
    and members."""
    users = [solution.instance.users[k] for k in solution.order[a:b]]
    if b - a == 1:
        return f"{users[0].id} · {users[0].model}"
    members = ", ".join(u.id for u in users[:4]) + (", …" if b - a > 4 else "")
    return f"{users[0].model} × {b - a}: {members}"


def _draw_bars(ax: Axes, solution: Solution, spans: list[tuple[int, int]], row_late: np.ndarray, height: float) -> None:
    """One row per span of the service order: its uploads, its load and its inferences (red
    when one of them is late)."""
    tl = solution.timeline
    n = len(solution.order)
    rows = np.arange(len(spans))
    first = np.array([a for a, _ in spans], dtype=np.int64)
    last = np.array([b - 1 for _, b in spans], dtype=np.int64)
    upload = np.array([tl.upload_ends[a:b].max() for a, b in spans]) if n else np.zeros(0)
    if solution.instance.timing == "frame":
        ax.barh(rows, upload, left=0.0, height=height, color=UPLOAD_COLOR, label="upload")
    else:
        # Loads overlap the uploads: a thin upload bar under each row keeps both visible.
        ax.barh(rows + 0.4, upload, left=0.0, height=0.18, color=UPLOAD_COLOR, label="upload")
    # A batch's members repeat its load: each load counts once, on the batch's first request.
    once = np.ones(n, dtype=bool)
    once[1:] = tl.batch[1:] != tl.batch[:-1]
    load = np.array([tl.load[a:b][once[a:b]].sum() for a, b in spans]) if n else np.zeros(0)
    ax.barh(
        rows, load, left=tl.start[first] if n else [], height=height, color=LOAD_COLOR, label="load (missing blocks)"
    )
    infer_left = tl.infer_start[first] if n else np.zeros(0)
    infer_width = tl.finish[last] - infer_left if n else np.zeros(0)
    colors = [DEADLINE_COLOR if bad else INFER_COLOR for bad in row_late]
    ax.barh(rows, infer_width, left=infer_left, height=height, color=colors, label="inference")


def _draw_deadlines(
    ax: Axes, solution: Solution, spans: list[tuple[int, int]], row_late: np.ndarray, *, grouped: bool, fontsize: int
) -> None:
    """Each row's deadline mark and its byte label (loaded, reused, late by how much), and the
    end of the uploads."""
    inst, tl = solution.instance, solution.timeline
    n = len(solution.order)
    kept = float(inst.memory_bytes) if memory_of(inst).evictions_in_files and inst.memory_bytes else None
    sizes = solution.evaluated.block_sizes
    deadlines = [float(tl.deadline[a:b].min()) for a, b in spans]
    candidates = [float(tl.makespan), *deadlines, *(inst.deadlines.tolist() if inst.num_users else [])]
    horizon = max(candidates) if candidates else 0.0
    # Room on the right for the byte labels (set first: the labels are placed in data units).
    ax.set_xlim(0.0, horizon * (1.3 if kept is None else 1.7) if horizon > 0 else 1.0)
    for r, (a, b) in enumerate(spans):
        ax.plot(
            [deadlines[r]] * 2,
            [r - 0.45, r + 0.45],
            color=DEADLINE_COLOR,
            linewidth=2,
            label="deadline" if r == 0 else None,
        )
        loaded, reused = float(tl.loaded_bytes[a:b].sum()), float(tl.reused_bytes[a]) if n else 0.0
        text = f"+{_mb(loaded)}" if loaded > 0 else "nothing loaded"
        if reused > 0:
            text += f", {_mb(reused)} reused"
        if kept is not None:
            # A memory that keeps blocks: what went before the row, and what is resident after it.
            gone = sum(float(sizes[j]) for q in range(a, b) for j in tl.evicted[q]) if tl.evicted else 0.0
            text += f"; evicted {_mb(gone)}" if gone > 0 else ""
            text += f"; {_mb(float(tl.resident_bytes[b - 1]))} of {_mb(kept)} in use"
        if grouped:
            text = f"{b - a} requests, {text}"
        if row_late[r]:
            worst = float((tl.finish[a:b] - tl.deadline[a:b]).max())
            text = f"LATE by {worst * 1e3:.1f} ms; {text}"
        ax.add_artist(
            _row_label(
                float(tl.finish[b - 1]),
                deadlines[r],
                0.005 * horizon,
                r,
                text,
                va="center",
                fontsize=fontsize,
                color=DEADLINE_COLOR if row_late[r] else (REUSE_COLOR if loaded == 0 else "black"),
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.75, "pad": 0.5},
            )
        )
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


def _title(
    ax: Axes,
    solution: Solution,
    result: Result | None,
    visits: int | None,
    subtitle: str | None,
    violations: Sequence[str],
) -> None:
    """What was served, how, and whether the schedule is valid (``visits``: the rows are model
    visits, that many)."""
    inst = solution.instance
    n = len(solution.order)
    late = ~solution.timeline.on_time if n else np.zeros(0, dtype=bool)
    mode = ("sharing" if solution.sharing else "no sharing") + f", {inst.timing} timing"
    head = f"{printable(inst.name)}: {n}/{inst.num_users} served ({mode})"
    if visits is not None:
        head += f", one row per model visit ({visits} visits)"
    if result is not None:
        head += f", {result.method}, {result.status.value}"
    if subtitle:
        head += f"\n{subtitle}"
    if violations:
        head = f"INVALID SCHEDULE ({len(violations)} violation(s)): {printable(violations[0])[:90]}\n{head}"
    elif late.any():
        head = f"INVALID SCHEDULE: {int(late.sum())} request(s) late\n{head}"
    ax.set_title(
        f"{head}\nloaded {_mb(solution.loaded_bytes)}, reused {_mb(solution.reused_bytes)} already in GPU memory"
        + (f" of {_mb(float(inst.memory_bytes))}" if memory_of(inst).evictions_in_files and inst.memory_bytes else ""),
        fontsize=10,
        pad=22,
        color=DEADLINE_COLOR if violations or late.any() else "black",
    )


def _rejected_note(rejected: Sequence[str]) -> str:
    if not rejected:
        return "rejected: none"
    shown_ids = ", ".join(printable(r) for r in rejected[:25]) + (" ..." if len(rejected) > 25 else "")
    return f"rejected ({len(rejected)}): {shown_ids}"


def _row_label(end: float, mark: float, gap: float, row: float, text: str, **style: Any) -> Any:
    """The byte label of a row: right after the row's last bar (``end``), or right after its
    deadline mark (``mark``) when it would run across it there. Where it crosses is known only
    once the figure's layout is final, so the label decides when it is drawn."""
    from matplotlib.text import Text

    class RowLabel(Text):
        def draw(self, renderer: Any) -> None:
            self.set_x(end + gap)
            axes = self.axes
            if axes is not None:
                box = self.get_window_extent(renderer).transformed(axes.transData.inverted())
                if box.x0 < mark < box.x1:
                    self.set_x(mark + gap)
            super().draw(renderer)

    return RowLabel(end + gap, row, text, **style)


def printable(text: str) -> str:
    """``text`` with control characters escaped: ids are free text, and a chart or a terminal
    shows them literally."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
