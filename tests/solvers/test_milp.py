"""Exact methods: the MILP (both formulations), CP-SAT and enumeration agree, and hit known answers.

Known answers come from :mod:`references` (Moore–Hodgson on instances without loading costs,
the Hamiltonian-path reduction) and from tiny instances solved by hand in the comments.
"""

from __future__ import annotations

import importlib.util

import networkx as nx
import numpy as np
import pytest
from pyomo.opt import SolverResults, TerminationCondition

import partialloading as pl
from partialloading.errors import SolverError
from partialloading.instance import Instance
from partialloading.result import Result, Status
from partialloading.scenarios import Deadlines, Structure, random_instance
from partialloading.solvers.milp import common as milp_common
from partialloading.solvers.milp import onemodel as milp_backend
from partialloading.validation.references import (
    hamiltonian_instance,
    has_hamiltonian_path,
    moore_hodgson,
    no_loading_instance,
    no_loading_optimum,
)
from partialloading.validation.verify import verify_solution

from hand import backbone_hand_instance, ms_instance, revisit_instance

HAS_CPSAT = importlib.util.find_spec("partialloading.solvers.cpsat") is not None
_cpsat = pytest.param(("cpsat", {}), id="cpsat", marks=pytest.mark.skipif(not HAS_CPSAT, reason="no CP-SAT backend"))

MILP_GENERAL = pytest.param(("milp", {"formulation": "general"}), id="milp-general")
MILP_COMPACT = pytest.param(("milp", {"formulation": "compact"}), id="milp-compact")
ENUMERATE = pytest.param(("enumerate", {}), id="enumerate")

ANY_DEADLINES = [ENUMERATE, MILP_GENERAL, _cpsat]
"""Exact methods valid for every instance."""
COMMON_DEADLINE = [*ANY_DEADLINES, MILP_COMPACT]
"""Exact methods valid when all users share one deadline."""


def run(instance: Instance, method: tuple[str, dict], *, sharing: bool = True, **kwargs: object) -> Result:
    """Solve and check the solution with the independent verifier."""
    name, options = method
    result = pl.solve(instance, name, sharing=sharing, **options, **kwargs)  # type: ignore[arg-type]
    report = verify_solution(instance, result.to_dict())
    assert report.ok, str(report)
    return result


# ---------------------------------------------------------------------------- hand-solved
@pytest.mark.parametrize("method", COMMON_DEADLINE)
@pytest.mark.parametrize(("sharing", "optimum"), [(True, 3), (False, 2)])
def test_hand_solved_backbone(method: tuple[str, dict], sharing: bool, optimum: int) -> None:
    result = run(backbone_hand_instance(), method, sharing=sharing)
    assert result.status == Status.OPTIMAL
    assert result.objective == optimum
    assert result.bound == pytest.approx(optimum)
    if sharing:
        assert set(result.solution.admitted) == {"a1", "a2", "b1"}


@pytest.mark.parametrize("method", ANY_DEADLINES)
def test_revisit_instance_serves_everyone(method: tuple[str, dict]) -> None:
    result = run(revisit_instance(), method)
    assert result.objective == 3
    models = [result.solution.instance.users[k].model for k in result.solution.order]
    assert models == ["A", "B", "A"]


def test_compact_is_a_restriction_with_per_user_deadlines() -> None:
    instance = revisit_instance()
    # Cold starts: the warm start (greedy finds 3) would hide what the compact model finds.
    forced = run(instance, ("milp", {"formulation": "compact"}), initial=[])
    exact = run(instance, ("milp", {"formulation": "general"}), initial=[])
    assert forced.objective == 2 < exact.objective == 3
    assert run(instance, ("milp", {"formulation": "compact"})).objective == 3  # warm: never below greedy
    # Its optimum is not a proof for the instance: neither 'optimal' nor a bound.
    assert forced.status == Status.FEASIBLE
    assert forced.bound is None
    # 'auto' must not fall into the trap.
    assert run(instance, ("milp", {}), initial=[]).info["formulation"] == "general"


# ---------------------------------------------------------------------------- agreement
def _generated() -> list[pytest.ParameterSet]:
    cases = []
    structures: tuple[Structure, ...] = ("backbone", "general", "none")
    for seed in range(40):
        structure = structures[seed % 3]
        deadlines: Deadlines = "common" if seed % 2 == 0 else "per_user"
        inst = random_instance(
            seed,
            n_users=5 + seed % 3,
            n_models=2 + seed % 3,
            structure=structure,
            deadlines=deadlines,
            weighted=seed % 4 in (1, 2),
            initial_model=seed % 5 in (0, 3),
        )
        sharing = seed % 7 != 6
        cases.append(pytest.param(inst, sharing, id=f"{inst.name}-{'sh' if sharing else 'ns'}"))
    return cases


