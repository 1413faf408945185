"""The position structure shared by the SCIP models (the joint problem and the pipelined MINLP).

Positions ``q = 0 … n−1`` each hold at most one user (``assign[k, q]``), occupied positions come
first, and ``load[q]`` is at least the loading time of the transition into position ``q``: from
the initial state at ``q = 0``, from the model at ``q − 1`` after that. Times in milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pyscipopt import Model, quicksum


def label(name: str, *index: int) -> str:
    """``name(i_j_...)``: a component's name as Pyomo writes it in an LP file, and one that
    SCIP's LP reader takes back (``name[i,j]`` is not valid LP)."""
    return f"{name}({'_'.join(str(i) for i in index)})"


def add_positions(
    m: Model, user_model: Sequence[int], n_models: int, first: Sequence[float], loads: Sequence[Sequence[float]]
) -> tuple[dict[tuple[int, int], Any], dict[int, Any], Callable[[int, int], Any]]:
    """Add the assignment, contiguity and load constraints to ``m``.

    Returns
    -------
    tuple
        ``assign[k, q]`` (binary), ``load[q]`` and ``holds(i, q)``, the expression "position ``q``
        serves model ``i``".
    """
    n = len(user_model)
    users = range(n)
    positions = range(n)
    assign = {(k, q): m.addVar(vtype="B", name=label("assign", k, q)) for k in users for q in positions}
    load = {q: m.addVar(lb=0.0, name=label("load", q)) for q in positions}

    def occupied(q: int) -> Any:
        return quicksum(assign[k, q] for k in users)

    def holds(i: int, q: int) -> Any:
        return quicksum(assign[k, q] for k in users if user_model[k] == i)

    for q in positions:
        m.addCons(occupied(q) <= 1, name=label("one_user_per_position", q))
        if q:
            m.addCons(occupied(q) <= occupied(q - 1), name=label("contiguous", q))
    if n:
        m.addCons(load[0] >= quicksum(first[i] * holds(i, 0) for i in range(n_models)), name="load_first")
    for q in positions:
        if q == 0:
            continue
        for i in range(n_models):
            for j in range(n_models):
                if i != j and loads[i][j] > 0:
                    m.addCons(load[q] >= loads[i][j] * (holds(i, q - 1) + holds(j, q) - 1), name=label("load", q, i, j))
    return assign, load, holds
