"""The model ``solve(method="milp")`` solves, written to an LP or MPS file: the one-model MILP
(``general`` or ``compact``), the batch-slot MILP where models have batch tables, the capacity
MILP for a memory with a capacity, and the pipelined MINLP (written by SCIP, which solves it) for
pipelined timing.

The components keep the names of ``docs/formulation.md``; times are in milliseconds.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from partialloading.formulations import batched, capacity
from partialloading.formulations.common import schedule_data
from partialloading.instance import Instance
from partialloading.methods import METHODS
from partialloading.params import make_params

from .batched import FORMULATION as BATCHED
from .common import keeps_blocks
from .onemodel import build_model, choose_formulation

FORMATS = {".lp": "CPLEX LP", ".mps": "free MPS"}
"""File extensions :func:`write_model` writes, and the format of each."""


@dataclass(frozen=True)
class WrittenModel:
    """What :func:`write_model` wrote: the model's name, its formulation and size."""

    name: str
    formulation: str
    variables: int
    constraints: int


def write_model(instance: Instance, path: Path, *, formulation: str = "auto") -> WrittenModel:
    """Write the model that the MILP method solves for ``instance`` to ``path`` (its extension,
    one of :data:`FORMATS`, gives the format).

    Raises
    ------
    MethodNotApplicableError
        An instance the MILP method refuses (its memory model), or a formulation that is not
        defined for it.
    """
    # The registry refuses what the method refuses, as solve() asks it to.
    entry = METHODS["milp"]
    entry.check(instance, make_params(entry.params, {"formulation": formulation}))
    data = schedule_data(instance)
    is_pipelined = instance.timing == "pipelined"
    if instance.batching or (is_pipelined and keeps_blocks(instance)):
        # The batch-slot model (SCIP solves its pipelined form through Pyomo).
        blocks = capacity.blocks_of_instance(data, instance) if keeps_blocks(instance) else None
        model = batched.build(data, batched.BatchData.of(instance, data), blocks, is_pipelined)
        chosen = BATCHED
    elif is_pipelined:
        # The pipelined model is written for SCIP, which writes it as it solves it.
        from partialloading.formulations import pipelined

        built = pipelined.build(data)
        built.model.writeProblem(str(path), verbose=False)
        return WrittenModel("partialloading-pipelined", "pipelined", built.model.getNVars(), built.model.getNConss())
    elif keeps_blocks(instance):
        model = capacity.build(data, capacity.blocks_of_instance(data, instance))
        chosen = capacity.FORMULATION
    else:
        model = build_model(instance, formulation=formulation)
        chosen = choose_formulation(data, formulation)
    _write_pyomo(model, path)
    return WrittenModel(str(model.name), chosen, model.nvariables(), model.nconstraints())


def _write_pyomo(model: object, path: Path) -> None:
    # Pyomo picks the writer from this format, not from the name: a device such as /dev/stdout works.
    from pyomo.opt import ProblemFormat

    kind = ProblemFormat.cpxlp if path.suffix.lower() == ".lp" else ProblemFormat.mps
    try:
        model.write(str(path), format=kind, io_options={"symbolic_solver_labels": True})  # type: ignore[attr-defined]
    except RuntimeError as exc:
        if "Duplicate symbol" not in str(exc):
            raise
        # Two ids became the same name once made LP-safe (e.g. "a b" and "a_b"): fall back on
        # generic names (x1, c1, ...); the model itself is unchanged.
        print(f"note: readable names collide ({exc}); writing generic names", file=sys.stderr)
        model.write(str(path), format=kind, io_options={"symbolic_solver_labels": False})  # type: ignore[attr-defined]