@pytest.mark.parametrize(("instance", "sharing"), _generated())
def test_exact_methods_agree(instance: Instance, sharing: bool) -> None:
    reference = run(instance, ("enumerate", {}), sharing=sharing)
    methods = [("milp", {"formulation": "general"}), ("milp", {})]
    if HAS_CPSAT:
        methods.append(("cpsat", {}))
    for method in methods:
        result = run(instance, method, sharing=sharing)
        assert result.status == Status.OPTIMAL, method
        assert result.objective == pytest.approx(reference.objective), method
        assert result.bound == pytest.approx(reference.objective), method


# ---------------------------------------------------------------------------- known answers
def test_moore_hodgson_matches_brute_force() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(1, 8))
        p = rng.integers(1, 10, n).tolist()
        d = (rng.integers(1, 30, n) + 0.5).tolist()
        best = 0
        for mask in range(1 << n):
            jobs = sorted((j for j in range(n) if mask >> j & 1), key=lambda j: d[j])
            ends = np.cumsum([p[j] for j in jobs])
            if all(e <= d[j] for e, j in zip(ends, jobs, strict=True)):
                best = max(best, len(jobs))
        kept = moore_hodgson(p, d)
        assert len(kept) == best
        assert all(e <= d[j] for e, j in zip(np.cumsum([p[j] for j in kept]), kept, strict=True))


@pytest.mark.parametrize("method", ANY_DEADLINES)
@pytest.mark.parametrize("seed", range(4))
def test_no_loading_cost_is_moore_hodgson(method: tuple[str, dict], seed: int) -> None:
    instance = no_loading_instance(seed, n_users=8)
    result = run(instance, method)
    assert result.status == Status.OPTIMAL
    assert result.objective == no_loading_optimum(instance)


GRAPHS = {
    "path5": nx.path_graph(5),
    "star-K13": nx.star_graph(3),
    "cycle5": nx.cycle_graph(5),
    "K23": nx.complete_bipartite_graph(2, 3),
    "two-edges": nx.Graph([(0, 1), (2, 3)]),
    "spider": nx.Graph([(0, 1), (1, 2), (0, 3), (3, 4), (0, 5), (5, 6)]),
    "petersen": nx.petersen_graph(),
}
KNOWN_HAMILTONIAN = {
    "path5": True,
    "star-K13": False,
    "cycle5": True,
    "K23": True,
    "two-edges": False,
    "spider": False,
    "petersen": True,
}


def test_hamiltonian_reference_on_known_graphs() -> None:
    for name, graph in GRAPHS.items():
        assert has_hamiltonian_path(graph) == KNOWN_HAMILTONIAN[name], name


@pytest.mark.parametrize("method", [MILP_COMPACT, MILP_GENERAL, _cpsat])
@pytest.mark.parametrize("name", list(GRAPHS))
def test_hamiltonian_reduction(method: tuple[str, dict], name: str) -> None:
    graph = GRAPHS[name]
    instance = hamiltonian_instance(graph)
    result = run(instance, method)
    assert result.status == Status.OPTIMAL
    assert (result.objective == graph.number_of_nodes()) == KNOWN_HAMILTONIAN[name]


@pytest.mark.parametrize("seed", range(6))
def test_hamiltonian_reduction_random_graphs(seed: int) -> None:
    graph = nx.gnp_random_graph(6, 0.4, seed=seed)
    result = run(hamiltonian_instance(graph), ("milp", {}))
    assert (result.objective == 6) == has_hamiltonian_path(graph)


# ---------------------------------------------------------------------------- limits, errors
def test_time_limit_returns_incumbent_and_bound() -> None:
    instance = random_instance(3, n_users=16, n_models=6, structure="general", deadlines="per_user")
    result = run(instance, ("milp", {"formulation": "general"}), time_limit=0.2)
    assert result.status in (Status.FEASIBLE, Status.TIME_LIMIT, Status.OPTIMAL)
    assert result.bound is not None
    assert result.bound >= result.objective
    if result.status == Status.TIME_LIMIT:
        assert result.objective == 0
    if result.status == Status.FEASIBLE:
        assert result.objective > 0


def test_deterministic_for_a_seed() -> None:
    instance = random_instance(11, n_users=7, n_models=3, structure="general", deadlines="per_user")
    first = pl.solve(instance, "milp", seed=5).solution.order
    assert pl.solve(instance, "milp", seed=5).solution.order == first


def test_nobody_fits() -> None:
    # Each user needs 10 ms of loading but has a 5 ms deadline: the empty schedule is optimal.
    instance = ms_instance({"b": 10}, {"A": (["b"], 1)}, [("u", "A", 5.5), ("v", "A", 5.5)])
    for formulation in ("auto", "general"):
        result = run(instance, ("milp", {"formulation": formulation}))
        assert result.status == Status.OPTIMAL
        assert result.objective == 0


def test_bad_options() -> None:
    instance = backbone_hand_instance()
    with pytest.raises(pl.ParameterError, match="formulation"):
        pl.solve(instance, "milp", formulation="timeindexed")
    with pytest.raises(SolverError, match="not"):
        pl.solve(instance, "milp", solver="no_such_solver")


