"""The independent verifier accepts every method's output and catches corrupted solutions."""

from __future__ import annotations

import ast
import copy
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from partialloading import instances
from partialloading.errors import MethodNotApplicableError, SolutionError
from partialloading.instance import Instance
from partialloading.result import Result, Status
from partialloading.scenarios import random_instance
from partialloading.solution import Solution
from partialloading.solve import solve
from partialloading.solvers.dp import why_not_exact
from partialloading.validation import verify as verify_module
from partialloading.validation.files import verify_files
from partialloading.validation.verify import (
    VerificationReport,
    Violation,
    parse_solution_text,
    verify_solution,
)


def run_method(instance: Instance, method: str, sharing: bool) -> dict[str, Any] | None:
    """The solution document of ``method``, or ``None`` when the DP rightly refuses ``instance``."""
    try:
        result = solve(instance, method, sharing=sharing, time_limit=20)
    except MethodNotApplicableError:
        # Only the DP may refuse, and only outside its exact case.
        assert method == "dp" and why_not_exact(instance if sharing else instance.unshared()) is not None
        return None
    return result.to_dict()


@pytest.fixture(scope="module")
def tiny_doc(tiny: Instance) -> dict[str, Any]:
    # Optimum of tiny with sharing: u1, u3 (birds), then u2 (cars); u4 is rejected.
    return solve(tiny, "enumerate", sharing=True).to_dict()


