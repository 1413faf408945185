"""The figures of a load study: on-time fraction and bytes loaded against the swept parameter,
and the latency CDF of each policy at one value (each takes ``ax=None``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from partialloading.study.base import ParamValue

if TYPE_CHECKING:
    from matplotlib.axes import Axes

from .study import NO_SHARING, QUANTILES, LoadResult, LoadSweep
from .study_analysis import LoadPoint


def _positions(points: Sequence[LoadPoint], ax: Axes) -> dict[ParamValue, float]:
    """Where each swept value goes on the x axis: the value itself, or, for words (a router),
    its rank, labelled."""
    values = list(dict.fromkeys(p.value for p in points))
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return {v: float(v) for v in values}
    ax.set_xticks(range(len(values)), [str(v) for v in values])
    return {v: float(i) for i, v in enumerate(values)}


def plot_on_time(points: Sequence[LoadPoint], ax: Axes | None = None) -> Axes:
    """On-time fraction against the swept parameter, one line per policy, 95% CI bands."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.2))
    policies = list(dict.fromkeys(p.policy for p in points))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    where = _positions(points, ax)
    for i, policy in enumerate(policies):
        pts = [p for p in points if p.policy == policy and p.n > 0]
        xs = [where[p.value] for p in pts]
        ys = np.array([p.on_time_mean for p in pts])
        ci = np.nan_to_num(np.array([p.on_time_ci95 for p in pts]))
        style = "--" if policy.endswith(NO_SHARING) else "-"
        ax.plot(xs, ys, style, marker="osD^vP"[i % 6], color=colors[i % len(colors)], label=policy)
        ax.fill_between(xs, ys - ci, ys + ci, color=colors[i % len(colors)], alpha=0.12, linewidth=0)
    if points:
        ax.set_xlabel(points[0].parameter)
        ax.set_title(f"{points[0].family}: requests on time")
    ax.set_ylabel("on-time fraction of arrivals")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def plot_loaded(points: Sequence[LoadPoint], ax: Axes | None = None) -> Axes:
    """Bytes loaded into GPU memory (mean over the seeds) against the swept parameter, one line
    per policy: what a larger memory or block sharing saves."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.2))
    where = _positions(points, ax)
    for i, policy in enumerate(dict.fromkeys(p.policy for p in points)):
        pts = [p for p in points if p.policy == policy and p.n > 0]
        style = "--" if policy.endswith(NO_SHARING) else "-"
        ax.plot(
            [where[p.value] for p in pts], [p.loaded_gb_mean for p in pts], style, marker="osD^vP"[i % 6], label=policy
        )
    if points:
        ax.set_xlabel(points[0].parameter)
        ax.set_title(f"{points[0].family}: bytes loaded")
    ax.set_ylabel("loaded (GB, mean over seeds)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def plot_latency_cdf(sweep: LoadSweep, rows: Iterable[LoadResult], value: ParamValue, ax: Axes | None = None) -> Axes:
    """Latency CDF of the served requests at one value, one line per policy (quantiles averaged over seeds)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.2))
    levels = np.linspace(0, 1, QUANTILES)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    rows = list(rows)
    for i, policy in enumerate(sweep.labels):
        curves = [
            r.latency_quantiles
            for r in rows
            if r.task.policy == policy and r.task.value == value and r.latency_quantiles
        ]
        if not curves:
            continue
        mean = np.mean(np.array(curves), axis=0) * 1e3
        style = "--" if policy.endswith(NO_SHARING) else "-"
        ax.plot(mean, levels, style, color=colors[i % len(colors)], label=policy)
    ax.set_xlabel("latency, arrival to finish (ms)")
    ax.set_ylabel("fraction of served requests")
    ax.set_title(f"{sweep.family}, {sweep.parameter} = {value}: latency of served requests")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return ax