@pytest.mark.parametrize(
    "condition", [TerminationCondition.error, TerminationCondition.infeasible, TerminationCondition.unbounded]
)
def test_solver_failure_is_an_error_not_an_answer(monkeypatch: pytest.MonkeyPatch, condition: object) -> None:
    class BrokenSolver:
        def solve(self, model: object, **kwargs: object) -> SolverResults:
            results = SolverResults()
            results.solver.termination_condition = condition
            return results

    monkeypatch.setattr(milp_common, "solver_named", lambda name: BrokenSolver())
    with pytest.raises(SolverError):
        # Cold: greedy's warm start proves this instance optimal without running the solver.
        pl.solve(backbone_hand_instance(), "milp", initial=[])


def test_late_order_is_repaired_not_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    # Simulate a solver whose tolerance lets a late schedule through: the first model gets
    # deadlines 30 ms too generous, so it serves c1 as well (4 users, c1 late at 110 ms).
    # The backend must notice on re-evaluation, re-solve with a margin, and not claim optimality
    # since the on-time schedule (3 users) is below the first solve's bound (4).
    real = milp_backend.schedule_data

    def loose_first(instance: Instance, margin: float = 0.0) -> object:
        return real(instance, margin=-30.0 if margin == 0.0 else margin)

    monkeypatch.setattr(milp_backend, "schedule_data", loose_first)
    # A cold start: greedy's bound (3) would prove the repaired schedule optimal at once.
    result = run(backbone_hand_instance(), ("milp", {}), initial=[])
    assert result.objective == 3
    assert result.status == Status.FEASIBLE
    assert result.bound == 4
    assert result.info["deadline_margin_ms"] > 0


def test_milp_works_after_another_highs_solve_in_the_process(tiny) -> None:
    # A user's own HiGHS solve (default threads) used to make the next `milp` solve fail:
    # HiGHS refused threads=1 once its scheduler existed, which Pyomo reported as "unknown".
    import pyomo.environ as pyo

    m = pyo.ConcreteModel()
    m.x = pyo.Var(domain=pyo.Binary)
    m.o = pyo.Objective(expr=m.x, sense=pyo.maximize)
    pyo.SolverFactory("appsi_highs").solve(m)
    result = pl.solve(tiny, "milp")
    assert result.status == Status.OPTIMAL and result.objective == 3


def test_model_size_estimate_is_close_and_refuses_huge_models(monkeypatch) -> None:
    from partialloading.errors import InstanceTooLargeError
    from partialloading.formulations.common import schedule_data

    instance = random_instance(3, n_users=30, n_models=5, structure="general", deadlines="per_user")
    data = schedule_data(instance)
    estimate = milp_backend.model_size(data, "general")
    built = milp_backend.build_chosen(data, "general")
    assert estimate.variables == built.nvariables()
    assert abs(estimate.constraints - built.nconstraints()) <= 0.1 * built.nconstraints()
    # Beyond the limit the MILP refuses up front, with the size and what to use instead.
    monkeypatch.setattr(milp_backend, "MAX_NONZEROS", estimate.nonzeros - 1)
    with pytest.raises(InstanceTooLargeError, match=r"nonzeros .*use greedy"):
        pl.solve(instance, "milp")


def test_build_time_counts_against_the_time_limit(monkeypatch) -> None:
    instance = random_instance(4, n_users=12, n_models=4, structure="general", deadlines="per_user")
    real_build = milp_backend.build_chosen

    def slow_build(data, formulation):
        import time as _time

        _time.sleep(0.3)
        return real_build(data, formulation)

    monkeypatch.setattr(milp_backend, "build_chosen", slow_build)
    # Cold: greedy's warm start proves this instance optimal before the model is built.
    result = pl.solve(instance, "milp", time_limit=0.2, initial=[])
    assert result.info["termination"] == "time limit reached while building the model"
    assert result.status in (Status.FEASIBLE, Status.TIME_LIMIT)


def test_a_time_limit_below_the_estimated_setup_answers_at_once(monkeypatch) -> None:
    instance = random_instance(5, n_users=12, n_models=4, structure="general", deadlines="per_user")
    monkeypatch.setattr(milp_backend, "SETUP_SECONDS_PER_NONZERO", 1.0)  # every model "takes" hours
    result = pl.solve(instance, "milp", time_limit=5, initial=[])
    assert "below the estimated model setup" in result.info["termination"]
    assert result.objective == pl.solve(instance, "edf").objective
    # With the warm start the answer is greedy's schedule instead of the EDF baseline.
    warm = pl.solve(instance, "milp", time_limit=5)
    assert warm.info.get("proven_by") == "warm start" or "below the estimated model setup" in warm.info["termination"]
    assert warm.objective == warm.info["warm_start"]["objective"] >= result.objective