def test_verifier_is_independent_of_the_evaluator() -> None:
    # Two implementations checking each other: the verifier imports no evaluator, solution,
    # result or solver code and reads none of the instance's derived (cached) quantities.
    tree = ast.parse(Path(verify_module.__file__).read_text("utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    banned = ("evaluate", "timing", "solution", "result", "solvers", "solve")
    assert not [m for m in imported if m and any(part in banned for part in m.split("."))], imported
    attributes = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    derived = {
        "load_matrix",
        "initial_load",
        "load_time",
        "upload_work",
        "upload_times",
        "membership",
        "model_sizes",
        "block_sizes",
        "infer_times",
        "deadlines",
        "weights",
        "user_models",
        "eta",
    }
    assert not attributes & derived


@pytest.mark.parametrize("sharing", [True, False])
@pytest.mark.parametrize(
    "make",
    [
        lambda: instances.load("tiny"),
        lambda: random_instance(3, 7, 3, structure="backbone"),
        lambda: random_instance(4, 7, 4, structure="general", deadlines="per_user", weighted=True, initial_model=True),
    ],
    ids=["tiny", "backbone", "general"],
)
def test_accepts_every_method(make: Callable[[], Instance], method: str, sharing: bool) -> None:
    instance = make()
    doc = run_method(instance, method, sharing)
    if doc is None:
        return
    report = verify_solution(instance, doc)
    assert report.ok, str(report)
    assert json.loads(json.dumps(doc)) == doc


def test_accepts_methods_on_the_realistic_instance() -> None:
    instance = instances.load("edge20")
    for sharing in (True, False):
        doc = solve(instance, "edf", sharing=sharing).to_dict()
        assert verify_solution(instance, doc).ok


def test_accepts_the_empty_schedule(tiny: Instance) -> None:
    doc = {
        "format": "partialloading/solution",
        "version": 1,
        "instance": "tiny",
        "method": "none",
        "sharing": True,
        "status": "feasible",
        "objective": 0,
        "bound": None,
        "runtime_s": 0.0,
        "upload_end_s": 0.0,
        "schedule": [],
        "bandwidth_hz": {},
        "rejected": ["u1", "u2", "u3", "u4"],
    }
    assert verify_solution(tiny, doc).ok


def test_accepts_a_suboptimal_bandwidth_split(tiny_doc: dict[str, Any], tiny: Instance) -> None:
    # Any split within B is allowed when the reported times follow from it: give u1 more
    # bandwidth; the last upload (u3 or u2) then ends later and everything shifts with it.
    doc = copy.deepcopy(tiny_doc)
    doc["bandwidth_hz"] = {"u1": 4e6, "u3": 3e6, "u2": 3e6}
    tau = 2e5 / 3e6  # a_k = 1e6 bit / 5 bit/s/Hz for every user
    shift = tau - doc["upload_end_s"]
    doc["upload_end_s"] = tau
    for entry in doc["schedule"]:
        entry["start_s"] += shift
        entry["infer_start_s"] += shift
        entry["finish_s"] += shift
        # Each entry's own upload end follows from its own bandwidth.
        entry["upload_end_s"] = 2e5 / doc["bandwidth_hz"][entry["user"]]
    assert verify_solution(tiny, doc).ok
    # Files written before the per-entry times existed are still read under frame timing.
    for entry in doc["schedule"]:
        del entry["upload_end_s"], entry["infer_start_s"]
    assert verify_solution(tiny, doc).ok
    # The same split without shifting the timeline is caught.
    doc2 = copy.deepcopy(tiny_doc)
    doc2["bandwidth_hz"] = {"u1": 4e6, "u3": 3e6, "u2": 3e6}
    report = verify_solution(tiny, doc2)
    assert not report.ok
    assert any(v.where == "bandwidth_hz.u3" for v in report.violations)
    assert any(v.where == "upload_end_s" for v in report.violations)


def _late_finish(doc: dict[str, Any]) -> None:
    doc["schedule"][2]["finish_s"] = 0.55


def _bandwidth_over_budget(doc: dict[str, Any]) -> None:
    doc["bandwidth_hz"]["u1"] *= 2


def _duplicated_user(doc: dict[str, Any]) -> None:
    doc["schedule"].append(copy.deepcopy(doc["schedule"][0]))


def _missing_user(doc: dict[str, Any]) -> None:
    doc["rejected"] = []


def _user_scheduled_and_rejected(doc: dict[str, Any]) -> None:
    doc["rejected"].append("u1")


def _unknown_user_scheduled(doc: dict[str, Any]) -> None:
    doc["schedule"][1]["user"] = "ghost"


def _unknown_user_rejected(doc: dict[str, Any]) -> None:
    doc["rejected"].append("ghost")


def _wrong_objective(doc: dict[str, Any]) -> None:
    doc["objective"] = 4


def _bound_below_objective(doc: dict[str, Any]) -> None:
    doc["bound"] = 2


def _optimal_with_loose_bound(doc: dict[str, Any]) -> None:
    doc["bound"] = 4


def _sharing_mislabelled(doc: dict[str, Any]) -> None:
    # Computed with sharing: u2 (cars) reuses the ViT backbone; without sharing it reloads it.
    doc["sharing"] = False


def _wrong_model(doc: dict[str, Any]) -> None:
    doc["schedule"][0]["model"] = "cars"


def _wrong_deadline(doc: dict[str, Any]) -> None:
    doc["schedule"][0]["deadline_s"] = 0.9


def _wrong_load(doc: dict[str, Any]) -> None:
    doc["schedule"][1]["load_s"] = 0.32


def _wrong_start(doc: dict[str, Any]) -> None:
    doc["schedule"][0]["start_s"] = 0.0


def _upload_end_too_early(doc: dict[str, Any]) -> None:
    doc["upload_end_s"] = 0.05


def _swapped_order(doc: dict[str, Any]) -> None:
    # Serving cars between the two birds users loads two heads more: the times no longer match.
    doc["schedule"][1]["user"], doc["schedule"][2]["user"] = "u2", "u3"
    doc["schedule"][1]["model"], doc["schedule"][2]["model"] = "cars", "birds"


def _bandwidth_for_rejected(doc: dict[str, Any]) -> None:
    doc["bandwidth_hz"]["u4"] = 1.0


def _bandwidth_missing(doc: dict[str, Any]) -> None:
    del doc["bandwidth_hz"]["u2"]


def _negative_bandwidth(doc: dict[str, Any]) -> None:
    doc["bandwidth_hz"]["u2"] = -1.0


def _zero_bandwidth(doc: dict[str, Any]) -> None:
    doc["bandwidth_hz"]["u2"] = 0.0


def _wrong_instance(doc: dict[str, Any]) -> None:
    doc["instance"] = "other"


def _unknown_status(doc: dict[str, Any]) -> None:
    doc["status"] = "great"


def _admit_u4(doc: dict[str, Any]) -> None:
    # A consistent timeline that serves u4 too: it finishes at 0.56 s > 0.5 s (see instances/README.md).
    # Uploads: 4 users, a_k/B = 0.02 s each with the equal split 2.5 MHz.
    doc["rejected"] = []
    doc["objective"] = 4
    doc["status"], doc["bound"] = "feasible", None
    doc["bandwidth_hz"] = {u: 2.5e6 for u in ("u1", "u3", "u2", "u4")}
    doc["upload_end_s"] = 0.08
    t = 0.08
    schedule = []
    for user, model, load in (("u1", "birds", 0.32), ("u3", "birds", 0.0), ("u2", "cars", 0.02), ("u4", "dogs", 0.1)):
        schedule.append(
            {"user": user, "model": model, "load_s": load, "start_s": t, "finish_s": t + load + 0.01, "deadline_s": 0.5}
        )
        t += load + 0.01
    doc["schedule"] = schedule


CORRUPTIONS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "late finish": (_late_finish, "schedule[2].finish_s"),
    "bandwidth over B": (_bandwidth_over_budget, "bandwidth_hz"),
    "duplicated user": (_duplicated_user, "schedule[3].user"),
    "missing user": (_missing_user, "rejected"),
    "scheduled and rejected": (_user_scheduled_and_rejected, "rejected[1]"),
    "unknown scheduled user": (_unknown_user_scheduled, "schedule[1].user"),
    "unknown rejected user": (_unknown_user_rejected, "rejected[1]"),
    "wrong objective": (_wrong_objective, "objective"),
    "bound below objective": (_bound_below_objective, "bound"),
    "optimal with loose bound": (_optimal_with_loose_bound, "bound"),
    "sharing mislabelled": (_sharing_mislabelled, "schedule[2].load_s"),
    "wrong model": (_wrong_model, "schedule[0].model"),
    "wrong deadline": (_wrong_deadline, "schedule[0].deadline_s"),
    "wrong load": (_wrong_load, "schedule[1].load_s"),
    "wrong start": (_wrong_start, "schedule[0].start_s"),
    "upload end too early": (_upload_end_too_early, "upload_end_s"),
    "swapped order": (_swapped_order, "schedule[1].load_s"),
    "bandwidth for a rejected user": (_bandwidth_for_rejected, "bandwidth_hz.u4"),
    "bandwidth missing": (_bandwidth_missing, "bandwidth_hz.u2"),
    "negative bandwidth": (_negative_bandwidth, "bandwidth_hz.u2"),
    "zero bandwidth": (_zero_bandwidth, "bandwidth_hz.u2"),
    "wrong instance": (_wrong_instance, "instance"),
    "admit u4 late": (_admit_u4, "schedule[3].finish_s"),
}


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_detects_corruption(name: str, tiny: Instance, tiny_doc: dict[str, Any]) -> None:
    corrupt, where = CORRUPTIONS[name]
    doc = copy.deepcopy(tiny_doc)
    corrupt(doc)
    report = verify_solution(tiny, doc)
    assert not report.ok
    assert where in [v.where for v in report.violations], str(report)
    assert all(isinstance(v, Violation) and v.problem for v in report.violations)


def test_late_user_is_reported_against_the_deadline(tiny: Instance, tiny_doc: dict[str, Any]) -> None:
    doc = copy.deepcopy(tiny_doc)
    _admit_u4(doc)
    report = verify_solution(tiny, doc)
    # The timeline is consistent; the only problem is u4's deadline.
    assert len(report.violations) == 1
    assert "after its deadline" in report.violations[0].problem


def test_no_sharing_solution_relabelled_as_sharing_is_caught(tiny: Instance) -> None:
    # u1 (birds) then u2 (cars): without sharing u2 reloads the 300 MB backbone, with sharing
    # only its 20 MB head, so the two labels give different timelines. Deadlines relaxed to 1 s
    # so that both timelines are on time.
    relaxed = dataclasses.replace(tiny, users=tuple(dataclasses.replace(u, deadline_s=1.0) for u in tiny.users))
    solution = Solution.from_user_ids(relaxed, ["u1", "u2"], sharing=False)
    doc = Result("by hand", Status.FEASIBLE, solution, None, 0.0).to_dict()
    assert verify_solution(relaxed, doc).ok
    doc["sharing"] = True
    report = verify_solution(relaxed, doc)
    assert {v.where for v in report.violations} == {
        "schedule[1].load_s",
        "schedule[1].infer_start_s",
        "schedule[1].finish_s",
    }


def test_report_is_immutable(tiny: Instance, tiny_doc: dict[str, Any]) -> None:
    report = verify_solution(tiny, tiny_doc)
    assert isinstance(report, VerificationReport)
    assert isinstance(report.violations, tuple)
    with pytest.raises(AttributeError):
        setattr(report, "violations", ())  # noqa: B010 (frozen dataclass: must raise)


def test_tolerance_is_relative(tiny: Instance, tiny_doc: dict[str, Any]) -> None:
    doc = copy.deepcopy(tiny_doc)
    doc["schedule"][2]["finish_s"] *= 1 + 1e-12
    assert verify_solution(tiny, doc).ok
    doc["schedule"][2]["finish_s"] *= 1 + 1e-6
    assert not verify_solution(tiny, doc).ok


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda d: d.pop("schedule"), "schedule: missing key"),
        (lambda d: d.update(extra=1), "extra: unknown key"),
        (lambda d: d.update(format="partialloading/instance"), "format"),
        (lambda d: d.update(version=2), "version"),
        (lambda d: d.update(version=True), "version"),
        (lambda d: d.update(sharing="yes"), "sharing"),
        (lambda d: d.update(objective="3"), "objective"),
        (lambda d: d.update(objective=True), "objective"),
        (lambda d: d.update(bound="none"), "bound"),
        (lambda d: d.update(runtime_s=-1.0), "runtime_s"),
        (lambda d: d.update(schedule={}), "schedule"),
        (lambda d: d["schedule"].append(3), "schedule[3]"),
        (lambda d: d["schedule"][1].pop("start_s"), "schedule[1].start_s"),
        (lambda d: d["schedule"][1].update(finish_s="late"), "schedule[1].finish_s"),
        (lambda d: d["schedule"][1].update(extra=0), "schedule[1].extra"),
        (lambda d: d["schedule"][0].update(user=1), "schedule[0].user"),
        (lambda d: d.update(bandwidth_hz=[1, 2]), "bandwidth_hz"),
        (lambda d: d["bandwidth_hz"].update(u1=None), "bandwidth_hz.u1"),
        (lambda d: d.update(rejected="u4"), "rejected"),
        (lambda d: d["rejected"].append(4), "rejected[1]"),
    ],
)
def test_malformed_documents_raise(
    mutate: Callable[[dict[str, Any]], Any], where: str, tiny: Instance, tiny_doc: dict[str, Any]
) -> None:
    doc = copy.deepcopy(tiny_doc)
    mutate(doc)
    with pytest.raises(SolutionError, match=where.replace("[", r"\[").replace("]", r"\]")):
        verify_solution(tiny, doc)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ('{"format": ', "invalid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"a": 1, "a": 2}', "duplicate key"),
    ],
)
def test_parse_errors_name_the_file(text: str, problem: str) -> None:
    with pytest.raises(SolutionError, match=f"sol.json: .*{problem}"):
        parse_solution_text(text, "sol.json")


