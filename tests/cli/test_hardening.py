"""Regression tests of the hardening pass: safe writes, one-line errors, honest output, empty cases."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

import partialloading as pl
from partialloading import instances
from partialloading.cli import main
from partialloading.errors import PartialLoadingError
from partialloading.output import OutputError, write_text

TINY = str(instances.path("tiny"))


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert err.startswith("partialloading"), err
    return err


# --------------------------------------------------------------------------- safe writes
def test_writes_through_a_symlink_to_its_target(tmp_path: Path) -> None:
    target = tmp_path / "real.json"
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert main(["solve", TINY, "-o", str(link)]) == 0
    assert link.is_symlink() and json.loads(target.read_text())["objective"] == 3


def test_writes_through_a_character_device(tmp_path: Path) -> None:
    devnull = Path(os.devnull)
    assert main(["solve", TINY, "-o", os.devnull]) == 0
    assert stat.S_ISCHR(devnull.stat().st_mode)  # still the device, not a regular file


def test_writes_through_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    write_text(fifo, "hello\n")
    reader.join(timeout=10)
    assert received == ["hello\n"] and stat.S_ISFIFO(fifo.stat().st_mode)


def test_a_failing_device_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    assert main(["solve", TINY, "-o", "/dev/full"]) == 2
    assert "No space left on device" in one_line(capsys)
    assert stat.S_ISCHR(Path("/dev/full").stat().st_mode)


def test_new_files_follow_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        write_text(tmp_path / "a.json", "{}")
        main(["solve", TINY, "-o", str(tmp_path / "s.json")])
        main(["plot", TINY, str(tmp_path / "s.json"), "-o", str(tmp_path / "g.png")])
    finally:
        os.umask(old)
    for name in ("a.json", "s.json", "g.png"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o640, name


def test_an_existing_file_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "s.json"
    target.write_text("old")
    target.chmod(0o600)
    write_text(target, "new")
    assert target.read_text() == "new" and stat.S_IMODE(target.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("{tmp}", "is a folder"),
        ("{tmp}/missing/x.json", "does not exist"),
    ],
)
def test_bad_output_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str], output: str, expected: str) -> None:
    assert main(["solve", TINY, "-o", output.format(tmp=tmp_path)]) == 2
    assert expected in one_line(capsys)
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


def test_refuses_to_overwrite_the_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "tiny.json"
    copy.write_text(Path(TINY).read_text())
    before = copy.read_text()
    assert main(["solve", str(copy), "-o", str(copy)]) == 2
    assert "refusing to overwrite it" in one_line(capsys)
    assert copy.read_text() == before
    with pytest.raises(OutputError):
        write_text(copy, "x", inputs=[copy])


# --------------------------------------------------------------------------- one-line errors
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["check", "decomposition", "--seed", "-1"], "--seed: must be an integer from 0"),
        (["solve", TINY, "--seed", "-1"], "seed must be an integer from 0"),
        (["demo", "--seed", "-1"], "--seed must be non-negative"),
        (["solve", TINY, "--method", "cpsat", "--seed", str(2**64)], "seed must be an integer from 0"),
        (["solve", TINY, "--bogus"], "unrecognized arguments: --bogus (see partialloading --help)"),
        (["plot", TINY, TINY, "-o", "{tmp}/missing/g.png"], "does not exist"),
        (["plot", TINY, TINY, "-o", "{tmp}/g"], "give the image format as an extension"),
        (["plot", TINY, TINY, "-o", "{tmp}/g.bmpx"], "unknown image format .bmpx"),
        (["plot", TINY, TINY, "-o", "{tmp}/g.png", "--dpi", "0"], "--dpi must be from 10 to 1200"),
        (["plot", TINY, TINY, "-o", "{tmp}/g.png", "--dpi", "-5"], "--dpi must be from 10 to 1200"),
        (["plot", TINY, TINY, "-o", "{tmp}/g.png", "--dpi", "100000"], "--dpi must be from 10 to 1200"),
        (["formulation", TINY, "-w", "{tmp}"], "unknown model file extension"),
        (["formulation", TINY, "-w", "{tmp}/missing/m.lp"], "does not exist"),
        (["demo", "--time-limit", "0"], "--time-limit must be positive"),
        (["solve", TINY, "--table", "-1"], "--table must be non-negative"),
    ],
)
def test_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str) -> None:
    assert main([a.format(tmp=tmp_path) for a in args]) == 2
    assert expected in one_line(capsys)


def test_study_checks_its_plot_before_solving(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "s.sqlite"
    args = ["study", "throughput", "--family", "random-general", "--param", "tightness", "--values", "0.5"]
    assert main([*args, "--seeds", "1", "--db", str(db), "--plot", str(tmp_path / "x.bmpx")]) == 2
    assert "unknown image format" in one_line(capsys)
    assert not db.exists()


def write_variant(tmp_path: Path, change) -> str:
    doc = json.loads(Path(TINY).read_text())
    change(doc)
    path = tmp_path / "variant.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_an_integer_literal_beyond_the_digit_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "big.json"
    path.write_text(Path(TINY).read_text().replace('"data_bits": 1000000.0', '"data_bits": 1' + "0" * 5000, 1))
    assert main(["validate", str(path)]) == 2
    assert "invalid JSON" in one_line(capsys)


def test_a_huge_snr_is_a_number_not_a_crash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def change(doc):
        doc["users"][0].pop("spectral_efficiency")
        doc["users"][0]["snr_db"] = 4000

    assert main(["solve", write_variant(tmp_path, change)]) == 0
    assert "served 3/4" in capsys.readouterr().out


@pytest.mark.parametrize("method", ["greedy", "cpsat", "milp", "enumerate"])
def test_weights_of_very_different_sizes(method: str) -> None:
    import dataclasses

    edge = instances.load("edge20")
    users = tuple(dataclasses.replace(u, weight=1e12 if i % 3 == 0 else 1) for i, u in enumerate(edge.users))
    instance = dataclasses.replace(edge, users=users[: 10 if method == "enumerate" else 20])
    result = pl.solve(instance, method, time_limit=30)
    assert pl.solve(instance, "greedy").objective <= result.objective or method == "greedy"
    assert result.objective >= 1e12


def test_the_api_raises_toolkit_errors_for_user_mistakes(tiny) -> None:
    for call in (
        lambda: pl.solve(tiny, "greedy", seed=-1),
        lambda: pl.solve(tiny, "greedy", time_limit=0),
        lambda: pl.solve(tiny, "magic"),
        lambda: pl.solve(tiny, "greedy", effort=-1),
        lambda: pl.solve(tiny, "greedy", initial=["nobody"]),
    ):
        with pytest.raises(PartialLoadingError):
            call()


# --------------------------------------------------------------------------- honest output
def test_plot_of_an_invalid_solution_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "s.json"
    assert main(["solve", TINY, "-o", str(good)]) == 0
    doc = json.loads(good.read_text())
    doc["schedule"].append(
        {"user": "u4", "model": "dogs", "load_s": 0.1, "start_s": 0.43, "upload_end_s": 0.08,
         "infer_start_s": 0.53, "finish_s": 0.54, "deadline_s": 0.5}
    )  # fmt: skip
    doc["rejected"], doc["objective"] = [], 4
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(["plot", TINY, str(bad), "-o", str(tmp_path / "bad.png")]) == 0
    assert "schedule INVALID" in capsys.readouterr().out

    from partialloading.plot import plot_gantt

    result = pl.Result.from_dict(pl.read_instance(TINY), doc)
    ax = plot_gantt(result.solution, violations=["schedule[3].finish_s: late"])
    assert ax.get_title().startswith("INVALID SCHEDULE")
    assert any(t.get_text().startswith("LATE by") for t in ax.texts)


def test_plot_reports_the_file_it_wrote(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["solve", TINY, "-o", str(tmp_path / "s.json")])
    capsys.readouterr()
    assert main(["plot", TINY, str(tmp_path / "s.json"), "-o", str(tmp_path / "g.svg")]) == 0
    out = capsys.readouterr().out
    assert f"written to {tmp_path / 'g.svg'}" in out and (tmp_path / "g.svg").exists()


def test_verify_says_what_it_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["solve", TINY, "-o", str(tmp_path / "s.json")])
    capsys.readouterr()
    assert main(["verify", TINY, str(tmp_path / "s.json")]) == 0
    assert "not re-proved: that an 'optimal' schedule is optimal" in capsys.readouterr().out
    doc = json.loads((tmp_path / "s.json").read_text())
    doc["bound"] = 2  # below the objective 3
    (tmp_path / "b.json").write_text(json.dumps(doc))
    assert main(["verify", TINY, str(tmp_path / "b.json")]) == 1
    assert "upper bound 2 is below the value 3" in capsys.readouterr().out


def test_numbers_print_in_full(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def change(doc):
        doc["users"][0]["weight"] = 1000002

    assert main(["solve", write_variant(tmp_path, change), "--method", "greedy"]) == 0
    assert "objective 1000004" in capsys.readouterr().out


# --------------------------------------------------------------------------- big inputs
def test_solve_table_is_capped(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["solve", "edge20", "--table", "3"]) == 0
    out = capsys.readouterr().out
    assert "... 11 more rows (--table 0 shows all)" in out
    assert main(["solve", "edge20", "--quiet"]) == 0
    assert " # user" not in capsys.readouterr().out


def test_gantt_of_many_users_has_one_row_per_model_visit() -> None:
    from partialloading.plot import plot_gantt
    from partialloading.scenarios import generate

    instance = generate("zoo-heads", 0, n_users=400, tightness=1.0)
    result = pl.solve(instance, "dp")
    assert len(result.solution.order) > 100
    ax = plot_gantt(result)
    rows = len(ax.get_yticks())
    assert rows < len(result.solution.order) and "one row per model visit" in ax.get_title()
    assert ax.get_figure().get_size_inches()[1] <= 1.6 + 0.42 * 100 + 1e-9


def test_progress_is_plain_lines_when_stderr_is_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "decomposition", "--instances", "20", "--seed", "1", "--no-milp"]) in (0, 1)
    err = capsys.readouterr().err
    assert "\r" not in err and "instances: 20/20" in err


def test_control_characters_in_ids_are_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def change(doc):
        doc["users"][0]["id"] = "u1\x1b[31m"

    assert main(["solve", write_variant(tmp_path, change)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "u1\\x1b" in out


# --------------------------------------------------------------------------- empty cases
def degenerate(tmp_path: Path) -> dict[str, str]:
    def nobody(doc):
        for u in doc["users"]:
            u["deadline_s"] = 0.001

    def no_users(doc):
        doc["users"] = []

    def one_user(doc):
        doc["users"] = doc["users"][:1]

    def zero_block(doc):
        doc["blocks"][1]["size_bytes"] = 0
        doc["server"]["initial_model"] = "dogs"  # requested by nobody but u4

    out = {}
    for name, change in (
        ("nobody", nobody),
        ("no-users", no_users),
        ("one-user", one_user),
        ("zero-block", zero_block),
    ):
        doc = json.loads(Path(TINY).read_text())
        change(doc)
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(doc))
        out[name] = str(path)
    return out


@pytest.mark.parametrize("case", ["nobody", "no-users", "one-user", "zero-block"])
def test_every_subcommand_on_degenerate_instances(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    path = degenerate(tmp_path)[case]
    sol = str(tmp_path / "s.json")
    commands = [
        ["validate", path],
        ["inspect", path],
        ["solve", path, "-o", sol],
        ["verify", path, sol],
        ["plot", path, sol, "-o", str(tmp_path / "g.png")],
        ["formulation", path, "-w", str(tmp_path / "m.lp")],
        ["formulation", path, "-w", str(tmp_path / "m.mps"), "--formulation", "general"],
        ["solve", path, "--method", "cpsat"],
        ["solve", path, "--method", "milp", "--timing", "pipelined"],
        ["solve", path, "--method", "greedy", "--timing", "pipelined", "--no-sharing"],
        ["demo", "--instance", path, "--time-limit", "10"],
    ]
    for args in commands:
        assert main(args) == 0, args
        assert "Traceback" not in capsys.readouterr().err
    assert (tmp_path / "m.lp").read_text().startswith("\\* Source Pyomo model")


def test_weights_beyond_float_resolution_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def change(doc):
        for i, u in enumerate(doc["users"]):
            u["weight"] = 1e17 if i % 2 == 0 else 1.5

    assert main(["solve", write_variant(tmp_path, change), "--method", "greedy"]) == 2
    assert "rescale them" in one_line(capsys)
