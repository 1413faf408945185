"""Serving on several servers: routers, per-server memory, every request accounted for, files."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from partialloading.cli import main
from partialloading.errors import InstanceError, ParameterError
from partialloading.online import generate_workload, simulate
from partialloading.online.records import dumps_outcomes_csv, dumps_rounds_csv, run_to_dict
from partialloading.online.servers import ROUTERS, simulate_servers
from partialloading.online.study import LoadStore, LoadSweep, run_load_sweep
from partialloading.online.study_analysis import load_points
from partialloading.online.workload import read_workload, workload_from_dict, workload_to_dict, write_workload
from partialloading.study import StudyError


@pytest.fixture(scope="module")
def three() -> object:
    """80 requests/s for 3 s of zoo-heads on three cells."""
    return generate_workload("zoo-heads", 80.0, 3.0, 2, servers=3)


@pytest.mark.parametrize("router", ROUTERS)
def test_every_request_is_served_or_dropped_by_a_named_server(three: object, router: str) -> None:
    run = simulate_servers(three, "greedy", router=router)  # every round's plan is verified
    s = run.summary
    assert s.served + s.dropped == s.arrivals == len(three.requests) == len(run.outcomes)
    assert [o.request for o in run.outcomes] == [r.id for r in three.requests]
    ids = {srv.id for srv in three.servers}
    assert all(o.server in ids for o in run.outcomes if o.status == "served")
    assert s.servers is not None and sum(x.served for x in s.servers) == s.served
    assert sum(x.dropped for x in s.servers) <= s.dropped
    # A served request went to a server it reaches, and finished by its deadline.
    requests = {r.id: r for r in three.requests}
    assert all(requests[o.request].reaches(o.server) for o in run.outcomes if o.server)
    assert all(o.finish_s <= o.deadline_s * (1 + 1e-9) for o in run.outcomes if o.status == "served")
    assert run.router == router and 0 < s.gpu_busy_fraction <= 1


def test_each_server_keeps_its_memory_across_rounds(three: object) -> None:
    run = simulate_servers(three, "greedy", router="affinity")
    for server in three.servers:
        rounds = [r for r in run.rounds if r.server == server.id and r.served]
        # Later rounds reuse what earlier rounds on the same server left resident.
        assert rounds[0].reused_bytes == 0.0 and any(r.reused_bytes > 0 for r in rounds[1:])


def test_affinity_keeps_a_model_where_it_is_resident() -> None:
    workload = generate_workload("zoo-heads", 40.0, 3.0, 5, servers=2)
    affinity = simulate_servers(workload, "greedy", router="affinity")
    spread = simulate_servers(workload, "greedy", router="round-robin")
    # Sending a request where its blocks already are loads less than alternating servers.
    assert affinity.summary.loaded_bytes < spread.summary.loaded_bytes


def test_the_same_seed_gives_the_same_run(three: object) -> None:
    a = simulate_servers(three, "greedy", router="random", seed=3)
    b = simulate_servers(three, "greedy", router="random", seed=3)
    c = simulate_servers(three, "greedy", router="random", seed=4)
    assert a.outcomes == b.outcomes and a.outcomes != c.outcomes


def test_round_robin_takes_turns_among_the_servers_a_request_reaches() -> None:
    workload = generate_workload("zoo-heads", 20.0, 2.0, 1, servers=2)
    everywhere = [r for r in workload.requests if r.links is not None and len(r.links) == 2]
    run = simulate_servers(workload, "fifo", router="round-robin")
    assert everywhere, "the cells layout gives some requests two links"
    servers = [o.server for o in run.outcomes if o.status == "served"]
    assert len(set(servers)) == 2


def test_the_files_name_the_server(three: object, tmp_path: Path) -> None:
    run = simulate_servers(three, "edf", router="least-loaded")
    table = list(csv.DictReader(io.StringIO(dumps_outcomes_csv(run))))
    assert {row["server"] for row in table if row["status"] == "served"} <= {s.id for s in three.servers}
    rounds = list(csv.DictReader(io.StringIO(dumps_rounds_csv(run))))
    assert rounds[0].keys() >= {"server", "resident_bytes"}
    doc = run_to_dict(run)
    assert doc["router"] == "least-loaded" and [s["id"] for s in doc["servers"]] == ["cell0", "cell1", "cell2"]
    # One server: the files read as before.
    one = simulate(generate_workload("zoo-heads", 20.0, 1.0, 0), "edf")
    assert "server" not in dumps_outcomes_csv(one).splitlines()[0] and "servers" not in run_to_dict(one)


def test_a_workload_with_servers_round_trips(three: object, tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    write_workload(three, path)
    assert read_workload(path) == three
    write_workload(three, path, csv_table=True)
    again = read_workload(path)
    assert again.requests == three.requests and again.servers == three.servers
    assert "links" in (tmp_path / "w.requests.csv").read_text().splitlines()[0]


def test_a_bad_link_is_named(three: object) -> None:
    doc = workload_to_dict(three)
    doc["requests"][0]["links"] = [{"server": "nowhere", "snr_db": 3.0}]
    with pytest.raises(InstanceError, match=r"requests\[0\]\.links\[0\]\.server: unknown server 'nowhere'"):
        workload_from_dict(doc)
    doc["requests"][0]["links"] = [{"server": "cell0", "snr_db": 3.0}, {"server": "cell0", "snr_db": 4.0}]
    with pytest.raises(InstanceError, match=r"requests\[0\]\.links\[1\]\.server: server 'cell0' is linked twice"):
        workload_from_dict(doc)


def test_one_server_simulate_refuses_several(three: object) -> None:
    with pytest.raises(ParameterError, match="the workload has 3 servers: serve it with simulate_servers"):
        simulate(three, "greedy")
    with pytest.raises(ParameterError, match="unknown router 'nearest'"):
        simulate_servers(three, "greedy", router="nearest")


def test_simulate_from_the_terminal(three: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "w.json"
    write_workload(three, path)
    out = tmp_path / "r.csv"
    assert main(["simulate", str(path), "--router", "joint", "--quiet", "--requests-out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "router joint, per server:" in printed and "cell2" in printed
    assert out.read_text().splitlines()[0].endswith(",server")
    one = tmp_path / "one.json"
    write_workload(generate_workload("zoo-heads", 20.0, 1.0, 0), one)
    assert main(["simulate", str(one), "--router", "joint"]) == 2
    assert "has one server (routing needs several)" in capsys.readouterr().err


SERVERS = LoadSweep(
    family="zoo-heads",
    parameter="servers",
    values=(1, 2),
    policies=("greedy",),
    seeds=(0,),
    settings=(("duration", 2.0), ("rate", 60.0)),
    routers=("affinity", "joint"),
)


def test_a_load_study_sweeps_servers_for_each_router(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    summary = run_load_sweep(SERVERS, db, workers=1, progress=False)
    assert (summary.tasks, summary.solved, summary.errors) == (4, 4, ())
    assert run_load_sweep(SERVERS, db, workers=1, progress=False).skipped == 4
    with LoadStore(db) as store:
        rows = store.rows(SERVERS.tasks())
    points = load_points(SERVERS, rows)
    assert [(p.value, p.policy) for p in points] == [
        (1, "greedy @affinity"),
        (1, "greedy @joint"),
        (2, "greedy @affinity"),
        (2, "greedy @joint"),
    ]
    on_time = {(p.value, p.policy): p.on_time_mean for p in points}
    # One server routes nowhere: both routers serve the same.
    assert on_time[1, "greedy @affinity"] == pytest.approx(on_time[1, "greedy @joint"])
    assert on_time[2, "greedy @affinity"] > on_time[1, "greedy @affinity"]
    with pytest.raises(StudyError, match="routers route among several servers"):
        LoadSweep("zoo-heads", "rate", (10.0,), ("greedy",), (0,), routers=("joint",))
    with pytest.raises(StudyError, match="unknown router 'x'"):
        LoadSweep("zoo-heads", "servers", (2,), ("greedy",), (0,), routers=("x",))


def test_a_load_study_sweeps_the_router(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["study", "online", "--family", "zoo-heads", "--param", "router", "--values", "affinity", "joint"]
    args += ["--set", "servers=2", "duration=2", "rate=60", "--policies", "greedy", "--seeds", "1"]
    assert main([*args, "--db", "r.sqlite", "--no-progress"]) == 0
    table = list(csv.DictReader((tmp_path / "online-zoo-heads-router.csv").open()))
    assert [(row["value"], row["policy"]) for row in table] == [("affinity", "greedy"), ("joint", "greedy")]
    assert (tmp_path / "online-zoo-heads-router.png").stat().st_size > 0