def test_verify_files(tmp_path: Path, tiny_doc: dict[str, Any]) -> None:
    path = tmp_path / "sol.json"
    path.write_text(json.dumps(tiny_doc))
    assert verify_files(instances.path("tiny"), path).ok
    with pytest.raises(SolutionError, match="cannot read"):
        verify_files(instances.path("tiny"), tmp_path / "missing.json")
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SolutionError, match="not UTF-8"):
        verify_files(instances.path("tiny"), path)


# ---------------------------------------------------------------------------- what a file says
@pytest.mark.parametrize("sharing", [True, False])
def test_evictions_on_the_one_model_memory_are_checked(sharing: bool) -> None:
    # The one-model memory evicts exactly the blocks the next request does not need: a file that
    # says so is valid, one that names another block (or none of them) is not. Unknown blocks
    # used to pass unseen.
    instance = random_instance(3, 6, 3, structure="general", deadlines="per_user")
    result = solve(instance, "greedy", sharing=sharing)
    doc = result.to_dict()
    assert "evicted" not in doc["schedule"][0]
    right = copy.deepcopy(doc)
    for entry, gone in zip(right["schedule"], result.solution.evicted_ids, strict=True):
        entry["evicted"] = list(gone)
    assert verify_solution(instance, right).ok
    wrong = copy.deepcopy(right)
    wrong["schedule"][0]["evicted"] = ["no such block"]
    where = {v.where for v in verify_solution(instance, wrong).violations}
    assert "schedule[0].evicted[0]" in where
    switch = next((q for q, e in enumerate(right["schedule"]) if e["evicted"]), None)
    if switch is not None:
        kept = copy.deepcopy(right)
        kept["schedule"][switch]["evicted"] = []
        assert {v.where for v in verify_solution(instance, kept).violations} == {f"schedule[{switch}].evicted"}


