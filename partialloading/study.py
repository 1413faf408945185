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
"""

from __future__ import annotations

import concurrent.futures as cf
import csv
import dataclasses
import importlib
import io
import json
import math
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import InstanceTooLargeError, MethodNotApplicableError, PartialLoadingError
from .generators import random_instance
from .instance import Instance
from .io import write_text_atomic
from .solve import METHODS, solve

if TYPE_CHECKING:
    from matplotlib.axes import Axes

ParamValue = int | float | str | bool
"""Type of a generator parameter value (JSON scalars, so that task keys are canonical)."""

RANDOM_FAMILIES: Mapping[str, str] = {
    "random-backbone": "backbone",
    "random-general": "general",
    "random-none": "none",
}
"""Families built on :func:`partialloading.generators.random_instance`, by sharing structure.

Always available; the families of :mod:`partialloading.scenarios` (model zoo, path loss, ...)
are added when that module is present."""

TRANSFORMS: Mapping[str, str] = {
    "bandwidth_scale": "multiply the uplink bandwidth B",
    "load_speed_scale": "multiply the GPU loading speed v",
    "deadline_scale": "multiply every deadline",
}
"""Parameters the study applies to any family after generation (so every family can sweep them)."""

EXACT = "exact"
"""Pseudo-method of the gap study: enumeration up to :data:`EXACT_ENUMERATE_MAX_USERS` users, else the MILP."""

EXACT_ENUMERATE_MAX_USERS = 10

SOLVED = ("optimal", "feasible", "time_limit")
"""Row statuses that carry a valid schedule (the :class:`~partialloading.result.Status` values)."""

NOT_APPLICABLE = "not_applicable"
"""Row status of a method that refused the instance (outside its exact case, or too large)."""

ERROR = "error"
"""Row status of a solve that failed (solver error or bug); ``--retry-errors`` solves them again."""

SCHEMA_VERSION = 1
"""Version of the database schema (SQLite ``user_version``)."""

DASK_CONNECT_TIMEOUT_S = 20.0
"""How long to wait for the Dask scheduler before giving up."""


class StudyError(PartialLoadingError):
    """A study is ill-defined (unknown family, method or parameter) or its database is unusable."""


# --------------------------------------------------------------------------------------------
# Instance families


def _scenarios() -> ModuleType | None:
    try:
        return importlib.import_module("partialloading.scenarios")
    except ModuleNotFoundError as exc:
        if exc.name != "partialloading.scenarios":
            raise
        return None


FREEZE_DEPTH_FAMILY = "zoo-freeze-depth"
"""The ``zoo-freeze`` family with one freeze depth for every variant: parameter ``frozen_fraction``.

