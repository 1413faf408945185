"""The association problem of several servers, relaxed: which server serves each user.

Binary ``y[k,n]`` (user ``k`` served by server ``n``, for every server on which ``k`` is
servable alone) with ``Σ_n y[k,n] ≤ 1``, and ``θ_n``, the weight server ``n`` serves: maximize
``Σ_n θ_n`` subject to ``θ_n ≤ Σ_k w_k y[k,n]`` and a relaxation of each server's timing: for
each user ``k`` a server may serve, what must happen before ``k`` finishes if it is served (a
row with big-M ``(1 − y[k,n])``):

* frame timing: ``Σ_j (a_j/B_n) y[j,n]`` (every upload ends before the GPU starts) ``+
  Σ_{T_j ≤ T_k} c̃_j y[j,n]`` (every user due by ``T_k`` is served before) ``+ Σ_b (s_b/v_n)
  z[b,n,T_k] ≤ T_k``, where ``z[b,n,T] ≥ y[j,n]`` for every user due by ``T`` whose model holds
  block ``b`` not resident at time 0 (each such block is loaded at least once, whatever the
  memory keeps), and ``z[b,n,T] ≥ z[b,n,T']`` for ``T' < T`` (with more than
  :data:`LOAD_LEVELS` deadlines, ``z`` exists at that many of them, and a user's row counts those
  of the last one not after its own deadline: still a subset of what it waits for; the users of
  one deadline share one row, whose indicator is at least each of their ``y``);
* pipelined timing: the inferences and loads of the users due by ``T_k`` fit in ``T_k``, and so
  do their uploads at full band: ``Σ_{T_j ≤ T_k} (a_j/B_n) y[j,n] ≤ T_k``.

``c̃_j`` is the user's least share of a batch (its inference time without batch tables), so the
rows hold with batches too. Every row is implied by a feasible schedule, so the optimum (and the
LP relaxation's) is an upper bound on the network's optimum: the bound greedy reports, and the
master problem of the Benders decomposition (:mod:`.benders`), which adds its cuts to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from partialloading.highs import quiet_highs, reset_threads
from partialloading.instance import Instance
from partialloading.network import Network
from partialloading.servers.solution import local_index
from partialloading.stop import Deadline
from partialloading.timing import servable_alone

__all__ = ["LOAD_LEVELS", "AssociationMaster", "work_instance"]

LOAD_LEVELS = 24
"""Deadlines at which a server's relaxation tracks the blocks its users need (every deadline when
they are at most this many): the programme stays small on large instances."""


@dataclass
class Rows:
    """A mixed-integer programme's columns and rows (rows ``Σ coef·x ≤ upper``)."""

    names: list[tuple[str, int, int]] = field(default_factory=list)
    lower: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)
    integer: list[bool] = field(default_factory=list)
    cost: list[float] = field(default_factory=list)
    rows: list[tuple[dict[int, float], float]] = field(default_factory=list)

    def column(self, name: tuple[str, int, int], upper: float, integer: bool, cost: float = 0.0) -> int:
        self.names.append(name)
        self.lower.append(0.0)
        self.upper.append(upper)
        self.integer.append(integer)
        self.cost.append(cost)
        return len(self.names) - 1

    def row(self, coef: dict[int, float], upper: float) -> None:
        self.rows.append(({c: v for c, v in coef.items() if v != 0.0}, upper))

    def solve(
        self, deadline: Deadline, integer: bool = True, nodes: int | None = None
    ) -> tuple[float | None, list[float] | None, bool]:
        """(optimum or dual bound, values of the best solution found, solved to optimality);
        ``integer=False``: the LP relaxation; ``nodes``: a branch-and-bound node budget."""
        import highspy

        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = len(self.names), len(self.rows)
        lp.col_cost_ = np.array(self.cost)
        lp.col_lower_, lp.col_upper_ = np.array(self.lower), np.array(self.upper)
        lp.row_lower_ = np.full(len(self.rows), -highspy.kHighsInf)
        lp.row_upper_ = np.array([upper for _, upper in self.rows])
        lp.sense_ = highspy.ObjSense.kMaximize
        starts: list[int] = [0]
        index: list[int] = []
        value: list[float] = []
        for coef, _ in self.rows:
            index.extend(coef)
            value.extend(coef.values())
            starts.append(len(index))
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
        lp.a_matrix_.index_ = np.array(index, dtype=np.int32)
        lp.a_matrix_.value_ = np.array(value, dtype=np.float64)
        if integer:
            kinds = (highspy.HighsVarType.kInteger, highspy.HighsVarType.kContinuous)
            lp.integrality_ = [kinds[0] if i else kinds[1] for i in self.integer]
        reset_threads()
        highs = quiet_highs()
        highs.setOptionValue("mip_rel_gap", 0.0)
        highs.setOptionValue("threads", 1)
        left = deadline.seconds()
        if left is not None:
            highs.setOptionValue("time_limit", left)
        if nodes is not None:
            highs.setOptionValue("mip_max_nodes", int(nodes))
        highs.passModel(lp)
        if highs.run() == highspy.HighsStatus.kError:
            return None, None, False
        info = highs.getInfo()
        if highs.getModelStatus() == highspy.HighsModelStatus.kOptimal:
            return float(info.objective_function_value), list(highs.getSolution().col_value), True
        dual = float(info.mip_dual_bound)
        found = list(highs.getSolution().col_value) if info.primal_solution_status == 2 else None
        return (dual if np.isfinite(dual) and abs(dual) < highspy.kHighsInf else None), found, False