def test_status_values_agree_in_code_schema_and_verifier() -> None:
    schema = json.loads((Path(verify_module.__file__).parent.parent / "schemas" / "solution-v1.json").read_text())
    enum = schema["properties"]["status"]["enum"]
    assert enum == [s.value for s in Status] == list(verify_module.STATUSES)
    assert "infeasible" not in schema["properties"]["status"]["description"].split("so no")[0]


def test_weights_are_positive_in_code_schema_and_docs(tiny: Instance) -> None:
    from partialloading.components import User
    from partialloading.errors import FieldError

    root = Path(__file__).resolve().parents[2]
    schema = json.loads((root / "partialloading" / "schemas" / "instance-v1.json").read_text())
    described = schema["properties"]["users"]["items"]["properties"]["weight"]["description"]
    assert "(positive)" in described
    assert "| `users[].weight` | number |  | `1` | Value w_k of serving the user (positive). |" in (
        (root / "docs" / "formats.md").read_text()
    )
    with pytest.raises(FieldError, match="weight: must be positive"):
        User("u", "m", 1.0, 1.0, spectral_efficiency=1.0, weight=0)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_a_non_finite_number_is_named_by_its_place(tiny_doc: dict[str, Any], value: str) -> None:
    doc = copy.deepcopy(tiny_doc)
    doc["objective"] = "PLACE"
    text = json.dumps(doc).replace('"PLACE"', value)
    with pytest.raises(SolutionError, match=r"sol\.json: objective: must be a finite number"):
        parse_solution_text(text, "sol.json")


