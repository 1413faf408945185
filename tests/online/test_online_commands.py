"""``partialloading workload`` and ``simulate`` end to end."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from partialloading.cli import main


@pytest.fixture
def workload_file(tmp_path: Path) -> Path:
    out = tmp_path / "w.json"
    assert main(["workload", "zoo-heads", "--rate", "40", "--duration", "2", "--seed", "3", "-o", str(out)]) == 0
    return out


def test_simulate_compares_policies(tmp_path: Path, workload_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    table, summary = str(tmp_path / "req-{policy}.csv"), tmp_path / "sum.json"
    args = ["simulate", str(workload_file), "--policy", "greedy", "greedy/no-sharing", "edf", "fifo"]
    assert main([*args, "--requests-out", table, "--summary-out", str(summary), "--param", "greedy.restarts=2"]) == 0
    printed = capsys.readouterr().out
    for label in ("greedy", "greedy (no sharing)", "edf", "fifo"):
        assert any(line.startswith(label + " ") for line in printed.splitlines())
    doc = json.loads(summary.read_text())
    assert [(r["policy"], r["sharing"]) for r in doc["runs"]] == [
        ("greedy", True),
        ("greedy", False),
        ("edf", True),
        ("fifo", True),
    ]
    assert doc["runs"][0]["params"]["restarts"] == 2
    rows = list(csv.DictReader((tmp_path / "req-greedy-no-sharing.csv").open()))
    assert len(rows) == doc["runs"][1]["arrivals"]
    assert list(rows[0]) == [
        "request",
        "model",
        "arrival_s",
        "deadline_s",
        "status",
        "round",
        "upload_end_s",
        "infer_start_s",
        "finish_s",
    ]
    assert sum(r["status"] == "served" for r in rows) == doc["runs"][1]["served"]


def test_simulate_output_is_byte_identical(tmp_path: Path, workload_file: Path) -> None:
    for name in ("a", "b"):
        out = tmp_path / f"{name}.csv"
        assert (
            main(["simulate", str(workload_file), "--timing", "pipelined", "--requests-out", str(out), "--quiet"]) == 0
        )
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--policy", "magic"], "--policy 'magic': unknown method"),
        (["--policy", "greedy", "edf", "--param", "effort=5"], "name the policy (METHOD.KEY=VALUE)"),
        (["--param", "edf.x=1"], "'edf' is not one of the policies"),
        (["--param", "effort=-1"], "greedy: parameter 'effort' must be non-negative"),
        (["--round-cap", "0"], "--round-cap must be at least 1"),
        (["--seed", "-1"], "--seed must be non-negative"),
        (["--timing", "warp"], "--timing must be one of"),
        (["--policy", "greedy", "edf", "--requests-out", "x.csv"], "needs {policy} in the file name"),
        (["--summary-out", "missing/s.json"], "folder 'missing' does not exist"),
        (["--policy", "dp"], "dp is exact only for"),
    ],
)
def test_simulate_bad_options(
    tmp_path: Path,
    workload_file: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    expected: str,
    monkeypatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["simulate", str(workload_file), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and "\n" not in err


def test_workload_from_a_checkpoint_catalog(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from partialloading.checkpoints.example import write_example
    from partialloading.online import read_workload

    paths = [str(p) for p in write_example(tmp_path / "ckpt")]
    models = tmp_path / "models.json"
    assert main(["blocks", *paths, "--infer-time", "0.004", "-o", str(models), "--quiet"]) == 0
    out = tmp_path / "w.json"
    assert (
        main(["workload", "backbone", "--models", str(models), "--rate", "50", "--duration", "1", "-o", str(out)]) == 0
    )
    workload = read_workload(out)
    assert {m.id for m in workload.server.models} == {"vit-base", "birds", "cars", "ft-top2", "lora-captions"}
    assert main(["simulate", str(out), "--policy", "greedy", "fifo"]) == 0
    assert "greedy" in capsys.readouterr().out


def test_simulate_writes_the_rounds_over_time(tmp_path: Path) -> None:
    # One row per round, with the GPU memory it left: the memory over time.
    workload = tmp_path / "w.json"
    made = ["workload", "zoo-heads", "--rate", "20", "--duration", "1", "--seed", "2", "--out", str(workload)]
    assert main(made) == 0
    rounds = tmp_path / "rounds.csv"
    assert main(["simulate", str(workload), "--policy", "greedy", "--rounds-out", str(rounds)]) == 0
    lines = rounds.read_text().splitlines()
    assert lines[0].split(",")[-2:] == ["evicted_bytes", "resident_bytes"] and len(lines) > 1
