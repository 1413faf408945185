"""The formulations themselves: each model built from an instance, solved by its solver and
decoded, gives the hand-solved optimum; the written LP/MPS files solve to it too.

(``tests/solvers/test_milp.py`` tests the MILP *method*: its safety net, time limits, and its
agreement with the other exact methods.)
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import highspy
import pyomo.environ as pyo
import pytest

import partialloading as pl
from partialloading.batch_tables import with_batch_tables
from partialloading.cli import main
from partialloading.formulations import capacity, compact, general, pipelined
from partialloading.formulations.common import schedule_data
from partialloading.instance import Instance
from partialloading.scenarios import random_instance
from partialloading.solution import Solution

from hand import backbone_hand_instance, ms_instance, revisit_instance


def _solve(model: pyo.ConcreteModel) -> None:
    result = pyo.SolverFactory("highs").solve(model)
    assert str(result.solver.termination_condition) == "optimal"


def _served(instance: Instance, order: list[int]) -> float:
    return float(instance.weights[order].sum()) if order else 0.0


@pytest.mark.parametrize("formulation", [general, compact])
def test_one_model_formulations_reach_the_hand_optimum(formulation) -> None:  # type: ignore[no-untyped-def]
    # backbone_hand_instance: optimum 3 (a1, a2 on A, then B's head; see its docstring).
    instance = backbone_hand_instance()
    data = schedule_data(instance)
    model = formulation.build(data)
    _solve(model)
    order = formulation.decode(model, data)
    assert _served(instance, order) == 3
    assert Solution(instance, tuple(order)).feasible


def test_compact_visits_each_model_once_so_it_misses_a_revisit() -> None:
    # revisit_instance: serving all 3 needs A, B, A again; the compact path visits A once (2).
    instance = revisit_instance()
    data = schedule_data(instance)
    served = {}
    for formulation in (general, compact):
        model = formulation.build(data)
        _solve(model)
        served[formulation.__name__] = _served(instance, formulation.decode(model, data))
    assert served == {general.__name__: 3, compact.__name__: 2}


def test_capacity_formulation_keeps_both_models_resident() -> None:
    # A and B share nothing, each 10 ms to load, 5 ms per request; a1, b1, a2 due at 15.5, 30.5
    # and 35.5 ms. The one-model memory serves 2: A a1 (15), B b1 (30), then A again (45) is
    # late, and a1, a2 first (15, 20) leave b1 at 35 > 30.5. A memory of 20 MB keeps A while B
    # loads: a1 at 15, b1 at 30, a2 at 35: all 3 (the capacity model decides the evictions).
    one_model = ms_instance(
        {"ba": 10, "bb": 10},
        {"A": (["ba"], 5), "B": (["bb"], 5)},
        [("a1", "A", 15.5), ("b1", "B", 30.5), ("a2", "A", 35.5)],
    )
    instance = dataclasses.replace(one_model, memory_bytes=20e6)
    data = schedule_data(instance)
    plain = general.build(schedule_data(one_model))
    _solve(plain)
    assert _served(one_model, general.decode(plain, schedule_data(one_model))) == 2
    blocks = capacity.blocks_of_instance(data, instance)
    model = capacity.build(data, blocks)
    _solve(model)
    order = general.decode(model, data)
    evicted = capacity.decode_evictions(model, blocks, len(order))
    assert _served(instance, order) == 3
    assert Solution(instance, tuple(order), evicted=tuple(tuple(e) for e in evicted)).feasible


def test_pipelined_minlp_reaches_the_hand_optimum() -> None:
    # With uploads of 1e-7 s the pipelined timeline equals the frame one: optimum 3 again.
    instance = backbone_hand_instance()
    pipelined_instance = dataclasses.replace(instance, timing="pipelined")
    data = schedule_data(pipelined_instance)
    built = pipelined.build(data)
    built.model.optimize()
    assert built.model.getStatus() == "optimal"
    order = pipelined.decode(built, data)
    assert _served(pipelined_instance, order) == 3
    assert Solution(pipelined_instance, tuple(order)).feasible


@pytest.mark.parametrize("suffix", [".lp", ".mps"])
@pytest.mark.parametrize("formulation", ["compact", "general"])
def test_written_model_solves_to_the_same_optimum(tmp_path: Path, suffix: str, formulation: str) -> None:
    instance = backbone_hand_instance()
    source = tmp_path / "hand.json"
    pl.write_instance(instance, source)
    target = tmp_path / f"model{suffix}"
    assert main(["formulation", str(source), "--write", str(target), "--formulation", formulation]) == 0
    text = target.read_text()
    assert "meet_deadline" in text
    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.readModel(str(target))
    highs.run()
    assert highs.getInfo().objective_function_value == pytest.approx(3)


def test_formulation_cli_rejects_unknown_extension(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "hand.json"
    source.write_text(json.dumps(pl.instance_to_dict(backbone_hand_instance())))
    target = tmp_path / "model.txt"
    assert main(["formulation", str(source), "--write", str(target)]) == 2
    assert "extension" in capsys.readouterr().err
    assert not target.exists()
    assert list(tmp_path.iterdir()) == [source]


def test_formulation_cli_survives_colliding_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # "a b" and "a_b" both become admit(a_b) in an LP file: the writer falls back on generic names.
    instance = ms_instance({"b": 10}, {"m": (["b"], 5)}, [("a b", "m", 30.5), ("a_b", "m", 30.5)])
    source = tmp_path / "clash.json"
    pl.write_instance(instance, source)
    target = tmp_path / "clash.lp"
    assert main(["formulation", str(source), "--write", str(target)]) == 0
    assert "generic names" in capsys.readouterr().err
    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.readModel(str(target))
    highs.run()
    # 10 ms load + 2 × 5 ms inference = 20 ms ≤ 30.5 ms: both users fit.
    assert highs.getInfo().objective_function_value == pytest.approx(2)


def _instances(tmp_path: Path) -> dict[str, Path]:
    """One instance file per model the MILP method solves (and one it refuses)."""
    base = random_instance(3, 6, 3, structure="general", deadlines="per_user", weighted=True)
    room = 1.5 * float(base.model_sizes.max())
    variants = {
        "single": base,
        "capacity": dataclasses.replace(base, memory_bytes=room),
        "pipelined": dataclasses.replace(base, timing="pipelined"),
        "capacity-lru": dataclasses.replace(base, memory_bytes=room, memory="capacity-lru"),
        "pipelined-capacity": dataclasses.replace(base, memory_bytes=room, timing="pipelined"),
        "batched": dataclasses.replace(
            base,
            models=tuple(with_batch_tables(list(base.models), 4)),
            users=tuple(dataclasses.replace(u, deadline_s=u.deadline_s * 0.8) for u in base.users),
        ),
    }
    paths = {}
    for name, inst in variants.items():
        paths[name] = tmp_path / f"{name}.json"
        pl.write_instance(inst, paths[name])
    return paths


@pytest.mark.parametrize("suffix", [".lp", ".mps"])
@pytest.mark.parametrize(
    ("variant", "formulation"), [("single", "general"), ("capacity", "capacity"), ("batched", "batched")]
)
def test_the_written_model_is_the_one_solve_solves(tmp_path: Path, suffix: str, variant: str, formulation: str) -> None:
    # The capacity MILP used to be written as the one-model MILP (byte-identical files).
    source = _instances(tmp_path)[variant]
    target = tmp_path / f"{variant}{suffix}"
    assert main(["formulation", str(source), "--write", str(target)]) == 0
    assert f"partialloading_{formulation}" in target.read_text()
    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.readModel(str(target))
    highs.run()
    optimum = pl.solve(pl.read_instance(source), "milp").objective
    assert highs.getInfo().objective_function_value == pytest.approx(optimum)


@pytest.mark.parametrize("variant", ["pipelined", "pipelined-capacity"])
def test_the_pipelined_minlp_is_written_for_scip(tmp_path: Path, variant: str) -> None:
    # The position-based MINLP (one-model memory) is written by SCIP itself; the batch-slot model
    # with resident blocks by Pyomo, with its cones as quadratic rows SCIP reads back.
    from pyscipopt import Model

    source = _instances(tmp_path)[variant]
    target = tmp_path / f"{variant}.lp"
    assert main(["formulation", str(source), "--write", str(target)]) == 0
    model = Model()
    model.hideOutput()
    model.readProblem(str(target))
    model.optimize()
    assert model.getObjVal() == pytest.approx(pl.solve(pl.read_instance(source), "milp").objective)


def test_a_memory_the_milp_does_not_model_is_refused_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _instances(tmp_path)["capacity-lru"]
    target = tmp_path / "lru.lp"
    assert main(["formulation", str(source), "--write", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{source}: milp does not support the 'capacity-lru' memory model" in err
    assert not target.exists()