``zoo-freeze`` draws each variant's depth at random; this family sets it, so that a sweep over
``frozen_fraction`` (0: fully fine-tuned copies share nothing; 1: only the heads differ) measures
throughput against the depth of sharing. Everything else (users, inputs, radio, deadlines) is
the ``zoo-freeze`` instance of the same seed and parameters."""


def families() -> tuple[str, ...]:
    """Names of every instance family a sweep can use."""
    names = list(RANDOM_FAMILIES)
    scenarios = _scenarios()
    if scenarios is not None:
        names += [name for name in scenarios.FAMILIES if name not in names]
        names.append(FREEZE_DEPTH_FAMILY)
    return tuple(names)


def make_instance(family: str, seed: int, params: Mapping[str, ParamValue]) -> Instance:
    """Generate the instance of ``family`` with parameters ``params`` and seed ``seed``.

    Parameters
    ----------
    family
        One of :func:`families`.
    seed
        Seed of the generator; the same arguments always give the same instance.
    params
        Generator keyword arguments, plus any of :data:`TRANSFORMS`, applied afterwards.

    Raises
    ------
    StudyError
        Unknown family, or a parameter the family does not take.
    """
    gen_params: dict[str, Any] = {k: v for k, v in params.items() if k not in TRANSFORMS}
    if family in RANDOM_FAMILIES:
        try:
            gen_params["structure"] = RANDOM_FAMILIES[family]
            instance = random_instance(seed, **gen_params)
        except (TypeError, ValueError) as exc:
            raise StudyError(f"family {family!r}: {exc}") from None
    elif family == FREEZE_DEPTH_FAMILY and _scenarios() is not None:
        instance = _freeze_depth(seed, gen_params)
    else:
        scenarios = _scenarios()
        if scenarios is None or family not in scenarios.FAMILIES:
            raise StudyError(f"unknown family {family!r} (choose from {', '.join(families())})")
        try:
            instance = scenarios.generate(family, seed, **gen_params)
        except (TypeError, ValueError) as exc:
            raise StudyError(f"family {family!r}: {exc}") from None
    return _transform(instance, params)


def _freeze_depth(seed: int, params: dict[str, Any]) -> Instance:
    from . import scenarios, zoo

    fraction = params.pop("frozen_fraction", None)
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 <= fraction <= 1:
        raise StudyError(f"{FREEZE_DEPTH_FAMILY} needs frozen_fraction in [0, 1] (got {fraction!r})")
    try:
        cfg = scenarios.config("zoo-freeze", **params)
        base = scenarios.generate("zoo-freeze", seed, **params)
    except (TypeError, ValueError) as exc:
        raise StudyError(f"family {FREEZE_DEPTH_FAMILY!r}: {exc}") from None
    if not isinstance(cfg, scenarios.ZooFreezeConfig):
        raise StudyError(f"family {FREEZE_DEPTH_FAMILY!r}: zoo-freeze built a {type(cfg).__name__}")
    arch = zoo.load(cfg.architecture)
    depth = round(fraction * arch.depth)
    variants = base.num_models - 1 if cfg.include_base else base.num_models
    family = zoo.freeze_family(
        arch,
        [depth] * variants,
        include_base=cfg.include_base,
        precision=cfg.precision,
        infer_time_s=base.models[0].infer_time_s,
    )
    # Same model positions as zoo-freeze (base first, then the variants): users keep their request.
    rename = {old.id: new.id for old, new in zip(base.models, family.models, strict=True)}
    used = {b for m in family.models for b in m.blocks}
    return dataclasses.replace(
        base,
        blocks=tuple(b for b in family.blocks if b.id in used),
        models=family.models,
        users=tuple(dataclasses.replace(u, model=rename[u.model]) for u in base.users),
        initial_model=None if base.initial_model is None else rename[base.initial_model],
        name=f"{base.name}-frozen{depth}",
        meta={**dict(base.meta), "frozen_depth": depth},
    )


def _transform(instance: Instance, params: Mapping[str, ParamValue]) -> Instance:
    scales = {}
    for name in TRANSFORMS:
        if name in params:
            value = params[name]
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise StudyError(f"{name} must be a positive number (got {value!r})")
            scales[name] = float(value)
    if not scales:
        return instance
    users = instance.users
    if "deadline_scale" in scales:
        users = tuple(
            dataclasses.replace(u, deadline_s=u.deadline_s * scales["deadline_scale"]) for u in instance.users
        )
    return dataclasses.replace(
        instance,
        users=users,
        bandwidth_hz=instance.bandwidth_hz * scales.get("bandwidth_scale", 1.0),
        load_speed_bytes_per_s=instance.load_speed_bytes_per_s * scales.get("load_speed_scale", 1.0),
    )


# --------------------------------------------------------------------------------------------
# Sweeps and tasks


def _canonical(params: Mapping[str, ParamValue]) -> str:
    return json.dumps(dict(sorted(params.items())), separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True)
class Task:
    """One solve of a study: an instance (family, parameters, seed), a method and a sharing mode.

    Attributes
    ----------
    family
        Instance family.
    params
        Every generator parameter of the instance (the fixed ones and the swept one), sorted.
    parameter
        Name of the swept parameter.
    value
        Its value for this task.
    seed
        Generator seed (also passed to the method).
    method
        Method name, or :data:`EXACT`.
    sharing
        Schedule with parameter sharing (``False``: the no-sharing baseline).
    time_limit
        Time limit of the method in seconds, or ``None``.
    """

    family: str
    params: tuple[tuple[str, ParamValue], ...]
    parameter: str
    value: ParamValue
    seed: int
    method: str
    sharing: bool
    time_limit: float | None

    @property
    def instance_key(self) -> str:
        """Deterministic identifier of the instance: family, canonical parameters and seed."""
        return f"{self.family}|{_canonical(dict(self.params))}|seed={self.seed}"

    @property
    def key(self) -> str:
        """Deterministic identifier of the task (primary key of its database row)."""
        limit = "none" if self.time_limit is None else repr(float(self.time_limit))
        return f"{self.instance_key}|{self.method}|sharing={int(self.sharing)}|tl={limit}"


@dataclass(frozen=True)
class Sweep:
    """Definition of a study: which instances, which methods, which sharing modes.

    Parameters
    ----------
    family
        Instance family (see :func:`families`).
    parameter
        Swept generator parameter (e.g. ``"n_users"``, ``"tightness"``, ``"bandwidth_scale"``).
    values
        Its values.
    methods
        Methods to run on every instance (:data:`EXACT` adds the exact optimum of the gap study).
    sharing
        Sharing modes (``True``: sharing-aware; ``False``: the no-sharing baseline).
    seeds
        Generator seeds: one instance per value and seed.
    time_limit
        Time limit per solve in seconds (``None``: none).
    fixed
        Other generator parameters, the same for every instance (a mapping is accepted too).
    """

    family: str
    parameter: str
    values: tuple[ParamValue, ...]
    methods: tuple[str, ...] = ("greedy", "edf")
    sharing: tuple[bool, ...] = (True, False)
    seeds: tuple[int, ...] = tuple(range(10))
    time_limit: float | None = 10.0
    fixed: tuple[tuple[str, ParamValue], ...] = ()

    def __post_init__(self) -> None:
        fixed = self.fixed.items() if isinstance(self.fixed, Mapping) else self.fixed
        object.__setattr__(self, "fixed", tuple(sorted((str(k), v) for k, v in fixed)))
        for name in ("values", "methods", "sharing", "seeds"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        for name in ("values", "methods", "sharing", "seeds"):
            items = getattr(self, name)
            if not items:
                raise StudyError(f"a sweep needs at least one of {name}")
            if len(set(items)) != len(items):
                raise StudyError(f"repeated {name}: {', '.join(map(str, items))}")
        for method in self.methods:
            if method != EXACT and method not in METHODS:
                raise StudyError(f"unknown method {method!r} (choose from {', '.join((*METHODS, EXACT))})")
        if self.parameter in dict(self.fixed):
            raise StudyError(f"parameter {self.parameter!r} is both swept and fixed")
        if self.time_limit is not None and not self.time_limit > 0:
            raise StudyError(f"time limit must be positive (got {self.time_limit})")

    def params(self, value: ParamValue) -> dict[str, ParamValue]:
        """Generator parameters of the instances at ``value``."""
        return {**dict(self.fixed), self.parameter: value}

    def tasks(self) -> list[Task]:
        """Every task of the sweep, in a deterministic order (value, seed, method, sharing)."""
        return [
            Task(
                family=self.family,
                params=tuple(sorted(self.params(value).items())),
                parameter=self.parameter,
                value=value,
                seed=seed,
                method=method,
                sharing=sharing,
                time_limit=self.time_limit,
            )
            for value in self.values
            for seed in self.seeds
            for method in self.methods
            for sharing in self.sharing
        ]

    def check(self) -> None:
        """Check that every method is available and generate one instance per value (first seed), so
        that a bad sweep fails before any work.

        Raises
        ------
        StudyError
            A method's solver is not installed, or the family or a parameter is not accepted.
        """
        for method in self.methods:
            for name in ("enumerate", "milp") if method == EXACT else (method,):
                try:
                    METHODS[name].load()
                except (ImportError, AttributeError) as exc:
                    raise StudyError(f"method {name!r} is not available ({exc})") from None
        for value in self.values:
            try:
                make_instance(self.family, self.seeds[0], self.params(value))
            except StudyError:
                raise
            except (PartialLoadingError, ValueError) as exc:
                raise StudyError(f"family {self.family!r} with {self.parameter}={value!r}: {exc}") from None


# --------------------------------------------------------------------------------------------
# Solving (runs in the workers)


@dataclass(frozen=True)
class TaskResult:
    """One database row: the outcome of one task.

    Attributes
    ----------
    key, instance_key
        :attr:`Task.key` and :attr:`Task.instance_key`.
    family, parameter, value, seed, method, sharing, time_limit
        As in :class:`Task`.
    solver
        The method that actually ran (``method`` itself, or what :data:`EXACT` resolved to).
    status
        A :class:`~partialloading.result.Status` value (the schedule passed the independent
        verifier), :data:`NOT_APPLICABLE` or :data:`ERROR`.
    objective
        Total weight served (tasks served with unit weights); ``None`` unless solved.
    bound
        Best proven upper bound reported by the method, or ``None``.
    runtime_s
        Wall-clock seconds spent in the method (generation excluded).
    n_users, n_models
        Size of the instance.
    n_served
        Number of admitted users; ``None`` unless solved.
    message
        Why the method refused or failed; empty otherwise.
    """

    key: str
    instance_key: str
    family: str
    parameter: str
    value: ParamValue
    seed: int
    method: str
    sharing: bool
    time_limit: float | None
    solver: str
    status: str
    objective: float | None
    bound: float | None
    runtime_s: float | None
    n_users: int
    n_models: int
    n_served: int | None
    message: str = ""

    @property
    def solved(self) -> bool:
        """Whether the row carries a valid schedule."""
        return self.status in SOLVED


@dataclass(frozen=True)
class Job:
    """The pending tasks of one instance: a worker generates the instance once and solves them all."""

    family: str
    params: tuple[tuple[str, ParamValue], ...]
    seed: int
    tasks: tuple[Task, ...]


def run_job(job: Job) -> list[TaskResult]:
    """Generate the instance of ``job`` and solve its tasks (the function the workers run)."""
    instance = make_instance(job.family, job.seed, dict(job.params))
    return [_solve_task(instance, task) for task in job.tasks]


def _solve_task(instance: Instance, task: Task) -> TaskResult:
    solver = task.method
    if solver == EXACT:
        solver = "enumerate" if instance.num_users <= EXACT_ENUMERATE_MAX_USERS else "milp"
    row = TaskResult(
        key=task.key,
        instance_key=task.instance_key,
        family=task.family,
        parameter=task.parameter,
        value=task.value,
        seed=task.seed,
        method=task.method,
        sharing=task.sharing,
        time_limit=task.time_limit,
        solver=solver,
        status=ERROR,
        objective=None,
        bound=None,
        runtime_s=None,
        n_users=instance.num_users,
        n_models=instance.num_models,
        n_served=None,
    )
    try:
        result = solve(instance, solver, sharing=task.sharing, time_limit=task.time_limit, seed=task.seed)
    except (MethodNotApplicableError, InstanceTooLargeError) as exc:
        return dataclasses.replace(row, status=NOT_APPLICABLE, message=str(exc))
    except Exception as exc:  # a failing solve is recorded, not fatal: the other tasks go on
        return dataclasses.replace(row, message=f"{type(exc).__name__}: {exc}")
    # Every stored schedule also passes the independent verifier (a wrong one is an error row).
    from .validation.verify import verify_solution

    report = verify_solution(instance, result.to_dict())
    if not report.ok:
        return dataclasses.replace(row, message=f"verifier: {'; '.join(map(str, report.violations[:3]))}")
    return dataclasses.replace(
        row,
        status=result.status.value,
        objective=float(result.objective),
        bound=None if result.bound is None else float(result.bound),
        runtime_s=float(result.runtime),
        n_served=len(result.solution.order),
    )


# --------------------------------------------------------------------------------------------
# Storage

_COLUMNS: tuple[tuple[str, str], ...] = (
    ("key", "TEXT PRIMARY KEY"),
    ("instance_key", "TEXT NOT NULL"),
    ("family", "TEXT NOT NULL"),
    ("parameter", "TEXT NOT NULL"),
    ("value", "NOT NULL"),  # int, float or text: SQLite keeps the type
    ("seed", "INTEGER NOT NULL"),
    ("method", "TEXT NOT NULL"),
    ("sharing", "INTEGER NOT NULL"),
    ("time_limit", "REAL"),
    ("solver", "TEXT NOT NULL"),
    ("status", "TEXT NOT NULL"),
    ("objective", "REAL"),
    ("bound", "REAL"),
    ("runtime_s", "REAL"),
    ("n_users", "INTEGER NOT NULL"),
    ("n_models", "INTEGER NOT NULL"),
    ("n_served", "INTEGER"),
    ("message", "TEXT NOT NULL"),
    ("finished_utc", "TEXT NOT NULL"),
)
_FIELDS = tuple(f.name for f in dataclasses.fields(TaskResult))


class ResultStore:
    """The SQLite database of a study: table ``results``, one row per task, keyed by :attr:`Task.key`.

    Each :meth:`insert` is committed at once (write-ahead log), so a killed study loses at most
    the tasks that were still running. Only the process that runs the study writes.

    Parameters
    ----------
    path
        Database file (created if missing).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        try:
            self._conn = sqlite3.connect(self.path)
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise StudyError(f"{self.path}: study database schema {version} (expected {SCHEMA_VERSION})")
            self._conn.execute("PRAGMA journal_mode=WAL")
            columns = ", ".join(f"{name} {kind}" for name, kind in _COLUMNS)
            self._conn.execute(f"CREATE TABLE IF NOT EXISTS results ({columns})")
            self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._conn.commit()
        except sqlite3.DatabaseError as exc:
            raise StudyError(f"{self.path}: not a usable study database ({exc})") from None

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def keys(self) -> set[str]:
        """Keys of every stored task."""
        return {row[0] for row in self._conn.execute("SELECT key FROM results")}

    def insert(self, row: TaskResult) -> None:
        """Store ``row`` and commit (a key already present is an error: it would be a duplicate)."""
        values = [getattr(row, name) for name in _FIELDS]
        values[_FIELDS.index("sharing")] = int(row.sharing)
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        marks = ", ".join("?" * (len(_FIELDS) + 1))
        self._conn.execute(
            f"INSERT INTO results ({', '.join(_FIELDS)}, finished_utc) VALUES ({marks})", [*values, stamp]
        )
        self._conn.commit()

    def delete(self, keys: Iterable[str]) -> int:
        """Delete the rows of ``keys``; returns how many there were."""
        count = 0
        for key in keys:
            count += self._conn.execute("DELETE FROM results WHERE key = ?", (key,)).rowcount
        self._conn.commit()
        return count

    def rows(self, keys: Iterable[str] | None = None) -> list[TaskResult]:
        """Stored rows (of ``keys`` only, if given), sorted by key."""
        cursor = self._conn.execute(f"SELECT {', '.join(_FIELDS)} FROM results ORDER BY key")
        wanted = None if keys is None else set(keys)
        out = []
        for values in cursor:
            record = dict(zip(_FIELDS, values, strict=True))
            if wanted is not None and record["key"] not in wanted:
                continue
            record["sharing"] = bool(record["sharing"])
            out.append(TaskResult(**record))
        return out