def test_an_unknown_status_is_refused_by_the_format(tiny_doc: dict[str, Any]) -> None:
    doc = copy.deepcopy(tiny_doc)
    _unknown_status(doc)
    with pytest.raises(SolutionError, match=r"status: .* is not one of"):
        parse_solution_text(json.dumps(doc), "sol.json")


def test_a_non_finite_bandwidth_is_named(tiny_doc: dict[str, Any]) -> None:
    doc = copy.deepcopy(tiny_doc)
    user = next(iter(doc["bandwidth_hz"]))
    doc["bandwidth_hz"][user] = float("nan")
    with pytest.raises(SolutionError, match=rf"x\.json: bandwidth_hz\.{user}: must be a finite number"):
        parse_solution_text(json.dumps(doc), "x.json")


# ---------------------------------------------------------------- batches
def _batched_doc() -> tuple[Instance, dict[str, Any]]:
    """The hand instance whose optimum is one batch of three (tests/hand.py), solved."""
    from hand import batch_hand_instance

    inst = batch_hand_instance()
    doc = solve(inst, "enumerate").to_dict()
    assert [e["batch"] for e in doc["schedule"]] == [0, 0, 0]
    return inst, doc


def _where(inst: Instance, doc: dict[str, Any]) -> list[str]:
    return [v.where for v in verify_solution(inst, doc).violations]


def test_a_batch_larger_than_its_table_is_named() -> None:
    inst, doc = _batched_doc()
    short = dataclasses.replace(inst.models[0], batch_infer_time_s=inst.models[0].batch_infer_time_s[:2])
    assert "schedule[0].batch" in _where(dataclasses.replace(inst, models=(short, inst.models[1])), doc)


def test_batch_numbers_that_skip_are_named() -> None:
    inst, doc = _batched_doc()
    doc["schedule"][2]["batch"] = 2
    found = _where(inst, doc)
    assert "schedule[2].batch" in found
    # Split off, the third request finishes later than the file says.
    assert "schedule[2].finish_s" in found


def test_a_missing_batch_number_is_named() -> None:
    inst, doc = _batched_doc()
    del doc["schedule"][1]["batch"]
    assert "schedule[1].batch" in _where(inst, doc)


def test_a_batch_reported_one_by_one_is_caught_by_its_times() -> None:
    inst, doc = _batched_doc()
    for entry in doc["schedule"]:
        del entry["batch"]
    # Without batch numbers each request is its own batch: a2 and a3 finish at 40 and 50 ms.
    found = _where(inst, doc)
    assert "schedule[1].finish_s" in found and "schedule[2].finish_s" in found


def test_evictions_in_the_middle_of_a_batch_are_named() -> None:
    inst, _ = _batched_doc()
    inst = dataclasses.replace(inst, memory_bytes=30e6)
    doc = solve(inst, "enumerate").to_dict()
    doc["schedule"][1]["evicted"] = ["blkB"]
    assert "schedule[1].evicted" in _where(inst, doc)


def test_a_batch_mixing_models_is_named() -> None:
    from hand import batch_hand_instance

    inst = batch_hand_instance()
    doc = Result("x", Status.FEASIBLE, Solution(inst, (3,)), None, 0.0).to_dict()
    doc["schedule"].append(dict(doc["schedule"][0], user="a1", model="A", batch=0))
    doc["schedule"][0]["batch"] = 0
    doc["rejected"] = ["a2", "a3"]
    doc["bandwidth_hz"]["a1"] = 0.0
    assert "schedule[1].batch" in _where(inst, doc)
