"""Does the blocks-per-level bound lose its gap to reloads? Three strengthenings, measured.

The blocks-per-level relaxation (:func:`partialloading.relaxations.level_bound`) leaves a few weight
units between greedy's schedule and the bound on the per-user-deadline mid-size instances
(``exact_scaling.py --mid``), which neither the exact methods nor the branch-and-bound close from
30 users on. This script adds to the same MILP (frame timing, with sharing) what it forgets
about loading, one family of rows at a time, and reports the bound each version proves:

``early``
    Early service and reloads. ``e_{k,l}`` says that user ``k`` is served by level ``D_l``
    (``= x_k`` from its own level on, non-decreasing); a level's row counts the inferences and
    the first loads of every user served by it, early ones included. A model with a user
    served by ``D_l`` and one served in ``(D_l, D_{l+1}]`` is loaded again in that window,
    unless it is the one model in GPU memory at ``D_l``; such a reload costs at least the
    cheapest load into the model from another one, and counts in the rows of the later levels.
``load-in``
    ``early`` plus, per level, a second row in which every model served by the level costs the
    cheapest load into it (from the start or from another model) instead of its blocks once.
``path``
    ``early`` plus, per level, a third row: the loads of any walk through the models served by
    the level cost at least the cheapest Hamiltonian path through them from the start (all
    subsets, Held–Karp; loads obey the triangle inequality, so revisits never help).
``order``
    ``early`` plus one visit order for all levels: a path from the start through the models in
    the order of their first visits, each model entering at the first level by which it has a
    user served (a flow over the states (models visited, last one, entry level), on at most
    :data:`ORDER_LEVELS` of the levels). A level's third row charges the loads of the path's
    models that entered by it, so the paths of the levels are prefixes of one path instead of
    one cheapest path each. (The models served by a level are the first of the order to enter;
    removing revisits from the visit sequence leaves exactly that path, never more expensive by
    the triangle inequality.)

Every row is valid for every feasible schedule (set each variable from the schedule), so each
version is an upper bound. Run::

    python benchmarks/bound_strengthening.py                 # 30 users, 3 seeds per family
    python benchmarks/bound_strengthening.py --users 40 --seeds 2
    python benchmarks/bound_strengthening.py --validate 30   # never below enumerate's optimum (8 users)
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.appsi.solvers.highs import Highs

import partialloading as pl
from partialloading.instance import Instance
from partialloading.memory import memory_of
from partialloading.relaxations import LevelData, level_bound
from partialloading.scenarios import random_instance

from exact_scaling import mid_instance

VERSIONS = ("early", "load-in", "path", "order")

ORDER_LEVELS = 8
"""Levels (spread evenly, the latest included) at which ``order`` charges its path."""


def strengthened_bound(instance: Instance, version: str, time_limit: float) -> float:
    """The bound of the blocks-per-level MILP with the rows of ``version`` (see the module docstring)."""
    data = LevelData.of(instance)
    memory = memory_of(instance)
    levels = np.unique(data.deadline)
    used = sorted({int(j) for j in data.models})
    loads, first = memory.matrix, memory.first
    reload = {j: min((float(loads[i, j]) for i in range(instance.num_models) if i != j), default=0.0) for j in used}
    m = pyo.ConcreteModel()
    m.rows = pyo.ConstraintList()
    served = _service_rows(m, data, levels)
    _memory_rows(m, data, levels, used, served)
    n = int(data.candidates.size)

    def work(lv: int) -> pyo.Expression:
        """Uploads of everybody admitted plus the inferences of those served by ``D_l``."""
        return sum(data.upload[k] * m.x[k] for k in range(n)) + sum(data.infer[k] * served(k, lv) for k in range(n))

    def room(lv: int) -> pyo.Expression:
        return float(levels[lv]) * (1 + 1e-7) + float(data.upload.sum()) * (1 - m.y[lv])

    for lv in range(levels.size):
        reloads = sum(reload[j] * m.rho[j, w] for j in used for w in range(lv))
        blocks = sum(float(data.seconds[b]) * m.z[b, lv] for b in range(data.member.shape[1]))
        m.rows.add(work(lv) + blocks + reloads <= room(lv))
        if version == "load-in":
            cheapest_in = sum(min(reload[j], float(first[j])) * m.a[j, lv] for j in used)
            m.rows.add(work(lv) + cheapest_in + reloads <= room(lv))
    if version == "path":
        _add_paths(m, used, loads, first, int(levels.size), work, room)
    if version == "order":
        _add_visit_order(m, used, loads, first, int(levels.size), work, room)
    m.obj = pyo.Objective(expr=sum(float(data.weights[k]) * m.x[k] for k in range(n)), sense=pyo.maximize)
    solver = Highs()
    solver.config.time_limit = time_limit
    solver.config.load_solution = False
    results = solver.solve(m)
    return instance.round_bound(float(results.best_objective_bound))


def _service_rows(m: pyo.ConcreteModel, data: LevelData, levels: np.ndarray) -> Callable[[int, int], Any]:
    """``x_k`` (admitted) and ``e_{k,l}`` (served by ``D_l`` before its own level, non-decreasing);
    returns ``served(k, l)``, the variable that says user ``k`` is served by ``D_l``."""
    n = int(data.candidates.size)
    own = np.searchsorted(levels, data.deadline, side="left")
    m.x = pyo.Var(range(n), domain=pyo.Binary)
    early = [(k, lv) for k in range(n) for lv in range(int(own[k]))]
    m.e = pyo.Var(early, domain=pyo.Binary)

    def served(k: int, lv: int) -> pyo.Var:
        return m.x[k] if lv >= own[k] else m.e[k, lv]

    for k, lv in early:
        m.rows.add(served(k, lv) <= served(k, lv + 1))
    return served


def _memory_rows(
    m: pyo.ConcreteModel, data: LevelData, levels: np.ndarray, used: list[int], served: Callable[[int, int], Any]
) -> None:
    """The blocks loaded by each level (``z``), the models served by it (``a``), the windows in
    which a model is served again (``later``), kept in memory (``kept``) or reloaded (``rho``),
    and whether anything is served by a level (``y``)."""
    n, n_levels = int(data.candidates.size), int(levels.size)
    m.z = pyo.Var([(b, lv) for b in range(data.member.shape[1]) for lv in range(n_levels)], domain=pyo.UnitInterval)
    m.a = pyo.Var([(j, lv) for j in used for lv in range(n_levels)], domain=pyo.UnitInterval)  # j served by D_l
    windows = [(j, lv) for j in used for lv in range(n_levels - 1)]
    m.later = pyo.Var(windows, domain=pyo.UnitInterval)  # model j served in (D_l, D_{l+1}]
    m.kept = pyo.Var(windows, domain=pyo.Binary)  # model j in GPU memory at D_l
    m.rho = pyo.Var(windows, domain=pyo.NonNegativeReals)  # model j reloaded in (D_l, D_{l+1}]
    m.y = pyo.Var(range(n_levels), domain=pyo.Binary)  # something is served by D_l
    for k in range(n):
        j = int(data.models[k])
        for lv in range(n_levels):
            for b in np.nonzero(data.member[j])[0]:
                m.rows.add(m.z[int(b), lv] >= served(k, lv))
            m.rows.add(m.a[j, lv] >= served(k, lv))
            m.rows.add(m.y[lv] >= served(k, lv))
            if lv < n_levels - 1:
                m.rows.add(m.later[j, lv] >= served(k, lv + 1) - served(k, lv))
    for lv in range(n_levels - 1):
        m.rows.add(sum(m.kept[j, lv] for j in used) <= 1)
        for j in used:
            m.rows.add(m.rho[j, lv] >= m.a[j, lv] + m.later[j, lv] - 1 - m.kept[j, lv])


def _add_paths(
    m: pyo.ConcreteModel,
    used: list[int],
    loads: np.ndarray,
    first: np.ndarray,
    n_levels: int,
    work: Callable[[int], Any],
    room: Callable[[int], Any],
) -> None:
    """The rows of ``path``: the loads of the models served by a level cost at least the cheapest
    Hamiltonian path through them from the start."""
    m.walk = pyo.Var(range(n_levels), domain=pyo.NonNegativeReals)
    for mask, cost in _hamiltonian_paths(used, loads, first).items():
        members = [used[i] for i in range(len(used)) if mask >> i & 1]
        for lv in range(n_levels):
            m.rows.add(m.walk[lv] >= cost * (sum(m.a[j, lv] for j in members) - len(members) + 1))
    for lv in range(n_levels):
        m.rows.add(work(lv) + m.walk[lv] <= room(lv))


def _add_visit_order(
    m: pyo.ConcreteModel,
    used: list[int],
    loads: np.ndarray,
    first: np.ndarray,
    n_levels: int,
    work: Callable[[int], Any],
    room: Callable[[int], Any],
) -> None:
    """The rows of ``order``: a flow over (models visited, last model, entry level) and its loads per level."""
    kept = np.unique(np.linspace(0, n_levels - 1, min(ORDER_LEVELS, n_levels)).round().astype(np.int64))
    arcs: list[tuple[tuple[int, int, int], tuple[int, int, int], int, int, float]] = []
    frontier = {(0, -1, 0)}  # (bit mask of `used` positions, last model or -1 at the start, entry level)
    for _ in range(len(used)):
        reached = set()
        for tail in frontier:
            mask, last, entry = tail
            for i, j in enumerate(used):
                if mask >> i & 1:
                    continue
                cost = float(first[j]) if last < 0 else float(loads[last, j])
                for level in range(entry, kept.size):
                    head = (mask | 1 << i, j, level)
                    arcs.append((tail, head, j, level, cost))
                    reached.add(head)
        frontier = reached
    m.f = pyo.Var(range(len(arcs)), domain=pyo.UnitInterval)
    into: dict[tuple[int, int, int], list[int]] = {}
    out: dict[tuple[int, int, int], list[int]] = {}
    for a, (tail, head, *_rest) in enumerate(arcs):
        out.setdefault(tail, []).append(a)
        into.setdefault(head, []).append(a)
    m.rows.add(sum(m.f[a] for a in out[0, -1, 0]) <= 1)
    for state, leaving in out.items():
        if state != (0, -1, 0):
            m.rows.add(sum(m.f[a] for a in leaving) <= sum(m.f[a] for a in into[state]))
    # The arcs entering each model at each kept level, gathered once: the rows below take them
    # cumulatively, level by level.
    entering: dict[tuple[int, int], list[int]] = {}
    for a, arc in enumerate(arcs):
        entering.setdefault((arc[2], arc[3]), []).append(a)
    entered = {j: [] for j in used}  # arcs into j at kept levels up to the current one
    charged: list[int] = []  # arcs with a load at kept levels up to the current one
    for e, lv in enumerate(kept):
        for j in used:
            here = entering.get((j, e), [])
            entered[j] += here
            charged += [a for a in here if arcs[a][4] > 0]
            # Model j served by D_lv entered the order at a kept level up to lv.
            m.rows.add(m.a[j, int(lv)] <= sum(m.f[a] for a in entered[j]))
        m.rows.add(work(int(lv)) + sum(arcs[a][4] * m.f[a] for a in charged) <= room(int(lv)))


def _hamiltonian_paths(used: list[int], loads: np.ndarray, first: np.ndarray) -> dict[int, float]:
    """Cheapest loading cost of a path from the start through each subset of ``used`` (bit masks)."""
    ending: dict[tuple[int, int], float] = {}
    cheapest: dict[int, float] = {}
    for size in range(1, len(used) + 1):
        for subset in itertools.combinations(range(len(used)), size):
            mask = sum(1 << i for i in subset)
            for end in subset:
                rest = mask & ~(1 << end)
                ending[mask, end] = (
                    float(first[used[end]])
                    if not rest
                    else min(ending[rest, i] + float(loads[used[i], used[end]]) for i in subset if rest >> i & 1)
                )
            cheapest[mask] = min(ending[mask, end] for end in subset)
    return cheapest


def validate(seeds: int, time_limit: float) -> int:
    """Check every version against enumeration on ``2 · seeds`` generated 8-user instances."""
    below = tighter = checked = 0
    for seed in range(seeds):
        for family in ("general", "backbone"):
            inst = random_instance(
                seed, 8, 3, structure=family, deadlines="per_user", weighted=True, initial_model=seed % 2 == 0
            )
            optimum = pl.solve(inst, "enumerate").objective
            level = level_bound(inst, time_limit=None).value
            for version in VERSIONS:
                value = strengthened_bound(inst, version, time_limit)
                checked += 1
                below += value < optimum - 1e-9
                tighter += value < level - 1e-9
    print(f"{checked} bounds on {2 * seeds} instances: {below} below the optimum, {tighter} below the level bound")
    return 1 if below else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=30, help="users per instance (default 30)")
    parser.add_argument("--seeds", type=int, default=3, help="instances per family (default 3)")
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds per MILP (default 120)")
    parser.add_argument("--validate", type=int, metavar="SEEDS", help="check against enumeration instead")
    args = parser.parse_args(argv)
    if args.validate:
        return validate(args.validate, args.time_limit)
    print(f"{args.users} users, per-user deadlines, weights 1-3: greedy, the level bound and its strengthenings")
    print(
        f"{'family':<9} {'seed':>4} {'greedy':>7} {'level':>7} " + " ".join(f"{v:>8}" for v in VERSIONS) + "  seconds"
    )
    lower = 0
    for family in ("general", "backbone"):
        for seed in range(args.seeds):
            inst = mid_instance(family, seed, args.users)
            greedy = pl.solve(inst, "greedy", seed=seed)
            level = level_bound(inst, time_limit=None).value
            values, seconds = [], []
            for version in VERSIONS:
                started = time.perf_counter()
                values.append(strengthened_bound(inst, version, args.time_limit))
                seconds.append(time.perf_counter() - started)
            lower += sum(v < level - 1e-9 for v in values)
            cells = " ".join(f"{v:8.1f}" for v in values)
            times = " ".join(f"{s:.1f}" for s in seconds)
            print(f"{family:<9} {seed:>4} {greedy.objective:7.1f} {level:7.1f} {cells}  {times}")
    print(f"bounds below the level bound: {lower}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