def work_instance(network: Network, n: int, sharing: bool) -> Instance:
    instance = network.server_instance(n)
    return instance if sharing else instance.unshared()


class AssociationMaster:
    """The relaxed association problem of ``network`` (see the module), as rows to add to.

    Attributes
    ----------
    rows
        The programme; callers add their cuts with ``rows.row``.
    y
        The column of each ``(user, server)`` pair.
    theta
        The column of each server's served weight.
    """

    def __init__(self, network: Network, sharing: bool) -> None:
        self.network = network
        self.sharing = sharing
        self.rows = Rows()
        self.y: dict[tuple[int, int], int] = {}
        self.theta: list[int] = []
        self._columns()
        for n in range(network.num_servers):
            self._relaxation(n)

    def _columns(self) -> None:
        net, m = self.network, self.rows
        for n in range(net.num_servers):
            users = net.server_users(n)
            for i in servable_alone(work_instance(net, n, self.sharing)).tolist():
                self.y[users[i], n] = m.column(("y", users[i], n), 1.0, True)
        for n in range(net.num_servers):
            total = sum(net.weights[k] for (k, s) in self.y if s == n)
            self.theta.append(m.column(("theta", n, 0), total, False, 1.0))
            m.row({self.theta[n]: 1.0, **{c: -net.weights[k] for (k, s), c in self.y.items() if s == n}}, 0.0)
        for k in range(net.num_users):
            cols = [c for (j, _), c in self.y.items() if j == k]
            if len(cols) > 1:
                m.row(dict.fromkeys(cols, 1.0), 1.0)

    def _relaxation(self, n: int) -> None:
        """The timing rows of server ``n`` (see the module docstring), one per user, by
        deadline level: ``z`` columns of a level are at least those of the level before."""
        net, m = self.network, self.rows
        work = work_instance(net, n, self.sharing)
        local = local_index(net, n)
        mine = sorted((k for (k, s) in self.y if s == n), key=lambda k: (float(net.users[k].deadline_s), k))
        upload = {k: float(work.upload_times[local[k]]) for k in mine}
        infer = {k: float(work.amortized_infer_times[local[k]]) for k in mine}
        resident = set(work.initial_resident)
        load = {b: float(work.block_sizes[b]) / float(work.load_speed_bytes_per_s) for b in range(len(work.blocks))}
        needs = {
            k: [
                b
                for b in np.flatnonzero(work.membership[int(work.user_models[local[k]])]).tolist()
                if b not in resident and load[b] > 0
            ]
            for k in mine
        }
        frame = work.timing == "frame"
        z: dict[int, int] = {}
        due: list[int] = []
        levels = sorted({float(work.deadlines[local[k]]) for k in mine})
        marks = set(levels)
        if len(levels) > LOAD_LEVELS:
            # Block columns at a few deadlines only: a user's row counts the blocks of those due
            # by the last marked deadline before its own (a subset of what it waits for).
            marks = {levels[round(i * (len(levels) - 1) / (LOAD_LEVELS - 1))] for i in range(LOAD_LEVELS)}
        since: list[int] = []
        for level in levels:
            group = [k for k in mine if float(work.deadlines[local[k]]) == level]
            since.extend(group)
            if level in marks:
                previous, z = z, {}
                for b, col in previous.items():
                    z[b] = m.column(("z", b, n), 1.0, False)
                    m.row({col: 1.0, z[b]: -1.0}, 0.0)
                for k in since:
                    for b in needs[k]:
                        if b not in z:
                            z[b] = m.column(("z", b, n), 1.0, False)
                        m.row({self.y[k, n]: 1.0, z[b]: -1.0}, 0.0)
                since = []
            due.extend(group)
            coef = {self.y[j, n]: infer[j] for j in due}
            coef.update({col: load[b] for b, col in z.items()})
            uploads = {self.y[j, n]: upload[j] for j in (mine if frame else due)}
            if frame:
                for col, value in uploads.items():
                    coef[col] = coef.get(col, 0.0) + value
            # One row per deadline: its indicator is at least each of its users' y (the user
            # itself when it is alone), so the row is as tight as one per user, and fewer.
            served = self.y[group[0], n]
            if len(group) > 1:
                served = m.column(("level", n, len(due)), 1.0, False)
                for k in group:
                    m.row({self.y[k, n]: 1.0, served: -1.0}, 0.0)
            self._big_m_row(coef, served, level)
            if not frame:
                self._big_m_row(uploads, served, level)

    def _big_m_row(self, coef: dict[int, float], y: int, level: float) -> None:
        slack = level * 1e-9 + 1e-12
        big = max(0.0, sum(coef.values()) - level)
        if big <= slack:
            return
        row = dict(coef)
        row[y] = row.get(y, 0.0) + big
        self.rows.row(row, level + big + slack)

    def assignment(self, values: Sequence[float]) -> list[list[int]]:
        """Per server, the users the master's solution assigns to it, by deadline."""
        out: list[list[int]] = [[] for _ in self.network.servers]
        for (k, n), col in self.y.items():
            if values[col] > 0.5:
                out[n].append(k)
        return [sorted(users, key=lambda k: (float(self.network.users[k].deadline_s), k)) for users in out]
