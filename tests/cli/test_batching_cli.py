"""Batching from the terminal: generate, inspect, solve, verify and simulate with batch tables;
a bad table or batch is one line naming its place, exit 2 (a bad schedule: the verifier, exit 1)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from partialloading.cli import main


@pytest.fixture
def batched(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    args = ["generate", "zoo-heads", "--users", "20", "--seed", "3", "--deadlines", "per-user"]
    assert main([*args, "--set", "max_batch=8", "--set", "batch_table=resnet50-v100-amp", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    (path,) = tmp_path.glob("zoo-heads-*.json")
    return path


def test_solve_prints_batches_and_the_file_verifies(batched: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = batched.parent / "sol.json"
    assert main(["solve", str(batched), "--method", "greedy", "--table", "0", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert " batch " in printed.splitlines()[3]  # the table's header
    assert "batches for" in printed and "mean" in printed
    doc = json.loads(out.read_text())
    numbers = [entry["batch"] for entry in doc["schedule"]]
    assert numbers == sorted(numbers) and len(set(numbers)) < len(numbers)
    assert main(["verify", str(batched), str(out)]) == 0


def test_inspect_shows_the_tables(batched: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(batched)]) == 0
    printed = capsys.readouterr().out
    assert "batch tables (6 model(s))" in printed and "B = 8" in printed
    assert "dp with sharing: does not apply: dp does not serve batches" in printed


def test_a_method_without_batches_refuses_in_one_line(batched: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["solve", str(batched), "--method", "cpsat"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cpsat does not serve batches" in err
    assert "use enumerate, milp, bnb, benders or greedy" in err


def test_a_bad_table_is_one_line(batched: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = json.loads(batched.read_text())
    table = doc["models"][2]["batch_infer_time_s"]
    table[3] = table[2] / 2
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    out = tmp_path / "never.json"
    assert main(["solve", str(bad), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{bad}: models[2].batch_infer_time_s[3]: a batch of 4 is faster than one of 3" in err
    assert not out.exists()


def test_the_verifier_names_a_batch_that_mixes_models(
    batched: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sol = tmp_path / "sol.json"
    assert main(["solve", str(batched), "--method", "edf", "-o", str(sol)]) == 0
    doc = json.loads(sol.read_text())
    models = [entry["model"] for entry in doc["schedule"]]
    q = next(q for q in range(1, len(models)) if models[q] != models[q - 1])
    doc["schedule"][q]["batch"] = doc["schedule"][q - 1]["batch"]
    for entry in doc["schedule"][q + 1 :]:
        entry["batch"] -= 1
    sol.write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(["verify", str(batched), str(sol)]) == 1
    assert f"schedule[{q}].batch: a batch holds one model" in capsys.readouterr().out


def test_simulate_batches_each_round(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workload = tmp_path / "w.json"
    args = ["workload", "zoo-heads", "--rate", "150", "--duration", "3", "--seed", "2", "--set", "max_batch=16"]
    assert main([*args, "-o", str(workload)]) == 0
    requests = tmp_path / "r-{policy}.csv"
    summary = tmp_path / "s.json"
    args = ["simulate", str(workload), "--policy", "greedy", "fifo", "--quiet"]
    assert main([*args, "--requests-out", str(requests), "--summary-out", str(summary)]) == 0
    assert "per batch" in capsys.readouterr().out
    runs = json.loads(summary.read_text())["runs"]
    assert all(run["mean_batch_size"] > 1 and run["gpu_seconds_saved"] > 0 for run in runs)
    with (tmp_path / "r-greedy.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == runs[0]["arrivals"]  # every request accounted for
    served = [r for r in rows if r["status"] == "served"]
    assert all(int(r["batch_size"]) >= 1 for r in served) and max(int(r["batch_size"]) for r in served) > 1
    assert all(r["batch_size"] == "" for r in rows if r["status"] != "served")


def test_a_load_study_sweeps_the_batch_size(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["study", "online", "--family", "zoo-heads", "--param", "max_batch", "--values", "1", "8"]
    args += ["--set", "rate=80", "duration=2", "--seeds", "1", "--policies", "greedy", "--no-progress"]
    db, table = tmp_path / "s.sqlite", tmp_path / "s.csv"
    assert main([*args, "--db", str(db), "--csv", str(table), "--plot", str(tmp_path / "s.png")]) == 0
    with table.open() as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["value"] for r in rows if r["policy"] == "greedy") == ["1", "8"]


def test_a_batched_solution_is_a_start(batched: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Its batch numbers go with it (read as one request per batch, the start would be late)."""
    first = tmp_path / "first.json"
    assert main(["solve", str(batched), "--method", "greedy", "-o", str(first)]) == 0
    again = tmp_path / "again.json"
    assert (
        main(
            ["solve", str(batched), "--method", "milp", "--time-limit", "5", "--initial", str(first), "-o", str(again)]
        )
        == 0
    )
    assert json.loads(again.read_text())["objective"] >= json.loads(first.read_text())["objective"]
    doc = json.loads(first.read_text())
    del doc["schedule"][1]["batch"]
    first.write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(["solve", str(batched), "--method", "greedy", "--initial", str(first)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{first}: schedule[1].batch: missing" in err
