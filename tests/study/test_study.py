"""Studies: sweeps, the resumable SQLite runner (local pool, in-process, Dask), aggregation, CLI."""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from partialloading import study
from partialloading.cli import main
from partialloading.errors import SolverError
from partialloading.memory import memory_of
from partialloading.result import Result
from partialloading.study import (
    EXACT,
    ResultStore,
    StudyError,
    Sweep,
    TaskResult,
    compare,
    gap_stats,
    make_instance,
    run_sweep,
    throughput_points,
)

from processes import kill_midway

# Fast exact and heuristic methods: the tests do not depend on the speed of the big solvers.
TINY = Sweep(
    family="random-backbone",
    parameter="tightness",
    values=(0.3, 0.8),
    methods=("enumerate", "edf"),
    sharing=(True, False),
    seeds=(0, 1, 2),
    time_limit=30.0,
    fixed={"n_users": 6, "n_models": 3},
)


def comparable(rows: list[TaskResult]) -> list[TaskResult]:
    """Rows without their runtimes (the only field allowed to differ between runs)."""
    return [dataclasses.replace(r, runtime_s=None) for r in rows]


def stored(db: Path) -> list[TaskResult]:
    with ResultStore(db) as store:
        return store.rows()


def test_task_key_is_readable_and_stable():
    # Resuming relies on keys staying the same across runs and versions: pin the format.
    task = TINY.tasks()[0]
    assert task.instance_key == 'random-backbone|{"n_models":3,"n_users":6,"tightness":0.3}|seed=0'
    assert task.key == task.instance_key + "|enumerate|sharing=1|tl=30.0"
    keys = [t.key for t in TINY.tasks()]
    assert len(keys) == len(set(keys)) == 2 * 3 * 2 * 2
    assert keys == [t.key for t in dataclasses.replace(TINY).tasks()]


@pytest.mark.parametrize(
    "changes",
    [
        {"methods": ("nope",)},
        {"values": ()},
        {"seeds": (1, 1)},
        {"fixed": {"tightness": 0.5}},  # both swept and fixed
        {"time_limit": 0.0},
    ],
)
def test_bad_sweeps_are_refused(changes):
    with pytest.raises(StudyError):
        dataclasses.replace(TINY, **changes)


def test_unknown_family_or_parameter_fails_before_any_work(tmp_path):
    with pytest.raises(StudyError, match="unknown family"):
        make_instance("no-such-family", 0, {})
    bad = dataclasses.replace(TINY, fixed={"n_users": 6, "colour": "red"})
    db = tmp_path / "s.sqlite"
    with pytest.raises(StudyError, match="colour"):
        run_sweep(bad, db, workers=1, progress=False)
    assert stored(db) == []


def test_instances_are_regenerated_identically_and_transforms_apply():
    params = {"n_users": 7, "tightness": 0.5}
    base = make_instance("random-general", 4, params)
    assert make_instance("random-general", 4, params) == base
    assert make_instance("random-general", 5, params) != base
    scaled = make_instance(
        "random-general", 4, {**params, "bandwidth_scale": 2, "load_speed_scale": 0.5, "deadline_scale": 3}
    )
    assert scaled.bandwidth_hz == 2 * base.bandwidth_hz
    assert scaled.load_speed_bytes_per_s == 0.5 * base.load_speed_bytes_per_s
    assert [u.deadline_s for u in scaled.users] == [3 * u.deadline_s for u in base.users]
    with pytest.raises(StudyError, match="bandwidth_scale"):
        make_instance("random-general", 4, {"bandwidth_scale": -1})


