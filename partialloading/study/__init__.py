"""Studies at scale: throughput curves and optimality gaps over generated instances.

A :class:`Sweep` describes a study: an instance family, one swept parameter and its values, the
methods, the sharing modes, the seeds and the time limit. It expands into :class:`Task` objects,
one per ``(instance, method, sharing)`` solve, each with a deterministic :attr:`Task.key`.
Instances are never stored: a worker regenerates them from ``(family, parameters, seed)``.

:func:`run_sweep` solves the tasks that are not yet in the SQLite database, in parallel (a local
process pool, or a Dask cluster given its scheduler address), and the parent process commits one
row per solved task as soon as it arrives. A study that is killed and restarted with the same
sweep therefore resumes: the keys already present are skipped, and the primary key on the task
key rules out duplicates.

The analysis functions turn the rows of a sweep into throughput points (mean tasks served with a
t-based 95% confidence interval), paired comparisons (the gain of one method/sharing mode over
another on the same instances) and optimality-gap tables against the exact optimum, and the plot
functions draw them.

One module per job: :mod:`~partialloading.study.families` (instance families and transforms),
:mod:`~partialloading.study.sweep` (sweeps, tasks and their results), :mod:`~partialloading.study.store`
(SQLite), :mod:`~partialloading.study.execution` (process pool or Dask),
:mod:`~partialloading.study.analysis` (statistics, confidence intervals, CSV, tables) and
:mod:`~partialloading.study.plots`.
"""

from __future__ import annotations

from partialloading.scenarios import FREEZE_DEPTH_FAMILY, RANDOM_FAMILIES

from .analysis import (
    Comparison,
    GapSample,
    GapStats,
    ThroughputPoint,
    compare,
    format_table,
    gap_samples,
    gap_stats,
    label,
    throughput_points,
    to_csv,
    write_csv,
)
from .base import (
    DASK_CONNECT_TIMEOUT_S,
    ERROR,
    EXACT,
    EXACT_ENUMERATE_MAX_USERS,
    NOT_APPLICABLE,
    SCHEMA_VERSION,
    SOLVED,
    ParamValue,
    StudyError,
)
from .execution import Job, RunSummary, default_workers, plan_jobs, run_job, run_sweep
from .families import TRANSFORMS, families, make_instance
from .plots import plot_gaps, plot_throughput
from .store import ResultStore
from .sweep import Sweep, Task, TaskResult

__all__ = [
    "DASK_CONNECT_TIMEOUT_S",
    "ERROR",
    "EXACT",
    "EXACT_ENUMERATE_MAX_USERS",
    "FREEZE_DEPTH_FAMILY",
    "NOT_APPLICABLE",
    "RANDOM_FAMILIES",
    "SCHEMA_VERSION",
    "SOLVED",
    "TRANSFORMS",
    "Comparison",
    "GapSample",
    "GapStats",
    "Job",
    "ParamValue",
    "ResultStore",
    "RunSummary",
    "StudyError",
    "Sweep",
    "Task",
    "TaskResult",
    "ThroughputPoint",
    "compare",
    "default_workers",
    "families",
    "format_table",
    "gap_samples",
    "gap_stats",
    "label",
    "make_instance",
    "plan_jobs",
    "plot_gaps",
    "plot_throughput",
    "run_job",
    "run_sweep",
    "throughput_points",
    "to_csv",
    "write_csv",
]
