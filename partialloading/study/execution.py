"""Running the pending tasks of a sweep: a local process pool or a Dask cluster, one row committed per task."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, Self, TypeVar

from partialloading.errors import InstanceTooLargeError, MethodNotApplicableError
from partialloading.instance import Instance
from partialloading.network import Network
from partialloading.solve import solve

from .base import (
    DASK_CONNECT_TIMEOUT_S,
    ERROR,
    EXACT,
    EXACT_ENUMERATE_MAX_USERS,
    NOT_APPLICABLE,
    ParamValue,
    StudyError,
)
from .families import make_instance
from .store import ResultStore, study_lock
from .sweep import Sweep, Task, TaskResult


class Planned(Protocol):
    """A job of the study engine: the tasks it runs."""

    @property
    def tasks(self) -> Sequence[Any]: ...


class Keyed(Protocol):
    """A task of the study engine: its row's key."""

    @property
    def key(self) -> str: ...


class Table(Protocol):
    """A store of the study engine (:class:`~partialloading.study.store.SqliteTable`)."""

    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...
    def keys(self) -> set[str]: ...
    def insert(self, row: Any) -> None: ...


J = TypeVar("J")
P = TypeVar("P", bound=Planned)
R = TypeVar("R")
S = TypeVar("S", bound=Table)
T = TypeVar("T")
K = TypeVar("K", bound=Keyed)


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


def _solve_task(instance: Instance | Network, task: Task) -> TaskResult:
    solver = task.method
    several = isinstance(instance, Network)
    if solver == EXACT:
        large = "benders" if several else "milp"
        solver = "enumerate" if instance.num_users <= EXACT_ENUMERATE_MAX_USERS else large
    row = TaskResult(
        task=task,
        solver=solver,
        status=ERROR,
        objective=None,
        bound=None,
        runtime_s=None,
        n_users=instance.num_users,
        n_models=len(instance.models),
        n_served=None,
    )
    try:
        result = solve(instance, solver, sharing=task.sharing, time_limit=task.time_limit, seed=task.seed)
    except (MethodNotApplicableError, InstanceTooLargeError) as exc:
        return dataclasses.replace(row, status=NOT_APPLICABLE, message=str(exc))
    except Exception as exc:  # a failing solve is recorded, not fatal: the other tasks go on
        return dataclasses.replace(row, message=f"{type(exc).__name__}: {exc}")
    # Every stored schedule also passes the independent verifier (a wrong one is an error row).
    from partialloading.validation.servers import verify_network_solution
    from partialloading.validation.verify import verify_solution

    if isinstance(instance, Network):
        report = verify_network_solution(instance, result.to_dict())
    else:
        report = verify_solution(instance, result.to_dict())
    served = len(result.solution.admitted)
    if not report.ok:
        return dataclasses.replace(row, message=f"verifier: {'; '.join(map(str, report.violations[:3]))}")
    return dataclasses.replace(
        row,
        status=result.status.value,
        objective=float(result.objective),
        bound=None if result.bound is None else float(result.bound),
        runtime_s=float(result.runtime),
        n_served=served,
    )


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


def die_with_parent(parent: int) -> None:
    """Worker initializer: exit when the study process dies, even by SIGKILL (Linux).

    Without it a worker finishes its current solve (minutes, for an exact method at its time
    limit) after the study that wanted the result is gone. Signals are the study process's to
    handle: a worker ignores Ctrl-C (the study stops it) and dies at once on SIGTERM.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):  # pragma: no cover - not Linux: the pool's own shutdown only
        return
    if os.getppid() != parent:  # the parent died before the call above: go now
        os._exit(1)


def default_workers() -> int:
    """Number of local worker processes by default: the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def pending_groups(tasks: Sequence[K], done: set[str], group: Callable[[K], str]) -> list[tuple[K, ...]]:
    """The tasks not in ``done`` (by their ``key``), grouped by ``group(task)`` in the order of
    ``tasks``: each group is one job, whose worker builds what the group shares once (an
    instance, a workload)."""
    grouped: dict[str, list[K]] = {}
    for task in tasks:
        if task.key not in done:
            grouped.setdefault(group(task), []).append(task)
    return [tuple(ts) for ts in grouped.values()]


def plan_jobs(tasks: Sequence[Task], done: set[str]) -> list[Job]:
    """Group the tasks not in ``done`` by instance, keeping the order of ``tasks``."""
    return [Job(ts[0].family, ts[0].params, ts[0].seed, ts) for ts in pending_groups(tasks, done, _instance_of)]


def _instance_of(task: Task) -> str:
    return task.instance_key


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
    tasks = sweep.tasks()
    keys = [t.key for t in tasks]

    def before(store: ResultStore) -> None:
        if retry_errors:
            store.delete(r.key for r in store.rows(keys) if r.status == ERROR)

    return run_stored(
        db,
        ResultStore,
        tasks,
        plan_jobs,
        run_job,
        check=sweep.check,
        failed=lambda store: tuple(r.key for r in store.rows(keys) if r.status == ERROR),
        before=before,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
        on_row=on_row,
    )