def test_run_stores_one_row_per_task_and_is_deterministic(tmp_path):
    serial = tmp_path / "serial.sqlite"
    pooled = tmp_path / "pooled.sqlite"
    summary = run_sweep(TINY, serial, workers=1, progress=False)
    assert (summary.tasks, summary.solved, summary.skipped, summary.errors) == (24, 24, 0, ())
    run_sweep(TINY, pooled, workers=2, progress=False)
    rows = stored(serial)
    assert [r.key for r in rows] == sorted(t.key for t in TINY.tasks())
    assert all(r.solved and r.objective == r.n_served for r in rows)  # unit weights
    assert comparable(stored(pooled)) == comparable(rows)
    # Sharing never hurts the exact optimum: a no-sharing schedule stays feasible with sharing.
    by_key = {r.key: r for r in rows}
    for t in TINY.tasks():
        if t.method == "enumerate" and t.sharing:
            assert by_key[t.key].status == "optimal"
            baseline = by_key[dataclasses.replace(t, sharing=False).key]
            assert by_key[t.key].objective >= baseline.objective
    # Rerunning the same sweep solves nothing.
    again = run_sweep(TINY, serial, workers=2, progress=False)
    assert (again.solved, again.skipped) == (0, 24)


def test_interrupted_run_resumes_without_losing_or_duplicating(tmp_path):
    reference = tmp_path / "ref.sqlite"
    run_sweep(TINY, reference, workers=1, progress=False)
    db = tmp_path / "s.sqlite"
    seen = []

    def crash(row):
        seen.append(row.key)
        if len(seen) == 7:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(TINY, db, workers=1, progress=False, on_row=crash)
    assert len(stored(db)) == 7
    summary = run_sweep(TINY, db, workers=1, progress=False)
    assert (summary.skipped, summary.solved) == (7, 17)
    assert comparable(stored(db)) == comparable(stored(reference))


def test_failed_solves_are_recorded_and_retried(tmp_path, monkeypatch):
    real = study.execution.solve

    def flaky(instance, method, **kw):
        if method == "edf" and kw["sharing"]:
            raise SolverError("simulated failure")
        return real(instance, method, **kw)

    db = tmp_path / "s.sqlite"
    monkeypatch.setattr(study.execution, "solve", flaky)
    summary = run_sweep(TINY, db, workers=1, progress=False)  # workers=1: solved in this process
    assert len(summary.errors) == 6
    failed = [r for r in stored(db) if r.status == study.ERROR]
    assert {r.message for r in failed} == {"SolverError: simulated failure"}
    monkeypatch.setattr(study.execution, "solve", real)
    assert run_sweep(TINY, db, workers=1, progress=False).solved == 0  # errors are kept ...
    summary = run_sweep(TINY, db, workers=1, progress=False, retry_errors=True)  # ... until retried
    assert (summary.solved, summary.errors) == (6, ())


def test_schedules_failing_the_independent_verifier_are_not_stored_as_solved(tmp_path, monkeypatch):
    real = study.execution.solve

    class Overstated(Result):
        def to_dict(self):
            doc = super().to_dict()
            doc["objective"] += 1  # claims one more task than the schedule serves
            return doc

    def overstating(instance, method, **kw):
        result = real(instance, method, **kw)
        fields = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
        return Overstated(**fields) if method == "edf" else result

    monkeypatch.setattr(study.execution, "solve", overstating)
    db = tmp_path / "s.sqlite"
    run_sweep(TINY, db, workers=1, progress=False)
    rows = stored(db)
    assert {r.status for r in rows if r.task.method == "edf"} == {study.ERROR}
    assert all(r.message.startswith("verifier: ") for r in rows if r.task.method == "edf")
    assert all(r.solved for r in rows if r.task.method == "enumerate")


def test_dask_cluster_gives_the_same_rows_as_the_local_pool(tmp_path):
    distributed = pytest.importorskip("distributed")
    local = tmp_path / "local.sqlite"
    remote = tmp_path / "dask.sqlite"
    run_sweep(TINY, local, workers=2, progress=False)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as c:
        summary = run_sweep(TINY, remote, scheduler=c.scheduler_address, progress=False)
    assert summary.solved == 24
    assert comparable(stored(remote)) == comparable(stored(local))


def test_unreachable_scheduler_is_a_clean_error(tmp_path, monkeypatch):
    monkeypatch.setattr(study.execution, "DASK_CONNECT_TIMEOUT_S", 1.0)
    with pytest.raises(StudyError, match="Dask scheduler"):
        run_sweep(TINY, tmp_path / "s.sqlite", scheduler="tcp://127.0.0.1:9", progress=False)


