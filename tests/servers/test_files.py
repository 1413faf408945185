"""Several servers from the terminal and in files: solve prints a block per server, the solution
file carries each entry's server and reads back, the verifier names the entry it refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_network import two_servers

import partialloading as pl
from partialloading.cli import main
from partialloading.errors import SolutionError
from partialloading.io import network_from_dict, write_network
from partialloading.servers import NetworkResult
from partialloading.validation.servers import verify_network_solution


@pytest.fixture
def net_file(tmp_path: Path) -> Path:
    path = tmp_path / "two.json"
    write_network(network_from_dict(two_servers()), path)
    return path


def test_solve_prints_one_block_per_server_and_the_file_verifies(
    net_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = net_file.parent / "sol.json"
    assert main(["solve", str(net_file), "--method", "benders", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    # u2 and u1 share a's band (u1 reaches a by 10 dB); u3 reaches only b: all three are served.
    assert "instance 'two' on 2 servers: method benders" in printed and "served 3/3 users" in printed
    assert "server 'a':" in printed and "server 'b':" in printed and "rejected" not in printed
    doc = json.loads(out.read_text())
    assert {e["server"] for e in doc["schedule"]} == {"a", "b"} and [s["id"] for s in doc["servers"]] == ["a", "b"]
    assert main(["verify", str(net_file), str(out)]) == 0
    assert "valid solution" in capsys.readouterr().out


def test_a_solution_file_reads_back_to_the_same_schedule(net_file: Path) -> None:
    net = network_from_dict(two_servers())
    result = pl.solve(net, "greedy")
    again = NetworkResult.from_dict(net, json.loads(result.dumps()), "sol.json")
    assert again.solution.orders == result.solution.orders and again.to_dict() == result.to_dict()


def test_a_schedule_naming_a_server_the_user_cannot_reach_is_refused_at_the_entry() -> None:
    net = network_from_dict(two_servers())
    doc = json.loads(pl.solve(net, "enumerate").dumps())
    q = next(q for q, e in enumerate(doc["schedule"]) if e["user"] == "u3")
    doc["schedule"][q]["server"] = "a"
    with pytest.raises(SolutionError, match=rf"^sol.json: schedule\[{q}\].server: user 'u3' cannot be served by"):
        NetworkResult.from_dict(net, doc, "sol.json")
    report = verify_network_solution(net, doc)
    assert f"schedule[{q}].server" in {v.where for v in report.violations}


def test_the_verifier_names_the_entry_of_a_late_user_and_a_wrong_server_total() -> None:
    net = network_from_dict(two_servers())
    doc = json.loads(pl.solve(net, "enumerate").dumps())
    doc["schedule"][-1]["finish_s"] += 1.0
    doc["servers"][0]["upload_end_s"] = doc["upload_end_s"] + 1.0  # now the latest, and not the top-level one
    where = {v.where for v in verify_network_solution(net, doc).violations}
    last = len(doc["schedule"]) - 1
    assert {f"schedule[{last}].finish_s", "servers[0].upload_end_s", "upload_end_s"} <= where


def test_an_entry_without_its_server_is_refused(net_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    net = network_from_dict(two_servers())
    doc = json.loads(pl.solve(net, "enumerate").dumps())
    del doc["schedule"][0]["server"]
    bad = net_file.parent / "bad.json"
    bad.write_text(json.dumps(doc))
    assert main(["verify", str(net_file), str(bad)]) == 1
    assert "schedule[0].server: missing (the instance has several servers)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--method", "bnb"], "bnb schedules one server, and this instance has 2"),
        (["--method", "enumerate", "--param", "max_users=2"], "enumerate handles at most 2 users"),
    ],
)
def test_a_method_that_cannot_refuses_in_one_line(
    net_file: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["solve", str(net_file), *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_a_broken_network_file_is_one_line_and_exit_2(net_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = json.loads(net_file.read_text())
    doc["users"][0]["links"][0]["server"] = "zz"
    net_file.write_text(json.dumps(doc))
    for command in (["solve"], ["inspect"]):
        assert main([*command, str(net_file)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "users[0].links[0].server: unknown server 'zz'" in err


def test_inspect_shows_each_server_and_its_users(net_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(net_file)]) == 0
    printed = capsys.readouterr().out
    assert (
        "2 servers" in printed and "users by the number of servers that can serve them: 1 reach 1, 2 reach 2" in printed
    )


def test_a_start_from_a_solution_file(net_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    start = net_file.parent / "start.json"
    assert main(["solve", str(net_file), "--method", "edf", "-o", str(start)]) == 0
    assert main(["solve", str(net_file), "--method", "greedy", "--initial", str(start)]) == 0
    assert "served 3/3" in capsys.readouterr().out
