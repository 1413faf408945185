"""Every mistake is one line that names the file, the place in it and what is wrong; exit 2 and
nothing written (each case once printed a traceback, a whole document or the wrong place)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import partialloading as pl
from partialloading import instances
from partialloading.cli import main
from partialloading.scenarios import random_instance


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    instance = pl.read_instance(instances.path("tiny"))
    paths = {"instance": tmp_path / "tiny.json", "solution": tmp_path / "sol.json"}
    pl.write_instance(instance, paths["instance"])
    pl.solve(instance, "greedy").write(paths["solution"])
    doc = json.loads(paths["solution"].read_text())
    doc["schedule"][0]["user"] = "ghost"
    paths["ghost"] = tmp_path / "ghost.json"
    paths["ghost"].write_text(json.dumps(doc))
    assert main(["workload", "zoo-heads", "--rate", "5", "--duration", "2", "--out", str(tmp_path / "w.json")]) == 0
    workload = json.loads((tmp_path / "w.json").read_text())
    both = {**workload, "requests_csv": "x.csv"}
    neither = {k: v for k, v in workload.items() if k != "requests"}
    for name, doc in (("both", both), ("neither", neither)):
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(doc))
    paths["per-user"] = tmp_path / "per-user.json"
    pl.write_instance(random_instance(3, 6, 3, structure="general", deadlines="per_user"), paths["per-user"])
    paths["catalog"] = tmp_path / "models.json"
    paths["catalog"].write_text(
        json.dumps(
            {
                "format": "partialloading/models",
                "version": 1,
                "blocks": [{"id": "base", "size_bytes": 1e9}, {"id": "a", "size_bytes": 1e7}],
                "models": [
                    {"id": "m1", "blocks": ["base", "a"], "infer_time_s": 0.1, "overhead_s": 0.0,
                     "prefill_s_per_token": 1e-4, "decode_s_per_token": 1e308}
                ],
            }
        )
    )  # fmt: skip
    return paths


CASES = {
    "unknown MIP solver": (["solve", "{instance}", "--method", "milp", "--solver", "nonexistent"],
                           "MIP solver 'nonexistent' is not installed"),
    "solution given as an instance": (["validate", "{solution}"],
                                      "sol.json: format: this is a solution file ('partialloading/solution'), "
                                      "not an instance"),
    "instance given as a solution": (["verify", "{instance}", "{instance}"],
                                     "tiny.json: format: this is an instance file"),
    "instance given as a workload": (["simulate", "{instance}"], "tiny.json: format: this is an instance file"),
    "both requests and requests_csv": (["simulate", "{both}"],
                                       "both.json: give exactly one of requests and requests_csv (both given)"),
    "neither requests nor requests_csv": (["simulate", "{neither}"],
                                          "neither.json: give exactly one of requests and requests_csv"),
    "a start with an unknown user": (["solve", "{instance}", "--method", "greedy", "--initial", "{ghost}"],
                                     "ghost.json: schedule[0].user: unknown user 'ghost'"),
    "a catalog's figures overflow": (["workload", "zoo-lora", "--from-trace", "{trace}", "--format", "azure-llm",
                                      "--models", "{catalog}", "--duration", "10", "--out", "{out}"],
                                     "line 2: the request's inference time overflows to infinity (model m1"),
    "--users 0, by its flag": (["generate", "zoo-heads", "--users", "0", "--out", "{folder}"],
                               "--users must be at least 1 (got 0)"),
    "--users 0 of a random family (a traceback)": (["generate", "random-general", "--users", "0", "--out", "{folder}"],
                                                  "--users must be at least 1 (got 0)"),
    "--rate 0, by its flag": (["workload", "zoo-heads", "--rate", "0", "--duration", "1", "--out", "{out}"],
                              "--rate must be a positive finite number"),
    "dp outside its case names bnb too": (["solve", "{per-user}", "--method", "dp"],
                                          "(use bnb, milp, cpsat or greedy)"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_one_line_naming_the_place(
    case: str, files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv, expected = CASES[case]
    values = {**{k: str(v) for k, v in files.items()}, "out": str(tmp_path / "out.json")}
    values["folder"] = str(tmp_path / "generated")
    values["trace"] = str(instances.trace_path("azure-llm-conv-5min"))
    before = sorted(p.name for p in tmp_path.iterdir())
    capsys.readouterr()
    assert main([a.format_map(values) for a in argv]) == 2
    assert expected in one_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