# --------------------------------------------------------------------------------------------
# Running


@dataclass(frozen=True)
class RunSummary:
    """What :func:`run_sweep` did.

    Attributes
    ----------
    tasks
        Tasks of the sweep.
    skipped
        Tasks already in the database (not solved again).
    solved
        Tasks solved and stored by this run.
    errors
        Keys of the tasks of the sweep whose stored status is :data:`ERROR`.
    elapsed_s
        Wall-clock seconds of the run.
    """

    tasks: int
    skipped: int
    solved: int
    errors: tuple[str, ...]
    elapsed_s: float


def default_workers() -> int:
    """Number of local worker processes by default: the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def plan_jobs(tasks: Sequence[Task], done: set[str]) -> list[Job]:
    """Group the tasks not in ``done`` by instance, keeping the order of ``tasks``."""
    grouped: dict[str, list[Task]] = {}
    for task in tasks:
        if task.key not in done:
            grouped.setdefault(task.instance_key, []).append(task)
    return [Job(ts[0].family, ts[0].params, ts[0].seed, tuple(ts)) for ts in grouped.values()]


def run_sweep(
    sweep: Sweep,
    db: str | os.PathLike[str],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    retry_errors: bool = False,
    on_row: Callable[[TaskResult], None] | None = None,
) -> RunSummary:
    """Solve every task of ``sweep`` that is not yet in the database ``db``.

    Parameters
    ----------
    sweep
        The study.
    db
        SQLite database file; rows already present are kept and their tasks skipped.
    workers
        Local worker processes (default: all cores; ``1``: solve in this process). Ignored with
        ``scheduler``.
    scheduler
        Address of a Dask scheduler (``tcp://host:port``): solve on that cluster instead.
    progress
        Show a progress bar (instances done, rate, ETA) on stderr.
    retry_errors
        Solve again the tasks whose stored status is :data:`ERROR`.
    on_row
        Called with every row right after it is committed.

    Raises
    ------
    StudyError
        Bad sweep parameters, unusable database, or unreachable scheduler.
    """
    started = time.perf_counter()
    tasks = sweep.tasks()
    keys = [t.key for t in tasks]
    solved = 0
    with ResultStore(db) as store:
        if retry_errors:
            store.delete(r.key for r in store.rows(keys) if r.status == ERROR)
        done = store.keys()
        jobs = plan_jobs(tasks, done)
        skipped = len(tasks) - sum(len(j.tasks) for j in jobs)
        if jobs:
            sweep.check()
            for rows in _execute(jobs, workers=workers, scheduler=scheduler, progress=progress):
                for row in rows:
                    store.insert(row)
                    solved += 1
                    if on_row is not None:
                        on_row(row)
        errors = tuple(r.key for r in store.rows(keys) if r.status == ERROR)
    return RunSummary(len(tasks), skipped, solved, errors, time.perf_counter() - started)


def _execute(
    jobs: Sequence[Job], *, workers: int | None, scheduler: str | None, progress: bool
) -> Iterator[list[TaskResult]]:
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), unit="inst", desc="instances", file=sys.stderr, disable=not progress, smoothing=0.1)
    try:
        if scheduler is not None:
            yield from _on_dask(jobs, scheduler, bar)
        elif (workers or default_workers()) == 1:
            for job in jobs:
                yield run_job(job)
                bar.update(1)
        else:
            pool = cf.ProcessPoolExecutor(max_workers=workers or default_workers())
            try:
                yield from _drain([pool.submit(run_job, job) for job in jobs], bar)
            finally:
                # On an interrupt, do not wait for the queued jobs: their tasks are simply not stored.
                pool.shutdown(wait=False, cancel_futures=True)
    finally:
        bar.close()


def _on_dask(jobs: Sequence[Job], scheduler: str, bar: Any) -> Iterator[list[TaskResult]]:
    from distributed import Client

    try:
        client = Client(scheduler, timeout=DASK_CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        raise StudyError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    try:
        # pure=False: two identical jobs must both run (they never are, but Dask must not merge them).
        executor = client.get_executor(pure=False)
        yield from _drain([executor.submit(run_job, job) for job in jobs], bar)
    finally:
        client.close()


def _drain(futures: list[cf.Future[list[TaskResult]]], bar: Any) -> Iterator[list[TaskResult]]:
    try:
        for future in cf.as_completed(futures):
            yield future.result()
            bar.update(1)
    finally:
        for future in futures:
            future.cancel()


# --------------------------------------------------------------------------------------------
# Analysis


def _t95(n: int) -> float:
    from scipy.stats import t

    return float(t.ppf(0.975, n - 1)) if n > 1 else math.nan


def _mean_ci(values: Sequence[float]) -> tuple[float, float, float]:
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
        mean, std, ci = _mean_ci(served)
        f_mean, _, f_ci = _mean_ci(fraction)
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
        index[(r.instance_key, r.method, r.sharing)] = r
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
        diff_mean, _, diff_ci = _mean_ci([p[0] - p[1] for p in pv])
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


__all__ = [
    "EXACT",
    "RANDOM_FAMILIES",
    "TRANSFORMS",
    "Comparison",
    "GapSample",
    "GapStats",
    "Job",
    "ResultStore",
    "RunSummary",
    "StudyError",
    "Sweep",
    "Task",
    "TaskResult",
    "ThroughputPoint",
    "compare",
    "families",
    "format_table",
    "gap_samples",
    "gap_stats",
    "label",
    "make_instance",
    "plot_gaps",
    "plot_throughput",
    "run_job",
    "run_sweep",
    "throughput_points",
    "to_csv",
    "write_csv",
]