def _count(db: Path) -> int:
    try:
        with sqlite3.connect(db) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM results").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_killed_study_resumes_without_losing_or_duplicating(tmp_path):
    # 14 users: greedy runs its local search (a few tenths of a second), so the kill lands midway.
    args = [
        "study", "throughput", "--family", "random-general", "--param", "tightness", "--values", "0.5",
        "--methods", "greedy", "edf", "--seeds", "12", "--set", "n_users=14", "n_models=4",
        "--time-limit", "60", "--workers", "2", "--no-progress",
    ]  # fmt: skip
    db = tmp_path / "killed.sqlite"
    full = [*args, "--db", str(db), "--csv", str(tmp_path / "k.csv")]
    at_kill = kill_midway(full, tmp_path, lambda: _count(db))
    assert 1 <= at_kill < 48, "the kill must land while the study runs"
    assert main(full) == 0  # restart with the same arguments
    resumed = stored(db)
    reference = tmp_path / "ref.sqlite"
    assert main([*args, "--db", str(reference), "--csv", str(tmp_path / "r.csv")]) == 0
    assert len(resumed) == len({r.key for r in resumed}) == 48
    assert comparable(resumed) == comparable(stored(reference))


def _row(task, objective: float | None, status: str = "optimal", n_users: int = 10) -> TaskResult:
    return TaskResult(
        task=task,
        solver=task.method,
        status=status,
        objective=objective,
        bound=None,
        runtime_s=0.0,
        n_users=n_users,
        n_models=2,
        n_served=None if objective is None else int(objective),
    )


def test_throughput_points_and_gains_by_hand():
    sweep = Sweep("random-backbone", "n_users", (10,), methods=("greedy",), seeds=(0, 1, 2), fixed={})
    served = {True: [4, 6, 8], False: [3, 5, 4]}
    rows = [_row(t, served[t.sharing][t.seed]) for t in sweep.tasks()]
    on, off = throughput_points(sweep, rows)
    assert (on.sharing, on.n, on.served_mean, on.fraction_mean) == (True, 3, 6.0, 0.6)
    # s = 2, t(0.975, df=2) = 4.302653: half-width 4.302653 * 2 / sqrt(3).
    assert on.served_ci95 == pytest.approx(4.302653 * 2 / math.sqrt(3), rel=1e-6)
    assert off.served_mean == 4.0
    (gain,) = compare(sweep, rows, ("greedy", True), ("greedy", False))
    # Paired differences 1, 1, 4: mean 2, s = sqrt(3).
    assert (gain.n, gain.diff_mean, gain.gain) == (3, 2.0, 0.5)
    assert gain.diff_ci95 == pytest.approx(4.302653 * math.sqrt(3) / math.sqrt(3), rel=1e-6)
    # A missing row is reported, not silently averaged as zero.
    (on_missing, _) = throughput_points(sweep, rows[1:])
    assert (on_missing.n, on_missing.n_missing, on_missing.served_mean) == (2, 1, 7.0)


def test_gap_stats_by_hand():
    sweep = Sweep("random-backbone", "n_users", (10,), methods=(EXACT, "greedy", "dp"), sharing=(True,), seeds=range(5))
    optimum = [10, 8, 5, 4, 0]
    greedy = [10, 6, 5, 3, 0]  # gaps 0, 0.25, 0, 0.25, 0 (optimum 0 counts as gap 0)
    rows = []
    for t in sweep.tasks():
        if t.method == EXACT:
            # Seed 3: the exact method stopped at its time limit, so that instance is left out.
            rows.append(_row(t, optimum[t.seed], "feasible" if t.seed == 3 else "optimal"))
        elif t.method == "greedy":
            rows.append(_row(t, greedy[t.seed], "feasible"))
        else:
            rows.append(_row(t, None, study.NOT_APPLICABLE))
    g, dp = gap_stats(sweep, rows)
    assert (g.method, g.n, g.n_optimal, g.n_unproven) == ("greedy", 4, 3, 1)
    assert (g.mean, g.median, g.max) == (0.0625, 0.0, 0.25)
    assert g.p95 == pytest.approx(0.25 * 0.85)  # numpy's linear interpolation between 0 and 0.25
    assert (dp.n, dp.n_not_applicable, dp.n_unproven) == (0, 4, 1)
    assert math.isnan(dp.mean)


