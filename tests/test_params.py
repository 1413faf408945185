"""Typed method parameters: dataclasses, TOML files, command-line values, and the starting schedule."""

from __future__ import annotations

from pathlib import Path

import pytest

from partialloading import instances
from partialloading.cli import main
from partialloading.errors import ParameterError
from partialloading.params import (
    PARAMS,
    CpsatParams,
    GreedyParams,
    MilpParams,
    make_params,
    parse_assignments,
    read_params_file,
)
from partialloading.result import Status
from partialloading.scenarios import random_instance
from partialloading.solve import solve


def test_every_method_has_a_parameter_class() -> None:
    from partialloading.methods import METHODS

    assert set(PARAMS) == set(METHODS)
    for name, method in METHODS.items():
        assert method.params is PARAMS[name] and method.params.method == name


@pytest.mark.parametrize(
    ("method", "values", "match"),
    [
        ("greedy", {"bogus": 1}, "greedy: unknown parameter 'bogus'"),
        ("greedy", {"improve": "yes"}, "'improve' must be true or false"),
        ("greedy", {"effort": -1.0}, "'effort' must be non-negative"),
        ("greedy", {"restarts": 1.5}, "'restarts' must be an integer or null"),
        ("cpsat", {"workers": 0}, "'workers' must be at least 1"),
        ("cpsat", {"workers": True}, "'workers' must be an integer"),
        ("cpsat", {"resolution": float("nan")}, "'resolution' must be a number"),
        ("milp", {"formulation": "timeindexed"}, "one of 'auto', 'general', 'compact'"),
        ("milp", {"solver_options": 3}, "'solver_options' must be a table or null"),
        ("edf", {"effort": 1}, "edf: unknown parameter 'effort' \\(it takes no parameters\\)"),
    ],
)
def test_ill_typed_or_unknown_parameters_are_one_line_errors(method: str, values: dict, match: str) -> None:
    with pytest.raises(ParameterError, match=match) as info:
        make_params(method, values)
    assert "\n" not in str(info.value)
    # The same through solve(): keyword options are checked by the same dataclass.
    with pytest.raises(ParameterError, match=match):
        solve(instances.load("tiny"), method, **values)


def test_dataclass_mapping_and_keywords_combine() -> None:
    assert make_params("greedy", GreedyParams(effort=10.0), restarts=2) == GreedyParams(effort=10.0, restarts=2)
    assert make_params("milp", {"formulation": "compact"}) == MilpParams(formulation="compact")
    # An integer is a valid float; the parameters of another method are refused.
    assert make_params("cpsat", {"resolution": 100}).resolution == 100
    with pytest.raises(ParameterError, match="got the parameters of 'greedy'"):
        make_params("cpsat", GreedyParams())


def test_toml_file_and_command_line_values(tmp_path: Path) -> None:
    path = tmp_path / "params.toml"
    path.write_text('[greedy]\neffort = 1e4\nrestarts = 0\n[milp]\nformulation = "general"\n')
    assert read_params_file(path, "greedy") == {"effort": 1e4, "restarts": 0}
    assert read_params_file(path, "milp") == {"formulation": "general"}
    flat = tmp_path / "flat.toml"
    flat.write_text("workers = 2\n")
    assert read_params_file(flat, "cpsat") == {"workers": 2}
    assert parse_assignments(["effort=1e5", "improve=false", "formulation=compact", 'x="a b"']) == {
        "effort": 1e5,
        "improve": False,
        "formulation": "compact",
        "x": "a b",
    }
    bad = tmp_path / "bad.toml"
    bad.write_text("[greedy\n")
    with pytest.raises(ParameterError, match=r"bad\.toml: invalid TOML"):
        read_params_file(bad, "greedy")
    with pytest.raises(ParameterError, match="expected NAME=VALUE"):
        parse_assignments(["effort"])


def test_cli_parameters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tiny = str(instances.path("tiny"))
    path = tmp_path / "p.toml"
    path.write_text("[greedy]\nrestarts = 0\n")
    assert main(["solve", tiny, "--method", "greedy", "--params", str(path), "--param", "improve=false"]) == 0
    assert main(["solve", tiny, "--method", "greedy", "--param", "bogus=1"]) == 2
    assert main(["solve", tiny, "--method", "cpsat", "--param", "workers=x"]) == 2
    assert main(["solve", tiny, "--param", "effort=1"]) == 2  # auto: the method is not known in advance
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("partialloading: error: ") for line in err)


# ------------------------------------------------------------------------------- initial schedule
def test_initial_schedule_is_checked() -> None:
    tiny = instances.load("tiny")
    with pytest.raises(ParameterError, match="initial\\[1\\]: unknown user 'nobody'"):
        solve(tiny, "greedy", initial=["u1", "nobody"])
    with pytest.raises(ParameterError, match="a user appears twice"):
        solve(tiny, "greedy", initial=["u1", "u1"])
    # All four tiny users cannot be on time (u4 would finish at 0.56 s > 0.5 s).
    with pytest.raises(ParameterError, match="not feasible"):
        solve(tiny, "greedy", initial=["u1", "u3", "u2", "u4"])


@pytest.mark.parametrize("seed", range(4))
def test_no_method_returns_less_than_its_start(method: str, seed: int) -> None:
    inst = random_instance(seed, n_users=9, n_models=3, structure="general", deadlines="per_user", weighted=True)
    start = solve(inst, "greedy", seed=seed)
    try:
        result = solve(inst, method, initial=list(start.solution.admitted), time_limit=10)
    except Exception as exc:
        assert method == "dp", exc  # the DP refuses per-user deadlines
        return
    assert result.objective >= start.objective - 1e-9
    assert result.info["incumbent_from"] in ("method", "initial")


def test_a_time_limited_method_falls_back_on_the_start() -> None:
    # CP-SAT with a tiny budget on a large instance: the start is hinted and kept.
    inst = random_instance(5, n_users=60, n_models=8, structure="general", deadlines="per_user")
    start = solve(inst, "edf")
    result = solve(inst, "cpsat", time_limit=0.05, initial=list(start.solution.admitted))
    assert result.objective >= start.objective
    assert result.status in (Status.FEASIBLE, Status.OPTIMAL)
    assert isinstance(CpsatParams().workers, int)
