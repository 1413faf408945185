"""The branch-and-bound's tables of the exact-solvers page are what their commands print: the
proofs with per-request times, the frontier at eight models and the bounds at the root."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

import partialloading as pl
from partialloading.scenarios import with_own_times
from partialloading.validation.verify import verify_solution

from docpages import shown_after

ROOT = Path(__file__).resolve().parents[3]
PAGE = ROOT / "docs" / "exact_solvers.md"
sys.path.insert(0, str(ROOT / "benchmarks"))
from exact_scaling import mid_instance  # noqa: E402

OWN = "python benchmarks/bnb_frontier.py --sizes 30 40 --spread 0.5 --methods bnb cpsat milp"
FRONTIER = "python benchmarks/bnb_frontier.py --sizes 60 80 100 --models 8 --seeds 20 21 22"


def rows(command: str, users: int, method: str = "bnb") -> list[list[str]]:
    """The page's rows of ``method`` at ``users`` after ``command``."""
    split = [line.split() for line in shown_after(PAGE, command)]
    return [r for r in split if len(r) == 10 and r[1] == str(users) and r[3] == method]


def rerun(row: list[str], models: int, spread: float) -> None:
    """Solve the row's instance as the benchmark does and compare what the row shows: a proven
    row's optimum (a second run may prove it at another speed, never at another value), an
    open row's schedule and bound within the limit's reach."""
    family, users, seed = row[0], int(row[1]), int(row[2])
    inst = mid_instance(family, seed, users, models=models)
    if spread:
        inst = with_own_times(inst, seed, spread)
    assert f"{pl.solve(inst, 'greedy', seed=seed).objective:g}" == row[5]
    result = pl.solve(inst, "bnb", time_limit=60, seed=seed)
    assert verify_solution(inst, result.to_dict()).ok
    if row[4] == "optimal":
        assert result.status == pl.Status.OPTIMAL and f"{result.objective:g}" == row[6] == row[7]
    else:  # the bound shown is valid: no run finds more
        assert result.objective <= float(row[7]) + 1e-9 and result.bound >= float(row[6]) - 1e-9


@pytest.mark.parametrize("users", [30, pytest.param(40, marks=pytest.mark.slow)])
def test_the_per_request_times_table(users: int) -> None:
    shown = rows(OWN, users)
    assert len(shown) == 6 and all(r[4] == "optimal" for r in shown)
    for row in shown:
        rerun(row, 6, 0.5)


@pytest.mark.slow
@pytest.mark.parametrize("users", [60, 80])
def test_the_frontier_table(users: int) -> None:
    shown = rows(FRONTIER, users)
    assert len(shown) == 6
    for row in shown:
        rerun(row, 8, 0.0)


@pytest.mark.slow
def test_the_root_bounds_table() -> None:
    # The root bounds are computed without a time limit: the same numbers on every run.
    from partialloading.solvers.bnb.bounds import SetupTree
    from partialloading.solvers.bnb.coarse import coarse
    from partialloading.solvers.bnb.paths import groups_of
    from partialloading.solvers.bnb.search import BranchAndBound
    from partialloading.stop import Deadline
    from partialloading.timing import FrameSchedule, servable_alone

    shown = [line.split() for line in shown_after(PAGE, "python benchmarks/bnb_bounds.py")[1:]]
    assert len(shown) == 6
    for row in shown:
        family, users, seed = row[0], int(row[1]), int(row[2])
        inst = mid_instance(family, seed, users)
        greedy = pl.solve(inst, "greedy", seed=seed)
        p = FrameSchedule.build(inst, tolerance_share=1.0)
        search = BranchAndBound(
            p, SetupTree.of(inst), servable_alone(inst).tolist(), greedy.solution.order, compiled=True,
            groups=groups_of(inst),
        )  # fmt: skip
        level = search.root_bound()
        paths = search.relax_paths(Deadline())
        assert paths is not None
        assert row[3] == f"{greedy.objective:g}"
        assert row[4:6] == [f"{level:.2f}", f"({math.floor(level + 1e-9):g})"]
        assert row[6:8] == [f"{paths.root:.2f}", f"({math.floor(paths.root + 1e-9):g})"]
        if search.group_paths is not None:
            assert row[9] == f"{search.group_paths.root:.2f}"
        rough = coarse(inst)
        assert row[-1] == ("-" if rough is None else f"{pl.solve(rough, 'bnb', time_limit=60, seed=seed).objective:g}")