def test_cli_throughput_writes_csv_gains_and_plot(tmp_path, capsys):
    csv_path = tmp_path / "tp.csv"
    argv = [
        "study", "throughput", "--family", "random-backbone", "--param", "tightness", "--values", "0.3", "0.8",
        "--methods", "enumerate", "edf", "--seeds", "3", "--set", "n_users=6", "n_models=3",
        "--time-limit", "30", "--db", str(tmp_path / "s.sqlite"), "--csv", str(csv_path), "--no-progress",
    ]  # fmt: skip
    assert main(argv) == 0
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("family,parameter,value,method,sharing,n,served_mean,")
    assert len(lines) == 1 + 2 * 2 * 2  # one line per (value, method, sharing)
    gains = (tmp_path / "tp-gains.csv").read_text().splitlines()
    # Per value: each method vs itself without sharing, enumerate vs edf with and without sharing.
    assert len(gains) == 1 + 2 * (2 + 1 + 1)
    assert (tmp_path / "tp.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The CLI and the API store the same rows.
    assert comparable(stored(tmp_path / "s.sqlite")) == comparable(stored_after(TINY, tmp_path / "api.sqlite"))
    assert "enumerate (sharing)" in capsys.readouterr().out


def stored_after(sweep: Sweep, db: Path) -> list[TaskResult]:
    run_sweep(sweep, db, workers=1, progress=False)
    return stored(db)


def test_cli_gap_table(tmp_path, capsys):
    csv_path = tmp_path / "gap.csv"
    argv = [
        "study", "gap", "--family", "random-backbone", "random-general", "--values", "5", "7",
        "--methods", "edf", "--seeds", "4", "--db", str(tmp_path / "s.sqlite"), "--csv", str(csv_path),
        "--workers", "1", "--no-progress",
    ]  # fmt: skip
    assert main(argv) == 0
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("family,parameter,value,method,sharing,n,n_optimal,mean,median,p95,max")
    assert len(lines) == 1 + 2 * 2
    for row in stored(tmp_path / "s.sqlite"):
        assert row.status in ("optimal", "feasible")
        assert row.solver == ("enumerate" if row.task.method == EXACT else "edf")
    assert "random-general" in capsys.readouterr().out
    assert csv_path.with_suffix(".png").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--family", "nope"], "unknown family"),
        (["--family", "random-backbone", "--methods", "nope"], "unknown method"),
        (["--family", "random-backbone", "--set", "n_users"], "NAME=VALUE"),
        (["--family", "random-backbone", "--seeds", "0"], "--seeds"),
    ],
)
def test_cli_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, extra, message):
    db = tmp_path / "s.sqlite"
    argv = ["study", "throughput", "--param", "tightness", "--values", "0.5", "--db", str(db), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not db.exists()


def test_freeze_depth_family_sets_the_depth_of_sharing():
    pytest.importorskip("partialloading.scenarios")
    from partialloading import scenarios

    params = {"n_users": 8, "n_models": 4}
    drawn = scenarios.generate("zoo-freeze", 3, **params)
    none = make_instance(study.FREEZE_DEPTH_FAMILY, 3, {**params, "frozen_fraction": 0.0})
    full = make_instance(study.FREEZE_DEPTH_FAMILY, 3, {**params, "frozen_fraction": 1.0})
    for inst in (none, full):
        # Same users, inputs and deadlines as zoo-freeze; only the block structure changes.
        assert [(u.data_bits, u.deadline_s) for u in inst.users] == [(u.data_bits, u.deadline_s) for u in drawn.users]
        assert inst.num_models == drawn.num_models

    def shared(inst):
        return {b for m in inst.models for b in m.blocks if sum(b in n.blocks for n in inst.models) > 1}

    assert shared(none) == set()  # fully fine-tuned copies share nothing
    heads = {m.blocks[-1] for m in full.models}
    assert all(set(m.blocks) - heads == shared(full) for m in full.models)  # everything but the heads
    with pytest.raises(StudyError, match="frozen_fraction"):
        make_instance(study.FREEZE_DEPTH_FAMILY, 3, {**params, "frozen_fraction": 2})


STUDY_ARGS = [
    "study", "throughput", "--family", "random-general", "--param", "tightness", "--values", "0.5",
    "--methods", "greedy", "edf", "--seeds", "6", "--set", "n_users=6", "n_models=4",
    "--time-limit", "60", "--workers", "2", "--no-progress",
]  # fmt: skip


def test_two_runs_on_one_database_share_it(tmp_path):
    # The second starts once the first holds the lock: it waits, then finds every row and solves
    # nothing. The exact method on 22 users (which greedy's warm start does not prove) keeps the
    # first run busy for several seconds.
    args = [
        "study", "gap", "--family", "random-general", "--values", "22", "--methods", "edf",
        "--seeds", "3", "--set", "n_models=4", "deadlines=per_user", "--workers", "1", "--no-progress",
        "--time-limit", "3",
    ]  # fmt: skip
    db = tmp_path / "shared.sqlite"
    logs = [(tmp_path / f"{name}.txt").open("w") for name in ("a", "b")]
    procs = []
    for i, name in enumerate(("a", "b")):
        full = [*args, "--db", str(db), "--csv", str(tmp_path / f"{name}.csv")]
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "partialloading", *full], cwd=tmp_path, stdout=logs[i], stderr=logs[i]
            )
        )
        if i == 0:
            lock = Path(f"{db}.lock")
            limit = time.monotonic() + 60
            while not (lock.exists() and lock.read_text().strip() == str(procs[0].pid)) and time.monotonic() < limit:
                time.sleep(0.02)
    codes = [p.wait(timeout=300) for p in procs]
    for log in logs:
        log.close()
    outputs = [(tmp_path / f"{n}.txt").read_text() for n in ("a", "b")]
    assert codes == [0, 0], outputs
    assert _count(db) == 6 == len({r.key for r in stored(db)})
    assert "waiting: another run of this study" in outputs[1], outputs
    assert "0 solved now, 6 already in" in outputs[1], outputs


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_workers_exit_when_the_study_is_killed(tmp_path):
    db = tmp_path / "k.sqlite"
    slow = [a if a != "6" else "40" for a in STUDY_ARGS]  # more seeds, so it is still running
    proc = subprocess.Popen(
        [sys.executable, "-m", "partialloading", *slow, "--db", str(db), "--csv", str(tmp_path / "k.csv")],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        limit = time.monotonic() + 60
        while _count(db) < 1 and time.monotonic() < limit:
            time.sleep(0.05)
        children = [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
        assert children, "the study runs its solves in worker processes"
        os.kill(proc.pid, signal.SIGKILL)  # only the parent: its workers must follow by themselves
        proc.wait()
        limit = time.monotonic() + 10
        while any(_alive(c) for c in children) and time.monotonic() < limit:
            time.sleep(0.05)
        assert not any(_alive(c) for c in children)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_memory_bytes_sweeps_the_gpu_capacity() -> None:
    from partialloading.study.families import make_instance

    small = make_instance("zoo-heads", 1, {"n_users": 8})
    largest = float(small.model_sizes.max())
    inst = make_instance("zoo-heads", 1, {"n_users": 8, "memory_bytes": 2 * largest})
    assert memory_of(inst).name == "capacity" and inst.memory_bytes == 2 * largest
    with pytest.raises(StudyError, match="does not fit"):
        make_instance("zoo-heads", 1, {"n_users": 8, "memory_bytes": largest / 2})
