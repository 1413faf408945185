"""The analysis of a load study: the metrics of each policy averaged over seeds with t-based 95%
confidence intervals (:func:`load_points`), and one policy against another seed by seed
(:func:`load_comparisons`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from partialloading.study.analysis import mean_ci
from partialloading.study.base import ParamValue

from .simulate import Summary

if TYPE_CHECKING:
    pass

from .study import LoadResult, LoadSweep


@dataclass(frozen=True)
class LoadPoint:
    """A policy's metrics at one value of the swept parameter, over the seeds (mean and 95% CI)."""

    family: str
    parameter: str
    value: ParamValue
    policy: str
    n: int
    on_time_mean: float
    on_time_ci95: float
    served_weight_mean: float
    latency_p50_mean_s: float
    latency_p95_mean_s: float
    latency_p99_mean_s: float
    loaded_gb_mean: float
    gpu_busy_mean: float
    planning_mean_ms: float
    planning_max_ms: float


def load_points(sweep: LoadSweep, rows: Iterable[LoadResult]) -> list[LoadPoint]:
    """Mean metrics per (value, policy) over the seeds, in the sweep's order."""
    by_key = {r.task.key: r for r in rows if r.summary is not None}
    points = []
    tasks = sweep.tasks()
    for value in sweep.values:
        for policy in sweep.labels:
            got = [by_key[t.key].summary for t in tasks if t.value == value and t.policy == policy and t.key in by_key]
            summaries = [s for s in got if s is not None]

            def mean(name: str, scale: float = 1.0, summaries: list[Summary] = summaries) -> float:
                values = [getattr(s, name) for s in summaries if getattr(s, name) is not None]
                return float(np.mean(values)) * scale if values else float("nan")

            on_time, _, ci = mean_ci([s.on_time_fraction for s in summaries]) if summaries else (np.nan, np.nan, np.nan)
            points.append(
                LoadPoint(
                    sweep.family,
                    sweep.parameter,
                    value,
                    policy,
                    len(summaries),
                    float(on_time),
                    float(ci),
                    mean("served_weight"),
                    mean("latency_p50_s"),
                    mean("latency_p95_s"),
                    mean("latency_p99_s"),
                    mean("loaded_bytes", 1e-9),
                    mean("gpu_busy_fraction"),
                    mean("planning_time_mean_s", 1e3),
                    max((s.planning_time_max_s for s in summaries), default=float("nan")) * 1e3,
                )
            )
    return points


@dataclass(frozen=True)
class LoadComparison:
    """On-time fraction of ``policy`` minus ``baseline`` on the same workloads (mean and 95% CI)."""

    family: str
    parameter: str
    value: ParamValue
    policy: str
    baseline: str
    n: int
    diff_mean: float
    diff_ci95: float


def load_comparisons(sweep: LoadSweep, rows: Iterable[LoadResult], policy: str, baseline: str) -> list[LoadComparison]:
    """Paired differences of the on-time fraction, one per value: both policies on each seed's workload.

    Pairing removes the spread between workloads, so the interval is the one to read when
    asking whether one policy beats another.
    """
    on_time = {
        (r.task.value, r.task.seed, r.task.policy): r.summary.on_time_fraction for r in rows if r.summary is not None
    }
    out = []
    for value in sweep.values:
        diffs = [
            on_time[(value, s, policy)] - on_time[(value, s, baseline)]
            for s in sweep.seeds
            if (value, s, policy) in on_time and (value, s, baseline) in on_time
        ]
        mean, _, ci = mean_ci(diffs) if diffs else (float("nan"), float("nan"), float("nan"))
        out.append(LoadComparison(sweep.family, sweep.parameter, value, policy, baseline, len(diffs), mean, ci))
    return out