def run_stored(
    db: str | os.PathLike[str],
    open_store: Callable[[str], S],
    tasks: Sequence[T],
    plan: Callable[[Sequence[T], set[str]], list[P]],
    work: Callable[[P], list[R]],
    *,
    check: Callable[[], None],
    failed: Callable[[S], tuple[str, ...]],
    before: Callable[[S], None] | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    on_row: Callable[[R], None] | None = None,
    unit: str = "inst",
    desc: str = "instances",
) -> RunSummary:
    """The study engine: run every task of ``tasks`` not yet stored in ``db``, one row committed
    at a time, under the study's lock.

    ``plan`` groups the pending tasks into jobs (each with its ``tasks``), ``work`` runs one job
    (in a worker: a module-level function), ``check`` validates the study before any work starts,
    ``failed`` lists the stored rows that failed, and ``before`` prepares the store (e.g. deletes
    rows to retry). Solving studies (:func:`run_sweep`) and load studies
    (:func:`partialloading.online.study.run_load_sweep`) both run on it.
    """
    started = time.perf_counter()
    solved = 0
    fresh = not os.path.exists(db)
    if fresh:
        # A study that is refused leaves no database behind.
        check()
    try:
        with study_lock(db), open_store(os.fspath(db)) as store:
            if before is not None:
                before(store)
            jobs = plan(tasks, store.keys())
            skipped = len(tasks) - sum(len(job.tasks) for job in jobs)
            if jobs:
                if not fresh:
                    check()
                run = execute(work, jobs, workers=workers, scheduler=scheduler, progress=progress, unit=unit, desc=desc)
                for rows in run:
                    for row in rows:
                        store.insert(row)
                        solved += 1
                        if on_row is not None:
                            on_row(row)
            errors = failed(store)
    except BaseException:
        if fresh and solved == 0:
            # Stopped before its first row (a scheduler out of reach, an interrupt): the new
            # database holds nothing, and is not left behind.
            _remove_empty(db)
        raise
    return RunSummary(len(tasks), skipped, solved, errors, time.perf_counter() - started)


def _remove_empty(db: str | os.PathLike[str]) -> None:
    for path in (os.fspath(db), f"{os.fspath(db)}-journal", f"{os.fspath(db)}-wal", f"{os.fspath(db)}-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def execute(
    work: Callable[[J], list[R]],
    jobs: Sequence[J],
    *,
    workers: int | None,
    scheduler: str | None,
    progress: bool,
    unit: str = "inst",
    desc: str = "instances",
) -> Iterator[list[R]]:
    """Run ``work`` on every job: in this process, a local process pool or a Dask cluster.

    Yields each job's rows as soon as the job is done (in completion order), so that the caller
    commits them one job at a time. ``work`` must be a module-level function (it is pickled).
    """
    from tqdm import tqdm

    # A redrawn bar only on a terminal: in a log file it would be a line of carriage returns.
    bar = tqdm(
        total=len(jobs),
        unit=unit,
        desc=desc,
        file=sys.stderr,
        disable=not progress or not sys.stderr.isatty(),
        smoothing=0.1,
    )
    try:
        if scheduler is not None:
            yield from _on_dask(work, jobs, scheduler, bar)
        elif (workers or default_workers()) == 1:
            for job in jobs:
                yield work(job)
                bar.update(1)
        else:
            pool = cf.ProcessPoolExecutor(
                max_workers=workers or default_workers(), initializer=die_with_parent, initargs=(os.getpid(),)
            )
            try:
                yield from _drain([pool.submit(work, job) for job in jobs], bar)
            except BaseException:
                # An interrupt: stop the workers now (a solver in one would otherwise run to its
                # time limit first); the tasks they held are simply not stored.
                workers_now = getattr(pool, "_processes", None) or {}
                for process in list(workers_now.values()):
                    process.terminate()
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            pool.shutdown(wait=True)
    finally:
        bar.close()


def _on_dask(work: Callable[[J], list[R]], jobs: Sequence[J], scheduler: str, bar: Any) -> Iterator[list[R]]:
    try:
        from distributed import Client
    except ImportError:
        raise StudyError(
            "--scheduler needs Dask, from the 'distributed' extra: pip install 'partialloading[distributed]'"
        ) from None
    try:
        client = Client(scheduler, timeout=DASK_CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        raise StudyError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    try:
        # pure=False: two identical jobs must both run (they never are, but Dask must not merge them).
        executor = client.get_executor(pure=False)
        yield from _drain([executor.submit(work, job) for job in jobs], bar)
    finally:
        client.close()


def _drain(futures: list[cf.Future[list[R]]], bar: Any) -> Iterator[list[R]]:
    try:
        for future in cf.as_completed(futures):
            yield future.result()
            bar.update(1)
    finally:
        for future in futures:
            future.cancel()
