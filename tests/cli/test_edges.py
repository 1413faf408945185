"""Promises at the edges: whole-command time limits, proven starts at once, refusals that leave
nothing behind, one value parser, interrupts that end a command cleanly."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import partialloading as pl
from partialloading import instances, scenarios
from partialloading.cli import main
from partialloading.cli.solve import WRITE_RESERVE_S, print_summary, time_left
from partialloading.methods import METHODS, Backend, Method
from partialloading.output import write_text
from partialloading.params import parse_assignments, parse_value
from partialloading.solvers.bnb.backend import search
from partialloading.solvers.edf import edf_schedule
from partialloading.validation.verify import verify_solution

TINY = str(instances.path("tiny"))
WARM_STARTED = [name for name, m in METHODS.items() if m.warm_start]


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert err.startswith("partialloading: error: "), err
    return err


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --------------------------------------------------------------------------- time limits
def test_the_command_line_limit_counts_from_the_start_of_the_command() -> None:
    args = argparse.Namespace(time_limit=10.0, started=time.perf_counter() - 3.0)
    left = time_left(args)
    assert left is not None and 10.0 - 3.0 - WRITE_RESERVE_S - 0.5 < left <= 10.0 - 3.0 - WRITE_RESERVE_S
    # A limit already spent still gives the solve a positive (tiny) limit: the start is returned.
    assert time_left(argparse.Namespace(time_limit=1.0, started=time.perf_counter() - 5.0)) == 0.01
    assert time_left(argparse.Namespace(time_limit=None, started=0.0)) is None


def test_the_command_line_limit_counts_from_the_process_start() -> None:
    # Python's start and the imports (a quarter of a second) count against --time-limit.
    from partialloading.cli import process_age

    age = process_age()
    assert 0.0 < age < time.time() - 1e9
    assert process_age() >= age


def test_compiled_code_loads_within_the_command_line_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # bnb's kernels (1.5 s from the cache, a minute compiled) loaded after the CLI had computed
    # the time left, outside it: 300 users took 11.2-11.7 s under --time-limit 10.
    import partialloading.cli.solve as cli_solve

    path = tmp_path / "i.json"
    pl.write_instance(scenarios.generate("zoo-heads", 1, n_users=12), path)
    limits: list[float | None] = []

    def slow(self: Method) -> None:
        time.sleep(0.6)

    def spy(*args: object, time_limit: float | None = None, **kwargs: object) -> pl.Result:
        limits.append(time_limit)
        return pl.solve(*args, time_limit=time_limit, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Method, "prepare", slow)
    monkeypatch.setattr(cli_solve, "solve", spy)
    assert main(["solve", str(path), "--method", "bnb", "--time-limit", "3", "--quiet"]) == 0
    assert limits[0] is not None and limits[0] <= 3.0 - 0.6 - WRITE_RESERVE_S


@pytest.mark.parametrize("method", ["greedy", "milp", "cpsat", "bnb"])
def test_under_any_limit_greedys_constructed_schedule_stands(method: str) -> None:
    # The warm start used to stop its constructive pass at the limit: `milp --time-limit 1`
    # served 15 of 40 where greedy alone serves 30. Up to 1,000 users that pass always ends.
    for seed in (11, 12):
        inst = scenarios.generate("general", seed, n_users=40, deadlines="per_user", weighted=True)
        built = pl.solve(inst, "greedy", params={"improve": False}).objective
        assert pl.solve(inst, method, time_limit=1e-3).objective >= built


@pytest.mark.parametrize("seed", range(6))
def test_the_bound_of_a_search_stopped_at_once_is_still_a_bound(seed: int) -> None:
    # Stopped after a few hundred nodes with no time to bound the open subtrees one by one, the
    # branch-and-bound bounds each frame of its stack as a whole: a looser bound, still valid.
    inst = scenarios.generate("general", seed, n_users=9, deadlines="per_user")
    optimum = pl.solve(inst, "enumerate", initial=[]).objective
    found = search(inst, edf_schedule(inst), lambda nodes: nodes > 300, wrap_up_s=0.0)
    exact = search(inst, edf_schedule(inst), lambda nodes: False)
    assert exact.proven and exact.weight == pytest.approx(optimum)
    if not found.proven:
        assert found.bound >= optimum - 1e-9
        assert found.bound >= found.weight


# --------------------------------------------------------------------------- proven starts
@pytest.fixture
def everyone_fits() -> pl.Instance:
    # 40 users whose deadlines are 100 s: greedy serves all of them, which meets every bound.
    inst = scenarios.generate("zoo-mixed", 1, n_users=40)
    return dataclasses.replace(inst, users=tuple(dataclasses.replace(u, deadline_s=100.0) for u in inst.users))


@pytest.mark.parametrize("method", [m for m in WARM_STARTED if m != "enumerate"])
def test_a_start_that_meets_the_bound_is_returned_without_running_the_method(
    method: str, everyone_fits: pl.Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    class NeverRun(Method):
        def load(self) -> Backend:
            raise AssertionError(f"{method} was run")

    entry = METHODS[method]
    monkeypatch.setitem(
        METHODS, method, NeverRun(**{f.name: getattr(entry, f.name) for f in dataclasses.fields(entry)})
    )
    result = pl.solve(everyone_fits, method, time_limit=30)
    assert result.status == pl.Status.OPTIMAL
    assert result.objective == everyone_fits.num_users == result.bound
    assert result.info["proven_by"] == "warm start" and result.info["incumbent_from"] == "greedy"


def test_refusals_come_before_the_warm_start(everyone_fits: pl.Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    dispatcher = importlib.import_module("partialloading.portfolio")

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the warm start ran")

    monkeypatch.setattr(dispatcher, "warm_start", never)
    with pytest.raises(pl.InstanceTooLargeError, match="enumerate handles at most"):
        pl.solve(everyone_fits, "enumerate")
    with pytest.raises(pl.SolverError, match="no_such_solver"):
        pl.solve(everyone_fits, "milp", solver="no_such_solver")
    pipelined = dataclasses.replace(everyone_fits, timing="pipelined")
    with pytest.raises(pl.MethodNotApplicableError, match="solved by SCIP"):
        pl.solve(pipelined, "milp", solver_options={"threads": 1})


# --------------------------------------------------------------------------- generate
@pytest.mark.parametrize(
    ("out", "expected"),
    [("FILE", "FILE: is a file, not a folder"), ("FILE/sub", "lies below the file")],
)
def test_generate_refuses_an_output_folder_it_cannot_create(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], out: str, expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("FILE").write_text("x")
    assert main(["generate", "zoo-heads", "--out", out]) == 2
    assert expected in one_line(capsys)
    assert leftovers(tmp_path) == ["FILE"]


@pytest.mark.parametrize("family", ["zoo-heads", "backbone"])
def test_generate_checks_the_size_first(tmp_path: Path, capsys: pytest.CaptureFixture[str], family: str) -> None:
    started = time.perf_counter()
    assert main(["generate", family, "--users", "100000000", "--out", str(tmp_path / "g")]) == 2
    assert "n_users must be at most 1,000,000" in one_line(capsys)
    assert time.perf_counter() - started < 30  # refused before drawing anything (it used to take 80 s)
    assert leftovers(tmp_path) == []


# --------------------------------------------------------------------------- refused studies
@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--values", "-20"], "rate must be a positive finite number (got -20)"),
        (["--values", "0"], "rate must be a positive finite number (got 0)"),
        (["--values", "abc"], "rate must be a positive finite number (got 'abc')"),
        (["--values", "10", "--set", "duration=0"], "duration must be a positive finite number"),
        (["--values", "10", "--param", "nosuch"], "has no parameter 'nosuch'"),
        (["--values", "10", "--time-limit", "-1"], "time limit must be positive"),
        (["--values", "1e9"], "expected requests: at most 5e+07"),
    ],
)
def test_a_refused_online_study_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], expected: str
) -> None:
    db = tmp_path / "o.sqlite"
    args = ["study", "online", "--family", "zoo-heads", *extra, "--seeds", "1", "--db", str(db), "--no-progress"]
    args += ["--csv", str(tmp_path / "o.csv")]
    started = time.perf_counter()
    assert main(args) == 2
    assert expected in one_line(capsys)
    assert time.perf_counter() - started < 10  # the size is checked before any request is drawn
    assert leftovers(tmp_path) == []


def test_a_finished_study_removes_its_lock(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "s.sqlite"
    args = ["study", "throughput", "--family", "zoo-heads", "--param", "n_users", "--values", "4", "--seeds", "1"]
    args += ["--workers", "1", "--db", str(db), "--csv", str(tmp_path / "s.csv"), "--no-progress"]
    assert main(args) == 0
    assert not Path(f"{db}.lock").exists()
    assert sorted(leftovers(tmp_path)) == ["s-gains.csv", "s.csv", "s.png", "s.sqlite"]


def test_a_killed_writers_temporary_file_is_swept(tmp_path: Path) -> None:
    # A writer killed mid-write left its temporary file (its name carries its process id).
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".plot.png.{int(dead.stdout)}.abc123.tmp.png"
    stale.write_text("half a plot")
    alive = tmp_path / f".plot.png.{os.getpid()}.def456.tmp.png"  # a live writer's: left alone
    alive.write_text("being written")
    write_text(tmp_path / "plot.png", "whole")
    assert leftovers(tmp_path) == [alive.name, "plot.png"]


def test_a_refused_solve_output_is_checked_before_solving(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["solve", TINY, "--method", "milp", "--output", str(tmp_path / "no" / "x.json")]) == 2
    assert "does not exist" in one_line(capsys)
    if Path("/proc/self").exists():
        # A folder that exists but takes no file (even for root): found out by trying, before solving.
        assert main(["solve", TINY, "--method", "milp", "--output", "/proc/x.json"]) == 2
        assert capsys.readouterr().out == ""


# --------------------------------------------------------------------------- one value parser
def test_one_parser_for_every_value() -> None:
    assert parse_value('"int8"') == parse_value("int8") == parse_value("'int8'") == "int8"
    assert parse_value("1e9") == 1e9 and parse_value(".5") == 0.5 and parse_value("3") == 3
    assert parse_value("true") is True
    assert parse_assignments(["precision=int8", "bandwidth_hz=1e7"], "--set") == {
        "precision": "int8",
        "bandwidth_hz": 1e7,
    }
    with pytest.raises(pl.ParameterError, match="--set 'x': expected NAME=VALUE"):
        parse_assignments(["x"], "--set")


@pytest.mark.parametrize("value", ['precision="int8"', "precision=int8"])
def test_set_is_read_alike_by_generate_and_study(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    assert main(["generate", "zoo-heads", "--users", "4", "--set", value, "--out", str(tmp_path / "g")]) == 0
    (generated,) = (tmp_path / "g").iterdir()
    assert json.loads(generated.read_text())["name"]
    args = ["study", "throughput", "--family", "zoo-heads", "--param", "n_users", "--values", "4", "--seeds", "1"]
    args += ["--set", value, "--workers", "1", "--db", str(tmp_path / "s.sqlite"), "--csv", str(tmp_path / "s.csv")]
    assert main([*args, "--no-progress"]) == 0


def test_refusals_of_simulate_name_its_own_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workload = tmp_path / "w.json"
    assert (
        main(["workload", "zoo-heads", "--rate", "5", "--duration", "2", "--timing", "pipelined", "-o", str(workload)])
        == 0
    )
    capsys.readouterr()
    assert main(["simulate", str(workload), "--policy", "bnb"]) == 2
    err = one_line(capsys)
    assert "does not support 'pipelined' timing" in err and "--method" not in err


# --------------------------------------------------------------------------- calibrate, simulate
def test_calibrate_refuses_what_is_not_a_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "five.safetensors"
    text.write_text("hello")
    assert main(["calibrate", str(text), "--no-gpu"]) == 2
    assert "not a safetensors file" in one_line(capsys)
    assert main(["calibrate", os.devnull, "--no-gpu"]) == 2
    assert "not a regular file or a folder" in one_line(capsys)


def test_simulate_refuses_a_workload_with_nothing_to_serve(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workload = tmp_path / "w.json"
    assert main(["workload", "zoo-heads", "--rate", "5", "--duration", "2", "-o", str(workload)]) == 0
    capsys.readouterr()
    doc = json.loads(workload.read_text())
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({**doc, "requests": []}))
    assert main(["simulate", str(empty)]) == 2
    assert "requests: the workload has no requests" in one_line(capsys)
    hopeless = tmp_path / "hopeless.json"
    hopeless.write_text(json.dumps({**doc, "requests": [{**r, "relative_deadline_s": 1e-6} for r in doc["requests"]]}))
    assert main(["simulate", str(hopeless), "--summary-out", str(tmp_path / "s.json")]) == 2
    assert "no request can meet its deadline even alone" in one_line(capsys)
    assert not (tmp_path / "s.json").exists()


# --------------------------------------------------------------------------- auto's summary
def test_the_summary_of_auto_names_every_step(capsys: pytest.CaptureFixture[str]) -> None:
    result = pl.solve(instances.load("tiny"), "greedy")
    both = dataclasses.replace(result, info={**result.info, "chosen_by": "auto", "auto_steps": ["greedy", "cpsat"]})
    print_summary(both, sys.stdout)
    assert "method auto (greedy then cpsat; the schedule is greedy's)" in capsys.readouterr().out
    assert main(["solve", TINY, "--quiet"]) == 0
    assert "method auto (dp)" in capsys.readouterr().out


# --------------------------------------------------------------------------- interrupts
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_study_ends_at_once_and_leaves_nothing_half_done(tmp_path: Path, sig: int) -> None:
    # Two workers each busy in a 60-second exact solve (40 users, which greedy does not prove): an
    # interrupt must not wait for them.
    args = [
        sys.executable, "-m", "partialloading", "study", "gap", "--family", "random-general", "--values", "40",
        "--methods", "edf", "--seeds", "2", "--set", "n_models=4", "deadlines=per_user", "--workers", "2",
        "--time-limit", "60", "--no-progress", "--db", "g.sqlite", "--csv", "g.csv",
    ]  # fmt: skip
    proc = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = tmp_path / "g.sqlite.lock"
    limit = time.monotonic() + 60
    while not lock.exists() and time.monotonic() < limit:
        time.sleep(0.05)
    time.sleep(3.0)  # the workers are inside their solves
    started = time.monotonic()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - started < 5, err
    assert proc.returncode == 130, err
    assert "partialloading: interrupted" in err
    assert not lock.exists()
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]
    assert np.all([not p.name.endswith((".csv", ".png")) for p in tmp_path.iterdir()])


# --------------------------------------------------------------------------- nothing left behind
@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs /proc")
def test_overwriting_a_file_where_nothing_can_be_written_is_refused_before_solving(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A new file in such a folder was refused up front; an existing one only after the solve.
    import partialloading.cli.solve as cli_solve

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("solved before the output was checked")

    monkeypatch.setattr(cli_solve, "solve", never)
    assert main(["solve", str(instances.path("tiny")), "--output", "/proc/self/status"]) == 2
    assert "cannot write in" in one_line(capsys)


def test_a_study_whose_scheduler_is_out_of_reach_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("distributed")
    from partialloading.study import execution

    monkeypatch.setattr(execution, "DASK_CONNECT_TIMEOUT_S", 0.5)
    db, table = tmp_path / "study.sqlite", tmp_path / "x.csv"
    argv = ["study", "throughput", "--family", "zoo-heads", "--param", "tightness", "--values", "0.3"]
    argv += ["--methods", "greedy", "--seeds", "1", "--db", str(db), "--csv", str(table)]
    assert main([*argv, "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "cannot reach the Dask scheduler" in one_line(capsys)
    assert leftovers(tmp_path) == []


# --------------------------------------------------------------------------- Ctrl-C
@pytest.mark.parametrize("method", ["milp", "cpsat", "bnb"])
def test_ctrl_c_ends_the_search_with_its_best_schedule(tmp_path: Path, method: str) -> None:
    # One rule for every method: Ctrl-C ends the search as a time limit does; the best schedule
    # is printed and written, verified, with status feasible and info.interrupted, exit 130.
    # (bnb and the MILP used to exit 130 and drop it; CP-SAT exited 0.)
    source, out = tmp_path / "i.json", tmp_path / "out.json"
    pl.write_instance(scenarios.generate("general", 3, n_users=60, deadlines="per_user", weighted=True), source)
    argv = [sys.executable, "-m", "partialloading", "solve", str(source), "--method", method, "--output", str(out)]
    proc = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(4.0)  # past the imports and greedy's warm start: in the method's own search
    assert proc.poll() is None, proc.communicate()
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert time.monotonic() - started < 5.0
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert "served" in stdout
    doc = json.loads(out.read_text())
    assert doc["status"] == "feasible" and doc["info"]["interrupted"] is True
    assert verify_solution(pl.read_instance(source), doc).ok
