"""Plots of a sweep's statistics (``ax=None`` everywhere)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from partialloading.methods import METHODS

from .analysis import GapSample, GapStats, ThroughputPoint, label

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def _variants(points: Iterable[ThroughputPoint | GapStats]) -> list[tuple[str, bool]]:
    return list(dict.fromkeys((p.method, p.sharing) for p in points))


_LOG_PARAMETERS = {"bandwidth_scale", "load_speed_scale", "bandwidth_hz", "load_speed_bytes_per_s"}


def plot_throughput(points: Sequence[ThroughputPoint], ax: Axes | None = None, *, fraction: bool = False) -> Axes:
    """Tasks served (or the fraction served) against the swept parameter, one line per variant.

    One colour and marker per method; solid lines with filled markers schedule with sharing,
    dashed lines with hollow markers without; bands are 95% confidence intervals (t-based).
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    methods = list(dict.fromkeys(p.method for p in points))
    numeric = all(isinstance(p.value, int | float) and not isinstance(p.value, bool) for p in points)
    for method, sharing in _variants(points):
        pts = [p for p in points if p.method == method and p.sharing == sharing and p.n > 0]
        xs = [float(p.value) if numeric else str(p.value) for p in pts]
        ys = np.array([p.fraction_mean if fraction else p.served_mean for p in pts])
        ci = np.nan_to_num(np.array([p.fraction_ci95 if fraction else p.served_ci95 for p in pts]))
        color = colors[methods.index(method) % len(colors)]
        ax.plot(
            xs,
            ys,
            "-" if sharing else "--",
            marker="osD^vP"[methods.index(method) % 6],
            markerfacecolor=color if sharing else "white",
            color=color,
            label=label(method, sharing),
        )
        ax.fill_between(xs, ys - ci, ys + ci, color=color, alpha=0.12, linewidth=0)
    if points:
        first = points[0]
        ax.set_xlabel(first.parameter)
        if numeric and first.parameter in _LOG_PARAMETERS:
            from matplotlib.ticker import NullFormatter

            ax.set_xscale("log")
            # Label the swept values themselves, in plain numbers, instead of powers of ten.
            values = sorted({float(p.value) for p in points})
            ax.set_xticks(values, [f"{v:g}" for v in values])
            ax.xaxis.set_minor_formatter(NullFormatter())
        n = max(p.n for p in points)
        ax.set_title(f"{first.family}: throughput vs {first.parameter} ({n} seeds, 95% CI)", fontsize=10)
    ax.set_ylabel("fraction of users served" if fraction else "tasks served")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def plot_gaps(samples: Sequence[GapSample], ax: Axes | None = None) -> Axes:
    """Box plots of the optimality gap (percent) per value and method."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.2))
    values = list(dict.fromkeys(s.value for s in samples))
    # A fixed order (hence colour) per method, whatever the samples happen to contain.
    rank = {name: i for i, name in enumerate(METHODS)}
    variants = sorted(dict.fromkeys((s.method, s.sharing) for s in samples), key=lambda v: (rank[v[0]], not v[1]))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    width = 0.8 / max(len(variants), 1)
    for j, (method, sharing) in enumerate(variants):
        data = [
            [100 * s.gap for s in samples if s.value == v and (s.method, s.sharing) == (method, sharing)]
            for v in values
        ]
        pos = [i + (j - (len(variants) - 1) / 2) * width for i in range(len(values))]
        keep = [(p, d) for p, d in zip(pos, data, strict=True) if d]
        if not keep:
            continue
        box = ax.boxplot(
            [d for _, d in keep],
            positions=[p for p, _ in keep],
            widths=0.9 * width,
            patch_artist=True,
            showmeans=True,
            medianprops={"color": "black"},
            meanprops={"marker": "^", "markerfacecolor": "black", "markeredgecolor": "black"},
        )
        for patch in box["boxes"]:
            patch.set_facecolor(colors[rank[method] % len(colors)])
            patch.set_alpha(0.5)
        ax.plot([], [], "s", color=colors[rank[method] % len(colors)], alpha=0.5, label=label(method, sharing))
    ax.set_xticks(range(len(values)), [str(v) for v in values])
    if samples:
        ax.set_title(f"{samples[0].family}: optimality gap (boxes: quartiles, ▲ mean)", fontsize=10)
        ax.set_xlabel(samples[0].parameter)
    ax.set_ylabel("gap to the optimum (%)")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    return ax
