"""Logic-based Benders decomposition over the servers (``benders``): exact on several servers.

**Master.** Binary ``y[k,n]`` (user ``k`` served by server ``n``, for every server on which ``k``
is servable alone) with ``Σ_n y[k,n] ≤ 1``, and ``θ_n``, the weight server ``n`` serves:
maximize ``Σ_n θ_n`` subject to ``θ_n ≤ Σ_k w_k y[k,n]``, a relaxation of each server's
timing, and the cuts below. The relaxation, for each user ``k`` a server may serve, says what
must happen before ``k`` finishes if it is served (a row with big-M ``(1 − y[k,n])``):

* frame timing: ``Σ_j (a_j/B_n) y[j,n]`` (every upload ends before the GPU starts) ``+
  Σ_{T_j ≤ T_k} c̃_j y[j,n]`` (every user due by ``T_k`` is served before) ``+ Σ_b (s_b/v_n)
  z[b,n,T_k] ≤ T_k``, where ``z[b,n,T] ≥ y[j,n]`` for every user due by ``T`` whose model holds
  block ``b`` not resident at time 0 (each such block is loaded at least once, whatever the
  memory keeps);
* pipelined timing: the inferences and loads of the users due by ``T_k`` fit in ``T_k``, and so
  do their uploads at full band: ``Σ_{T_j ≤ T_k} (a_j/B_n) y[j,n] ≤ T_k``.

``c̃_j`` is the user's least share of a batch (its inference time without batch tables), so the
rows hold with batches too. Each row is implied by a feasible schedule, so the master's optimum
is an upper bound.

**Subproblems.** For the master's assignment ``S_n``, each server is scheduled alone by a
one-server exact method (``bnb`` where it applies, else ``milp``; through
:func:`partialloading.solve`): its optimum ``g_n(S_n)`` and schedule. The schedules together
are a feasible network schedule (the incumbent); ``Σ_n g_n(S_n)`` a lower bound.

**Cuts.** The optimality cut ``θ_n ≤ g_n(S) + Σ_{k ∉ S} w_k y[k,n]`` is valid for every
assignment ``T`` to server ``n``: ``g_n(T) ≤ g_n(T ∩ S) + w(T \\ S) ≤ g_n(S) + w(T \\ S)``, since
one server's admissible sets are closed under removal (so ``g_n`` is monotone). When ``S`` cannot
be served whole, a deletion filter finds a minimal subset ``C`` that cannot (each test the exact
one-server order search) and adds ``Σ_{k∈C} y[k,n] ≤ |C| − 1``, valid for every superset of
``C`` for the same reason. The master at the same assignment then has value ``Σ g_n(S_n)``, so
the loop stops — when the master's optimum (rounded down to the weight unit) reaches the
incumbent: it is optimal. Stopped early, the master's last optimum (or HiGHS's dual bound) is
the bound.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from partialloading.errors import MethodNotApplicableError
from partialloading.highs import quiet_highs, reset_threads
from partialloading.instance import Instance
from partialloading.methods import METHODS, SolveRequest, SolverOutput
from partialloading.network import Network
from partialloading.params import BendersParams
from partialloading.result import Status
from partialloading.servers.request import NetworkOutput, NetworkRequest
from partialloading.servers.solution import NetworkSolution, local_index
from partialloading.stop import Deadline
from partialloading.timing import Schedule, schedule, servable_alone
from partialloading.tolerance import reaches

from ..order_search import find_order
from .common import ServerRun, assemble, solve_server

EXACT_SUBPROBLEMS = ("bnb", "milp", "enumerate")
"""The one-server exact methods ``subproblem="auto"`` tries, in this order (the first that
applies to every server's instance)."""

CORE_MAX_USERS = 16
"""Cores are searched only in assignments of at most this many users to a server (each test is
an exponential order search)."""


@dataclass
class _Master:
    """The master problem's columns and rows (rows ``Σ coef·x ≤ upper``)."""

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

    def solve(self, deadline: Deadline) -> tuple[float | None, list[float] | None, bool]:
        """(optimum or dual bound, values, solved to optimality)."""
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
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in self.integer
        ]
        reset_threads()
        highs = quiet_highs()
        highs.setOptionValue("mip_rel_gap", 0.0)
        highs.setOptionValue("threads", 1)
        left = deadline.seconds()
        if left is not None:
            highs.setOptionValue("time_limit", left)
        highs.passModel(lp)
        if highs.run() == highspy.HighsStatus.kError:
            return None, None, False
        info = highs.getInfo()
        if highs.getModelStatus() == highspy.HighsModelStatus.kOptimal:
            return float(info.objective_function_value), list(highs.getSolution().col_value), True
        dual = float(info.mip_dual_bound)
        return (dual if np.isfinite(dual) and abs(dual) < highspy.kHighsInf else None), None, False


