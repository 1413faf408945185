"""``study online``: sweeps, the stored rows, resuming after a kill, the analysis."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from partialloading.cli import main
from partialloading.online.study import LoadStore, LoadSweep, run_load_sweep
from partialloading.online.study_analysis import load_comparisons, load_points
from partialloading.study import StudyError

from processes import kill_midway

SMALL = LoadSweep(
    family="zoo-heads",
    parameter="rate",
    values=(10.0, 60.0),
    policies=("greedy", "greedy/no-sharing", "fifo"),
    seeds=(0, 1),
    settings=(("duration", 2.0),),
)


def test_sweep_runs_stores_and_summarizes(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    summary = run_load_sweep(SMALL, db, workers=1, progress=False)
    assert (summary.tasks, summary.solved, summary.skipped, summary.errors) == (12, 12, 0, ())
    again = run_load_sweep(SMALL, db, workers=1, progress=False)
    assert (again.solved, again.skipped) == (0, 12)
    with LoadStore(db) as store:
        rows = store.rows(SMALL.tasks())
    assert len(rows) == 12 and all(r.status == "ok" for r in rows)
    assert all(len(r.latency_quantiles) == 101 for r in rows if r.summary and r.summary.served)
    points = load_points(SMALL, rows)
    assert [(p.value, p.policy) for p in points][:3] == [(10.0, "greedy"), (10.0, "greedy/no-sharing"), (10.0, "fifo")]
    by = {(p.value, p.policy): p for p in points}
    # Heavier load, fewer requests on time.
    assert by[(60.0, "greedy")].on_time_mean <= by[(10.0, "greedy")].on_time_mean
    assert all(p.n == 2 for p in points)
    # Paired: the mean difference equals the difference of the means on the same workloads.
    (low, high) = load_comparisons(SMALL, rows, "greedy", "greedy/no-sharing")
    assert (low.value, high.value, low.n) == (10.0, 60.0, 2)
    assert high.diff_mean == pytest.approx(
        by[(60.0, "greedy")].on_time_mean - by[(60.0, "greedy/no-sharing")].on_time_mean
    )


def test_bad_sweeps_are_refused() -> None:
    with pytest.raises(StudyError, match="unknown policy"):
        LoadSweep("zoo-heads", "rate", (1.0,), ("magic",), (0,))
    with pytest.raises(StudyError, match="unknown family"):
        LoadSweep("random-general", "rate", (1.0,), ("greedy",), (0,))
    with pytest.raises(StudyError, match="both swept and fixed"):
        LoadSweep("zoo-heads", "rate", (1.0,), ("greedy",), (0,), settings=(("rate", 2.0),))
    sweep = LoadSweep("zoo-heads", "warp_factor", (1.0,), ("greedy",), (0,))
    with pytest.raises(StudyError, match="no parameter 'warp_factor'"):
        sweep.check()


def _count(db: Path) -> int:
    try:
        with sqlite3.connect(db) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM online_results").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


def _stored(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT key, served, dropped, latency_p95_s, loaded_bytes FROM online_results ORDER BY key")
        return list(rows)


def test_killed_study_resumes_without_losing_or_duplicating(tmp_path: Path) -> None:
    args = [
        "study", "online", "--family", "zoo-heads", "--values", "30", "60", "--seeds", "4",
        "--policies", "greedy", "edf", "--set", "duration=6", "--workers", "2", "--no-progress",
    ]  # fmt: skip
    db = tmp_path / "killed.sqlite"
    full = [*args, "--db", str(db), "--csv", str(tmp_path / "k.csv")]
    at_kill = kill_midway(full, tmp_path, lambda: _count(db))
    assert 1 <= at_kill < 16, "the kill must land while the study runs"
    assert main(full) == 0
    resumed = _stored(db)
    reference = tmp_path / "ref.sqlite"
    assert main([*args, "--db", str(reference), "--csv", str(tmp_path / "r.csv")]) == 0
    assert len(resumed) == len({r[0] for r in resumed}) == 16
    assert resumed == _stored(reference)


def test_cli_writes_the_table_and_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["study", "online", "--family", "zoo-heads", "--param", "cv", "--values", "1", "4", "--seeds", "1"]
    out = tmp_path / "o.csv"
    assert (
        main(
            [
                *args,
                "--set",
                "duration=2",
                "rate=40",
                "--db",
                str(tmp_path / "o.sqlite"),
                "--csv",
                str(out),
                "--workers",
                "1",
                "--no-progress",
            ]
        )
        == 0
    )
    assert out.exists() and out.with_suffix(".png").exists() and (tmp_path / "o-cdf.png").exists()
    assert (tmp_path / "o-loaded.png").exists()  # bytes loaded against the swept parameter
    assert "on_time_mean" in capsys.readouterr().out


def test_an_online_study_sweeps_memory_bytes(tmp_path: Path) -> None:
    # Two 2-s workloads of zoo-heads, each with a GPU memory of that capacity.
    sweep = LoadSweep(
        family="zoo-heads",
        parameter="memory_bytes",
        values=(2e9, 4e9),
        policies=("greedy",),
        seeds=(0,),
        settings=(("duration", 2.0), ("rate", 20.0)),
    )
    summary = run_load_sweep(sweep, tmp_path / "m.sqlite", workers=1, progress=False)
    assert summary.solved == 2 and not summary.errors
    with LoadStore(tmp_path / "m.sqlite") as store:
        rows = store.rows(sweep.tasks())
    assert all(
        r.summary is not None and r.summary.resident_bytes_max <= value * (1 + 1e-9)
        for r, value in zip(rows, (2e9, 4e9), strict=True)
    )
