"""The exact MILP backend (``method="milp"``): Pyomo models solved with HiGHS (or another MIP solver).

Two formulations (:mod:`partialloading.formulations`):

* ``"general"`` — position-based, valid for every instance;
* ``"compact"`` — a path over the models visiting each at most once, exact when all users share
  one deadline (and a restriction otherwise).

``"auto"`` picks the compact one exactly when all deadlines are equal.

Numerical safety. The model works in milliseconds with the solver's feasibility tolerances
tightened to 1e-9, and the order read from the solution is re-evaluated in seconds by the
toolkit's evaluator (the MILP's own times are never reported). If that order misses a deadline
— only possible by the solver's tolerance, i.e. by ~1e-12 s — the model is solved again with
every deadline reduced by a small margin (1e-6 ms, then 100× more, ...) until the order is on
time. The bound reported is the one of the *first* solve (exact deadlines), and the status is
``optimal`` only when the on-time schedule reaches it, so a margin never hides a loss.
"""

from __future__ import annotations

from partialloading.errors import MethodNotApplicableError
from partialloading.instance import Instance
from partialloading.methods import SolveRequest, SolverOutput
from partialloading.params import MilpParams

from .batched import solve_batched
from .capacity import solve_capacity
from .common import keeps_blocks, solver_named
from .onemodel import solve_one_model


def precheck(instance: Instance, params: MilpParams) -> None:
    """Refuse, before any work (the warm start included), what the MILP does not define: a
    formulation other than the position-based one for a memory with a capacity or pipelined
    timing, a formulation other than the batch-slot one for batches, solver options under
    pipelined timing (SCIP solves that model), and a solver Pyomo does not have."""
    if instance.batching and params.formulation != "auto":
        raise MethodNotApplicableError(
            f"formulation {params.formulation!r} does not serve batches (the batch-slot model does: use auto)"
        )
    if keeps_blocks(instance) and params.formulation not in ("auto", "general"):
        raise MethodNotApplicableError(
            f"formulation {params.formulation!r} is not defined for a memory with a capacity (the capacity model is "
            "position-based: use auto or general)"
        )
    if instance.timing == "pipelined":
        if params.formulation not in ("auto", "general"):
            raise MethodNotApplicableError(
                f"formulation {params.formulation!r} is not defined for pipelined timing (the pipelined model is "
                "position-based: use auto or general)"
            )
        if params.solver != "highs" or params.solver_options:
            raise MethodNotApplicableError(
                "under pipelined timing the model is solved by SCIP: solver options do not apply"
            )
    elif params.solver != "highs":
        solver_named(params.solver)


def solve(instance: Instance, params: MilpParams, request: SolveRequest) -> SolverOutput:
    """Solve the scheduling MILP exactly (or to the time limit): the driver of the instance's
    timing and memory (:mod:`.onemodel`, :mod:`.capacity`, :mod:`.pipelined`).

    ``params`` (:class:`~partialloading.params.MilpParams`) names the solver (default
    ``"highs"``: HiGHS through highspy), the formulation (``"auto"``: compact for one common
    deadline, else general; with per-user deadlines the compact model is a restriction, no
    longer exact) and extra solver options (override the defaults).

    Returns
    -------
    SolverOutput
        ``optimal`` when the solver proved optimality; ``feasible`` at the time limit with an
        incumbent that serves someone; ``time_limit`` otherwise. ``info`` holds the formulation,
        the gap, the model size and the solver's termination.
    """
    # What the MILP refuses (why_not_exact, precheck) the registry checks before any work.
    if instance.batching or (keeps_blocks(instance) and instance.timing == "pipelined"):
        return solve_batched(instance, params, request)
    if instance.timing == "pipelined":
        # SCIP is loaded only by those who solve the pipelined model.
        from .pipelined import solve_pipelined

        return solve_pipelined(instance, params, request)
    if keeps_blocks(instance):
        return solve_capacity(instance, params, request)
    return solve_one_model(instance, params, request)