def subproblem_method(network: Network, params: BendersParams, sharing: bool) -> str:
    """The one-server exact method of the subproblems."""
    names = EXACT_SUBPROBLEMS if params.subproblem == "auto" else (params.subproblem,)
    for name in names:
        method = METHODS[name]
        if all(method.why_not(_work(network, n, sharing)) is None for n in range(network.num_servers)):
            return name
    raise MethodNotApplicableError(f"benders: subproblem method {params.subproblem!r} does not apply to every server")


def _work(network: Network, n: int, sharing: bool) -> Instance:
    instance = network.server_instance(n)
    return instance if sharing else instance.unshared()


class _Decomposition:
    """The master, its columns per server and the subproblem machinery."""

    def __init__(self, network: Network, params: BendersParams, request: NetworkRequest) -> None:
        self.network = network
        self.params = params
        self.request = request
        self.method = subproblem_method(network, params, request.sharing)
        self.master = _Master()
        self.y: dict[tuple[int, int], int] = {}
        self.theta: list[int] = []
        self.searches: dict[int, Schedule] = {}
        self.solved: dict[tuple[int, frozenset[int]], ServerRun] = {}
        self.cuts = {"optimality": 0, "core": 0}
        self._columns()
        for n in range(network.num_servers):
            self._relaxation(n)

    def _columns(self) -> None:
        net, m = self.network, self.master
        for n in range(net.num_servers):
            users = net.server_users(n)
            for i in servable_alone(_work(net, n, self.request.sharing)).tolist():
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
        net, m = self.network, self.master
        work = _work(net, n, self.request.sharing)
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
        for level in levels:
            group = [k for k in mine if float(work.deadlines[local[k]]) == level]
            previous, z = z, {}
            for b, col in previous.items():
                z[b] = m.column(("z", b, n), 1.0, False)
                m.row({col: 1.0, z[b]: -1.0}, 0.0)
            for k in group:
                for b in needs[k]:
                    if b not in z:
                        z[b] = m.column(("z", b, n), 1.0, False)
                    m.row({self.y[k, n]: 1.0, z[b]: -1.0}, 0.0)
            due.extend(group)
            coef = {self.y[j, n]: infer[j] for j in due}
            coef.update({col: load[b] for b, col in z.items()})
            uploads = {self.y[j, n]: upload[j] for j in (mine if frame else due)}
            if frame:
                for col, value in uploads.items():
                    coef[col] = coef.get(col, 0.0) + value
            for k in group:
                self._big_m_row(coef, self.y[k, n], level)
                if not frame:
                    self._big_m_row(uploads, self.y[k, n], level)

    def _big_m_row(self, coef: dict[int, float], y: int, level: float) -> None:
        slack = level * 1e-9 + 1e-12
        big = max(0.0, sum(coef.values()) - level)
        if big <= slack:
            return
        row = dict(coef)
        row[y] = row.get(y, 0.0) + big
        self.master.row(row, level + big + slack)

    # ------------------------------------------------------------------ the loop
    def assignment(self, values: Sequence[float]) -> list[list[int]]:
        """Per server, the users the master's solution assigns to it, by deadline."""
        out: list[list[int]] = [[] for _ in self.network.servers]
        for (k, n), col in self.y.items():
            if values[col] > 0.5:
                out[n].append(k)
        return [sorted(users, key=lambda k: (float(self.network.users[k].deadline_s), k)) for users in out]

    def subproblem(self, n: int, users: Sequence[int]) -> ServerRun | None:
        """Server ``n``'s exact schedule of ``users`` (``None``: not proven before the deadline)."""
        key = (n, frozenset(users))
        if key not in self.solved:
            run = solve_server(self.network, n, users, self.method, self.request)
            if run.result.status != Status.OPTIMAL:
                return None
            self.solved[key] = run
            self._optimality_cut(n, users, run.weight)
            if self.params.cores and not reaches(run.weight, sum(self.network.weights[k] for k in users)):
                core = self.core(n, users)
                if core is not None:
                    self.master.row({self.y[k, n]: 1.0 for k in core}, len(core) - 1.0)
                    self.cuts["core"] += 1
        return self.solved[key]

    def _optimality_cut(self, n: int, users: Sequence[int], value: float) -> None:
        inside = set(users)
        coef = {self.theta[n]: 1.0}
        for (k, s), col in self.y.items():
            if s == n and k not in inside:
                coef[col] = -self.network.weights[k]
        self.master.row(coef, value)
        self.cuts["optimality"] += 1

    def core(self, n: int, users: Sequence[int]) -> list[int] | None:
        """A minimal subset of ``users`` that server ``n`` cannot serve whole (deletion filter)."""
        if len(users) > CORE_MAX_USERS:
            return None
        if n not in self.searches:
            self.searches[n] = schedule(_work(self.network, n, self.request.sharing), tolerance_share=1.0)
        local = local_index(self.network, n)
        core = list(users)
        for k in sorted(users, key=lambda j: (-float(self.network.users[j].deadline_s), j)):
            if self.request.deadline():
                return None
            trial = [j for j in core if j != k]
            if find_order(self.searches[n], [local[j] for j in trial]).order is None:
                core = trial
        return core

    def run(self) -> NetworkOutput:
        """Master and subproblems until the master's bound reaches the incumbent."""
        net, request = self.network, self.request
        best = request.initial or NetworkSolution.empty(net, request.sharing)
        bound: float | None = None
        iterations, proven = 0, False
        while not request.deadline() and (
            self.params.max_iterations is None or iterations < self.params.max_iterations
        ):
            value, values, optimal = self.master.solve(request.deadline)
            iterations += 1
            if value is not None:
                bound = value if bound is None else min(bound, value)
            if values is None or not optimal:
                break
            if value is not None and reaches(best.objective, net.round_bound(value)):
                proven = True
                break
            runs = []
            for n, users in enumerate(self.assignment(values)):
                run = self.subproblem(n, users)
                if run is None:
                    break
                runs.append(run)
            else:
                candidate = assemble(net, runs, request.sharing)
                if candidate.objective > best.objective:
                    best = candidate
                continue
            break
        status = Status.OPTIMAL if proven else Status.FEASIBLE if best.objective > 0 else Status.TIME_LIMIT
        info = {"iterations": iterations, "subproblem": self.method, "subproblems": len(self.solved), **self.cuts}
        return NetworkOutput(best, status, bound=bound, info=info)


def solve(network: Network, params: BendersParams, request: NetworkRequest) -> NetworkOutput:
    """Exact schedule of several servers by logic-based Benders decomposition (see the module)."""
    return _Decomposition(network, params, request).run()


def solve_one(instance: Instance, params: BendersParams, request: SolveRequest) -> SolverOutput:
    """The decomposition on a one-server instance (a network of one server): the master picks
    the users, the subproblem schedules them."""
    network = Network.from_instance(instance)
    start = None
    if request.initial is not None:
        start = NetworkSolution.from_orders(
            network, [list(request.initial)], True, [request.initial_evicted], [request.initial_batch]
        )
    out = solve(network, params, NetworkRequest(request.deadline, request.seed, True, start))
    part = out.solution.parts[0]
    return SolverOutput(part.order, out.status, out.bound, out.info, part.evicted, part.batch)
