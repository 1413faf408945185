"""Workload files: round trips, and one clear line for every kind of bad file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from partialloading.cli import main
from partialloading.errors import InstanceError
from partialloading.online import Request, Workload, generate_workload, read_workload, write_workload
from partialloading.online.arrivals import arrival_times

SERVER = {
    "format": "partialloading/workload",
    "version": 1,
    "name": "two-heads",
    "uplink": {"bandwidth_hz": 1e7},
    "server": {"load_speed_bytes_per_s": 1e9, "initial_model": None},
    "blocks": [{"id": "bb", "size_bytes": 3e8}, {"id": "h1", "size_bytes": 1e6}, {"id": "h2", "size_bytes": 1e6}],
    "models": [
        {"id": "m1", "blocks": ["bb", "h1"], "infer_time_s": 0.01},
        {"id": "m2", "blocks": ["bb", "h2"], "infer_time_s": 0.01},
    ],
}


def request(i: int, **change: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "id": f"r{i}",
        "model": "m1" if i % 2 == 0 else "m2",
        "arrival_s": 0.1 * i,
        "data_bits": 1e5,
        "spectral_efficiency": 5.0,
        "relative_deadline_s": 1.0,
        "weight": 1,
    }
    doc.update(change)
    return doc


def write(path: Path, requests: list[dict[str, object]]) -> Path:
    path.write_text(json.dumps({**SERVER, "requests": requests}))
    return path


def write_csv(folder: Path, lines: list[str]) -> Path:
    (folder / "trace.csv").write_text("\n".join(lines) + "\n")
    (folder / "w.json").write_text(json.dumps({**SERVER, "requests_csv": "trace.csv"}))
    return folder / "w.json"


HEADER = "id,model,arrival_s,data_bits,spectral_efficiency,snr_db,relative_deadline_s,weight"


def test_json_and_csv_round_trip(tmp_path: Path) -> None:
    workload = read_workload(write(tmp_path / "w.json", [request(i) for i in range(5)]))
    assert [r.id for r in workload.requests] == ["r0", "r1", "r2", "r3", "r4"]
    assert workload.requests[3].deadline_s == pytest.approx(1.3)
    for table in (False, True):
        files = write_workload(workload, tmp_path / f"copy{int(table)}.json", csv_table=table)
        assert len(files) == (2 if table else 1)
        assert read_workload(files[0]) == workload


def test_generated_workload_round_trips_through_csv(tmp_path: Path) -> None:
    workload = generate_workload("zoo-heads", rate=50, duration=2, seed=3, weighted=True)
    files = write_workload(workload, tmp_path / "g.json", csv_table=True)
    assert read_workload(files[0]) == workload


BAD_JSON = {
    "unknown model": ([request(0), request(1, model="zebra")], "requests[1].model: unknown model 'zebra'"),
    "negative arrival": ([request(0, arrival_s=-0.5)], "requests[0].arrival_s: must be non-negative (got -0.5)"),
    "duplicate id": (
        [request(0), request(1, id="r0")],
        "requests[1].id: duplicate request id 'r0' (first at requests[0])",
    ),
    "missing deadline": (
        [{k: v for k, v in request(0).items() if k != "relative_deadline_s"}],
        "requests[0]: missing key 'relative_deadline_s'",
    ),
    "unknown key": ([request(0, colour="red")], "requests[0]: unknown key 'colour'"),
    "both radio fields": ([request(0, snr_db=10.0)], "requests[0].spectral_efficiency: give exactly one"),
    "zero deadline": ([request(0, relative_deadline_s=0)], "requests[0].relative_deadline_s: must be positive"),
    "not an object": ([request(0), 7], "requests[1]: must be an object (got 7)"),
}

BAD_CSV = {
    "non-finite arrival": (
        [HEADER, "r0,m1,inf,1e5,5,,1,1"],
        "trace.csv: line 2, column arrival_s: must be finite (got inf)",
    ),
    "not a number": (
        [HEADER, "r0,m1,0.1,lots,5,,1,1"],
        "trace.csv: line 2, column data_bits: must be a number (got 'lots')",
    ),
    "short row": ([HEADER, "r0,m1,0.1,1e5,5,,1,1", "r1,m1,0.2"], "trace.csv: line 3: 3 cells, the header has 8"),
    "missing deadline cell": ([HEADER, "r0,m1,0.1,1e5,5,,,1"], "trace.csv: line 2, column relative_deadline_s: empty"),
    "duplicate id": (
        [HEADER, "r0,m1,0.1,1e5,5,,1,1", "r0,m2,0.2,1e5,5,,1,1"],
        "trace.csv: line 3, column id: duplicate request id 'r0' (first at line 2)",
    ),
    "unknown model": ([HEADER, "r0,m9,0.1,1e5,5,,1,1"], "trace.csv: request 'r0', column model: unknown model 'm9'"),
    "missing column": (
        ["id,model,arrival_s,data_bits,spectral_efficiency", "r0,m1,0,1,1"],
        "line 1: missing column 'relative_deadline_s'",
    ),
    "unknown column": ([HEADER + ",colour", "r0,m1,0.1,1e5,5,,1,1,red"], "line 1: unknown column 'colour'"),
}


@pytest.mark.parametrize("case", BAD_JSON)
def test_bad_json_requests(tmp_path: Path, case: str) -> None:
    rows, expected = BAD_JSON[case]
    path = write(tmp_path / "w.json", rows)
    with pytest.raises(InstanceError) as info:
        read_workload(path)
    assert str(info.value) == f"{path}: {expected}" or str(info.value).startswith(f"{path}: {expected}")


@pytest.mark.parametrize("case", BAD_CSV)
def test_bad_csv_rows(tmp_path: Path, case: str) -> None:
    lines, expected = BAD_CSV[case]
    with pytest.raises(InstanceError, match=None) as info:
        read_workload(write_csv(tmp_path, lines))
    assert expected in str(info.value)


def test_missing_table_and_bad_server(tmp_path: Path) -> None:
    (tmp_path / "w.json").write_text(json.dumps({**SERVER, "requests_csv": "nowhere.csv"}))
    with pytest.raises(InstanceError, match=r"nowhere\.csv: cannot read the request table"):
        read_workload(tmp_path / "w.json")
    doc = {**SERVER, "uplink": {"bandwidth_hz": -1}, "requests": [request(0)]}
    (tmp_path / "w.json").write_text(json.dumps(doc))
    with pytest.raises(InstanceError, match=r"uplink\.bandwidth_hz: must be positive"):
        read_workload(tmp_path / "w.json")
    (tmp_path / "w.json").write_text(json.dumps({**SERVER}))
    with pytest.raises(InstanceError, match=r"w\.json"):
        read_workload(tmp_path / "w.json")


@pytest.mark.parametrize("case", [*BAD_JSON, *(f"csv: {c}" for c in BAD_CSV)])
def test_simulate_refuses_bad_workloads_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    if case.startswith("csv: "):
        path = write_csv(tmp_path, BAD_CSV[case[5:]][0])
    else:
        path = write(tmp_path / "w.json", BAD_JSON[case][0])
    summary, table = tmp_path / "summary.json", tmp_path / "requests.csv"
    code = main(["simulate", str(path), "--summary-out", str(summary), "--requests-out", str(table)])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("partialloading: error: ") and "\n" not in err
    assert not summary.exists() and not table.exists()


def test_arrival_process_has_the_asked_rate_and_burstiness() -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    for cv in (0.5, 1.0, 3.0):
        times = arrival_times(100.0, 200.0, cv, rng)
        gaps = np.diff(times)
        # 20,000 arrivals: the rate within 5%, the CV within 10%.
        assert len(times) == pytest.approx(20_000, rel=0.05)
        assert gaps.std() / gaps.mean() == pytest.approx(cv, rel=0.1)
        assert times.min() >= 0 and times.max() < 200.0


def test_generator_is_deterministic_and_follows_popularity() -> None:
    a = generate_workload("zoo-heads", rate=200, duration=5, seed=7, popularity_zipf=1.5)
    assert a == generate_workload("zoo-heads", rate=200, duration=5, seed=7, popularity_zipf=1.5)
    assert a != generate_workload("zoo-heads", rate=200, duration=5, seed=8, popularity_zipf=1.5)
    counts = {}
    for r in a.requests:
        counts[r.model] = counts.get(r.model, 0) + 1
    first = a.server.models[0].id
    # Zipf(1.5): the most popular model has the largest share.
    assert counts[first] == max(counts.values())
    # Deadlines: slo 3 × [0.5, 1.5] × the isolated latency, so at least 1.5 isolated latencies.
    sizes = dict(zip([m.id for m in a.server.models], a.server.model_sizes, strict=True))
    r = a.requests[0]
    alone = Request(r.id, r.model, 0, r.data_bits, 1.0, r.spectral_efficiency, r.snr_db).user(1.0).upload_work
    isolated = alone / a.server.bandwidth_hz + sizes[r.model] / a.server.load_speed_bytes_per_s
    isolated += a.server.models[a.server.model_index[r.model]].infer_time_s
    assert 1.5 * isolated - 1e-8 <= r.relative_deadline_s <= 4.5 * isolated + 1e-8


def test_workload_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "w.json"
    assert (
        main(
            [
                "workload",
                "zoo-heads",
                "--rate",
                "30",
                "--duration",
                "2",
                "--cv",
                "2",
                "--popularity",
                "zipf:1",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    assert "requests over 2 s" in capsys.readouterr().out
    assert read_workload(out).requests
    for bad, message in [
        (["--rate", "0"], "rate must be a positive finite number"),
        (["--rate", "5", "--popularity", "pareto"], "--popularity must be uniform or zipf:S"),
        (["--rate", "5", "--spread", "1"], "spread must be in [0, 1)"),
    ]:
        target = tmp_path / "bad.json"
        assert main(["workload", "zoo-heads", "--duration", "1", *bad, "-o", str(target)]) == 2
        assert message in capsys.readouterr().err
        assert not target.exists()


def test_workload_with_checkpoint_models(tmp_path: Path) -> None:
    from partialloading.instance import Block, Model

    blocks = (Block("bb", 1e8), Block("h", 1e6))
    models = (Model("a", ("bb",), 0.01), Model("b", ("bb", "h"), 0.01))
    w = generate_workload("backbone", rate=20, duration=1, seed=0, blocks=blocks, models=models)
    assert {r.model for r in w.requests} <= {"a", "b"}
    assert isinstance(w, Workload)
