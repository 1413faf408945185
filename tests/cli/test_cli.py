"""Command line: exit statuses, outputs and the console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from partialloading import instances
from partialloading.cli import SUBCOMMANDS, build_parser, main
from partialloading.methods import METHODS
from partialloading.validation.files import verify_files

TINY = str(instances.path("tiny"))
EDGE20 = str(instances.path("edge20"))


def test_every_subcommand_is_registered() -> None:
    for name in ("demo", "validate", "solve", "verify", "plot"):
        assert name in SUBCOMMANDS
    build_parser()  # every module imports and registers


def test_validate(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", TINY]) == 0
    assert "valid instance 'tiny'" in capsys.readouterr().out
    assert main(["validate", EDGE20]) == 0


def test_solve_prints_a_summary_and_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sol.json"
    assert main(["solve", TINY, "--method", "enumerate", "--output", str(out)]) == 0
    text = capsys.readouterr().out
    assert "served 3/4 users, objective 3" in text
    assert "rejected (1): u4" in text
    doc = json.loads(out.read_text())
    assert [e["user"] for e in doc["schedule"]] == ["u1", "u3", "u2"]
    assert verify_files(TINY, out).ok


def test_solve_no_sharing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["solve", TINY, "--method", "enumerate", "--no-sharing"]) == 0
    assert "served 2/4 users, objective 2" in capsys.readouterr().out


def test_solve_to_stdout_writes_only_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["solve", TINY, "--method", "edf", "--output", "-"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["method"] == "edf"
    assert "served" in captured.err


def test_solve_refuses_too_large_for_enumerate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sol.json"
    assert main(["solve", EDGE20, "--method", "enumerate", "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "at most 10 users" in err
    assert not out.exists()


def test_solve_rejects_non_positive_time_limit(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["solve", TINY, "--method", "edf", "--time-limit", "0"]) == 2
    assert "time limit" in capsys.readouterr().err


def test_verify_exit_statuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sol = tmp_path / "sol.json"
    assert main(["solve", TINY, "--method", "enumerate", "--output", str(sol)]) == 0
    capsys.readouterr()
    assert main(["verify", TINY, str(sol)]) == 0
    assert "valid solution" in capsys.readouterr().out

    doc = json.loads(sol.read_text())
    doc["schedule"][2]["finish_s"] = 0.6
    doc["objective"] = 4
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    assert main(["verify", TINY, str(bad)]) == 1
    out = capsys.readouterr().out
    assert "schedule[2].finish_s" in out and "objective" in out

    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "partialloading/solution"')
    assert main(["verify", TINY, str(broken)]) == 2
    err = capsys.readouterr().err
    assert str(broken) in err and "invalid JSON" in err and err.count("\n") == 1

    doc = json.loads(sol.read_text())
    doc["schedule"][1]["load_s"] = "zero"
    bad.write_text(json.dumps(doc))
    assert main(["verify", TINY, str(bad)]) == 2
    assert "schedule[1].load_s" in capsys.readouterr().err

    assert main(["verify", str(tmp_path / "nope.json"), str(sol)]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_verify_against_the_wrong_instance(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sol = tmp_path / "sol.json"
    assert main(["solve", TINY, "--method", "edf", "--output", str(sol)]) == 0
    assert main(["verify", EDGE20, str(sol)]) == 1
    assert "instance: solution is for instance 'tiny'" in capsys.readouterr().out


def test_plot_writes_png(tmp_path: Path) -> None:
    sol = tmp_path / "sol.json"
    png = tmp_path / "gantt.png"
    assert main(["solve", EDGE20, "--method", "edf", "--output", str(sol)]) == 0
    assert main(["plot", EDGE20, str(sol), "--output", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000


def test_plot_rejects_unknown_users(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sol = tmp_path / "sol.json"
    png = tmp_path / "gantt.png"
    assert main(["solve", TINY, "--method", "edf", "--output", str(sol)]) == 0
    capsys.readouterr()
    assert main(["plot", EDGE20, str(sol), "--output", str(png)]) == 2
    assert "unknown user" in capsys.readouterr().err
    assert not png.exists()


def test_demo_on_tiny(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--instance", "tiny"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {
        tuple(line.split()[:3]): line
        for line in lines
        if len(line.split()) > 2 and line.split()[0] in ("frame", "pipelined") and line.split()[1] in METHODS
    }
    assert len(rows) == 2 * 2 * len(METHODS)
    assert rows[("frame", "enumerate", "yes")].split()[3:6] == ["optimal", "3/4", "3"]
    assert rows[("frame", "enumerate", "no")].split()[3:6] == ["optimal", "2/4", "2"]
    # Pipelined: the loads run during the uploads, and all four fit (see the timing tests).
    assert rows[("pipelined", "enumerate", "yes")].split()[3:6] == ["optimal", "4/4", "4"]
    # The methods that support frame timing only say so instead of answering.
    assert rows[("pipelined", "dp", "yes")].split()[3] == "n/a"
    assert rows[("pipelined", "cpsat", "yes")].split()[3] == "n/a"
    assert "NO" not in [line.split()[-1] for line in rows.values()]


def test_demo_default_instance_shows_refusals(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--time-limit", "1"]) == 0
    out = capsys.readouterr().out
    assert "instance 'edge20'" in out
    # enumerate refuses 20 users: the row says so instead of crashing the table.
    assert next(ln for ln in out.splitlines() if ln.split()[1:2] == ["enumerate"]).split()[3] == "n/a"
    assert "at most 10 users" in out


def test_demo_with_an_instance_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--instance", TINY]) == 0
    assert "instance 'tiny'" in capsys.readouterr().out
    assert main(["demo", "--instance", "no-such-instance"]) == 2
    assert "no bundled instance" in capsys.readouterr().err


def test_console_script(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("partialloading")
    assert script.exists(), "the console script is installed next to the interpreter"
    sol = tmp_path / "sol.json"
    done = subprocess.run(
        [str(script), "solve", TINY, "--method", "enumerate", "--output", str(sol)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "objective 3" in done.stdout
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    done = subprocess.run([str(script), "validate", str(bad)], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and str(bad) in done.stderr


def test_exact_methods_warm_start_unless_cold(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sol.json"
    assert main(["solve", "tiny", "--method", "cpsat", "--output", str(out)]) == 0
    assert "warm start: greedy 3" in capsys.readouterr().out
    assert main(["solve", "tiny", "--method", "cpsat", "--cold", "--output", str(out)]) == 0
    assert "warm start" not in capsys.readouterr().out
    other = tmp_path / "other.json"
    assert main(["solve", "tiny", "--method", "cpsat", "--cold", "--initial", str(out), "--output", str(other)]) == 2
    assert not other.exists()
    err = capsys.readouterr().err
    assert "--cold and --initial exclude each other" in err and len(err.strip().splitlines()) == 1
