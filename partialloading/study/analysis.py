"""Statistics of a sweep's rows: throughput with confidence intervals, paired comparisons, gaps; CSV and tables."""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from partialloading.io import write_text_atomic

from .base import EXACT, NOT_APPLICABLE, ParamValue, StudyError
from .sweep import Sweep, Task, TaskResult

# --------------------------------------------------------------------------------------------
# Analysis


def _t95(n: int) -> float:
    from scipy.stats import t

    return float(t.ppf(0.975, n - 1)) if n > 1 else math.nan


def mean_ci(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean, sample standard deviation and half-width of the t-based 95% confidence interval."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return math.nan, math.nan, math.nan
    std = float(x.std(ddof=1)) if x.size > 1 else math.nan
    return float(x.mean()), std, _t95(x.size) * std / math.sqrt(x.size)


def label(method: str, sharing: bool) -> str:
    """Display name of a method and sharing mode, e.g. ``"greedy (no sharing)"``."""
    return f"{method} ({'sharing' if sharing else 'no sharing'})"


def _by_task(sweep: Sweep, rows: Iterable[TaskResult]) -> dict[str, TaskResult]:
    wanted = {t.key for t in sweep.tasks()}
    return {r.key: r for r in rows if r.key in wanted}


@dataclass(frozen=True)
class ThroughputPoint:
    """Aggregate of one (value, method, sharing) point of a throughput sweep over its seeds.

    Attributes
    ----------
    served_mean, served_std, served_ci95
        Mean, standard deviation and 95% CI half-width (t-based) of the objective (tasks served).
    fraction_mean, fraction_ci95
        The same for the fraction of the users served.
    runtime_mean_s
        Mean runtime of the method.
    n
        Instances aggregated (solved rows).
    n_missing
        Tasks of the point without a solved row (not run yet, not applicable, or failed).
    """

    family: str
    parameter: str
    value: ParamValue
    method: str
    sharing: bool
    n: int
    served_mean: float
    served_std: float
    served_ci95: float
    fraction_mean: float
    fraction_ci95: float
    runtime_mean_s: float
    n_missing: int


def throughput_points(sweep: Sweep, rows: Iterable[TaskResult]) -> list[ThroughputPoint]:
    """Throughput of every (value, method, sharing) of ``sweep``, averaged over the seeds."""
    by_key = _by_task(sweep, rows)
    groups: dict[tuple[ParamValue, str, bool], list[Task]] = {}
    for task in sweep.tasks():
        groups.setdefault((task.value, task.method, task.sharing), []).append(task)
    points = []
    for (value, method, sharing), tasks in groups.items():
        solved = [by_key[t.key] for t in tasks if t.key in by_key and by_key[t.key].solved]
        served = [float(r.objective or 0.0) for r in solved]
        fraction = [float(r.objective or 0.0) / r.n_users if r.n_users else 0.0 for r in solved]
        mean, std, ci = mean_ci(served)
        f_mean, _, f_ci = mean_ci(fraction)
        runtime = float(np.mean([r.runtime_s or 0.0 for r in solved])) if solved else math.nan
        points.append(
            ThroughputPoint(
                sweep.family,
                sweep.parameter,
                value,
                method,
                sharing,
                len(solved),
                mean,
                std,
                ci,
                f_mean,
                f_ci,
                runtime,
                len(tasks) - len(solved),
            )
        )
    return points


@dataclass(frozen=True)
class Comparison:
    """Paired comparison of two (method, sharing) variants on the same instances at one value.

    Attributes
    ----------
    variant, baseline
        Labels (see :func:`label`).
    n
        Instances where both are solved.
    variant_mean, baseline_mean
        Mean tasks served.
    diff_mean, diff_ci95
        Mean paired difference (variant − baseline) and its 95% CI half-width (t-based).
    gain
        Relative gain ``variant_mean / baseline_mean − 1`` (``nan`` when the baseline serves nobody).
    """

    family: str
    parameter: str
    value: ParamValue
    variant: str
    baseline: str
    n: int
    variant_mean: float
    baseline_mean: float
    diff_mean: float
    diff_ci95: float
    gain: float


def compare(
    sweep: Sweep, rows: Iterable[TaskResult], variant: tuple[str, bool], baseline: tuple[str, bool]
) -> list[Comparison]:
    """Gain of ``variant`` over ``baseline`` (each a ``(method, sharing)`` pair) at every value."""
    by_key = _by_task(sweep, rows)
    pairs: dict[ParamValue, list[tuple[float, float]]] = {v: [] for v in sweep.values}
    index: dict[tuple[str, str, bool], TaskResult] = {}
    for r in by_key.values():
        index[(r.instance_key, r.task.method, r.task.sharing)] = r
    seen: set[str] = set()
    for task in sweep.tasks():
        if task.instance_key in seen:
            continue
        seen.add(task.instance_key)
        a = index.get((task.instance_key, *variant))
        b = index.get((task.instance_key, *baseline))
        if a is not None and b is not None and a.solved and b.solved:
            pairs[task.value].append((float(a.objective or 0.0), float(b.objective or 0.0)))
    out = []
    for value, pv in pairs.items():
        xa = [p[0] for p in pv]
        xb = [p[1] for p in pv]
        diff_mean, _, diff_ci = mean_ci([p[0] - p[1] for p in pv])
        ma = float(np.mean(xa)) if pv else math.nan
        mb = float(np.mean(xb)) if pv else math.nan
        gain = ma / mb - 1.0 if pv and mb > 0 else math.nan
        out.append(
            Comparison(
                sweep.family,
                sweep.parameter,
                value,
                label(*variant),
                label(*baseline),
                len(pv),
                ma,
                mb,
                diff_mean,
                diff_ci,
                gain,
            )
        )
    return out


@dataclass(frozen=True)
class GapSample:
    """Optimality gap of one method on one instance: ``(optimum − objective) / optimum`` (0 if the optimum is 0)."""

    family: str
    parameter: str
    value: ParamValue
    seed: int
    method: str
    sharing: bool
    optimum: float
    objective: float
    gap: float


@dataclass(frozen=True)
class GapStats:
    """Distribution of the optimality gap of one method at one value of a gap sweep.

    Attributes
    ----------
    n
        Instances with a proven optimum where the method produced a schedule.
    n_optimal
        Of those, instances where the method found the optimum.
    mean, median, p95, max
        Statistics of the relative gap.
    n_unproven
        Instances without a proven optimum (exact method stopped at its time limit, or failed).
    n_not_applicable
        Instances the method refused (e.g. the DP outside its exact case).
    """

    family: str
    parameter: str
    value: ParamValue
    method: str
    sharing: bool
    n: int
    n_optimal: int
    mean: float
    median: float
    p95: float
    max: float
    n_unproven: int
    n_not_applicable: int


def gap_samples(sweep: Sweep, rows: Iterable[TaskResult]) -> list[GapSample]:
    """Gap of every non-exact method of ``sweep`` on every instance whose optimum is proven."""
    if EXACT not in sweep.methods:
        raise StudyError("a gap sweep needs the 'exact' method")
    by_key = _by_task(sweep, rows)
    out = []
    for task in sweep.tasks():
        if task.method == EXACT:
            continue
        row = by_key.get(task.key)
        ref = by_key.get(dataclasses.replace(task, method=EXACT).key)
        if row is None or ref is None or not row.solved or ref.status != "optimal":
            continue
        opt = float(ref.objective or 0.0)
        obj = float(row.objective or 0.0)
        gap = (opt - obj) / opt if opt > 0 else 0.0
        out.append(
            GapSample(task.family, task.parameter, task.value, task.seed, task.method, task.sharing, opt, obj, gap)
        )
    return out


def gap_stats(sweep: Sweep, rows: Iterable[TaskResult]) -> list[GapStats]:
    """Mean, median, 95th percentile and maximum gap of every method of ``sweep`` at every value."""
    rows = list(rows)
    by_key = _by_task(sweep, rows)
    samples: dict[tuple[ParamValue, str, bool], list[float]] = {}
    for s in gap_samples(sweep, rows):
        samples.setdefault((s.value, s.method, s.sharing), []).append(s.gap)
    counts: dict[tuple[ParamValue, str, bool], list[int]] = {}
    for task in sweep.tasks():
        if task.method == EXACT:
            continue
        count = counts.setdefault((task.value, task.method, task.sharing), [0, 0])
        row = by_key.get(task.key)
        ref = by_key.get(dataclasses.replace(task, method=EXACT).key)
        if ref is None or ref.status != "optimal":
            count[0] += 1
        elif row is not None and row.status == NOT_APPLICABLE:
            count[1] += 1
    out = []
    for (value, method, sharing), (unproven, not_applicable) in counts.items():
        gaps = np.asarray(samples.get((value, method, sharing), []), dtype=float)
        stats = (
            (float(gaps.mean()), float(np.median(gaps)), float(np.percentile(gaps, 95)), float(gaps.max()))
            if gaps.size
            else (math.nan,) * 4
        )
        out.append(
            GapStats(
                sweep.family,
                sweep.parameter,
                value,
                method,
                sharing,
                int(gaps.size),
                int(np.sum(gaps <= 1e-12)),
                *stats,
                unproven,
                not_applicable,
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# Output


def to_csv(items: Sequence[Any]) -> str:
    """CSV text of a sequence of dataclass instances of one type (a header, then one line each)."""
    if not items:
        return ""
    names = [f.name for f in dataclasses.fields(items[0])]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    for item in items:
        writer.writerow([_csv_value(getattr(item, n)) for n in names])
    return buffer.getvalue()


def _csv_value(value: Any) -> Any:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return value


def write_csv(path: str | os.PathLike[str], items: Sequence[Any]) -> None:
    """Write :func:`to_csv` of ``items`` to ``path`` atomically."""
    write_text_atomic(path, to_csv(items))


def format_table(items: Sequence[Any], columns: Sequence[str] | None = None, *, markdown: bool = False) -> str:
    """Text table of dataclass instances (floats with 4 significant digits): fixed-width or Markdown."""
    if not items:
        return "(no rows)"
    names = list(columns or [f.name for f in dataclasses.fields(items[0])])
    cells = [[_cell(getattr(item, n)) for n in names] for item in items]
    if markdown:
        lines = ["| " + " | ".join(names) + " |", "|" + "|".join("---:" for _ in names) + "|"]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in cells])
    widths = [max(len(n), *(len(c[i]) for c in cells)) for i, n in enumerate(names)]
    lines = ["  ".join(n.rjust(w) for n, w in zip(names, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.4g}"
    return str(value)
