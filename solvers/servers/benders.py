"""Logic-based Benders decomposition over the servers (``benders``): exact on several servers.

**Master.** The relaxed association problem of :mod:`.master` (``y[k,n]``: user ``k`` served by
server ``n``; ``θ_n``: the weight server ``n`` serves; a relaxation of each server's timing),
with the cuts below. Its optimum is an upper bound.

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

from partialloading.errors import MethodNotApplicableError
from partialloading.instance import Instance
from partialloading.methods import METHODS, SolveRequest, SolverOutput
from partialloading.network import Network
from partialloading.params import BendersParams
from partialloading.result import Status
from partialloading.servers.request import NetworkOutput, NetworkRequest
from partialloading.servers.solution import NetworkSolution, local_index
from partialloading.timing import Schedule, schedule
from partialloading.tolerance import reaches

from ..order_search import find_order
from .common import ServerRun, assemble, solve_server
from .master import AssociationMaster, work_instance

EXACT_SUBPROBLEMS = ("bnb", "milp", "enumerate")
"""The one-server exact methods ``subproblem="auto"`` tries, in this order (the first that
applies to every server's instance)."""

CORE_MAX_USERS = 16
"""Cores are searched only in assignments of at most this many users to a server (each test is
an exponential order search)."""


def subproblem_method(network: Network, params: BendersParams, sharing: bool) -> str:
    """The one-server exact method of the subproblems."""
    names = EXACT_SUBPROBLEMS if params.subproblem == "auto" else (params.subproblem,)
    for name in names:
        method = METHODS[name]
        if all(method.why_not(work_instance(network, n, sharing)) is None for n in range(network.num_servers)):
            return name
    raise MethodNotApplicableError(f"benders: subproblem method {params.subproblem!r} does not apply to every server")


class _Decomposition:
    """The master, its columns per server and the subproblem machinery."""

    def __init__(self, network: Network, params: BendersParams, request: NetworkRequest) -> None:
        self.network = network
        self.params = params
        self.request = request
        self.method = subproblem_method(network, params, request.sharing)
        self.master = AssociationMaster(network, request.sharing)
        self.y = self.master.y
        self.theta = self.master.theta
        self.searches: dict[int, Schedule] = {}
        self.solved: dict[tuple[int, frozenset[int]], ServerRun] = {}
        self.cuts = {"optimality": 0, "core": 0}

    # ------------------------------------------------------------------ the loop
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
                    self.master.rows.row({self.y[k, n]: 1.0 for k in core}, len(core) - 1.0)
                    self.cuts["core"] += 1
        return self.solved[key]

    def _optimality_cut(self, n: int, users: Sequence[int], value: float) -> None:
        inside = set(users)
        coef = {self.theta[n]: 1.0}
        for (k, s), col in self.y.items():
            if s == n and k not in inside:
                coef[col] = -self.network.weights[k]
        self.master.rows.row(coef, value)
        self.cuts["optimality"] += 1

    def core(self, n: int, users: Sequence[int]) -> list[int] | None:
        """A minimal subset of ``users`` that server ``n`` cannot serve whole (deletion filter)."""
        if len(users) > CORE_MAX_USERS:
            return None
        if n not in self.searches:
            self.searches[n] = schedule(work_instance(self.network, n, self.request.sharing), tolerance_share=1.0)
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
            value, values, optimal = self.master.rows.solve(request.deadline)
            iterations += 1
            if value is not None:
                bound = value if bound is None else min(bound, value)
            if values is None or not optimal:
                break
            if value is not None and reaches(best.objective, net.round_bound(value)):
                proven = True
                break
            runs = []
            for n, users in enumerate(self.master.assignment(values)):
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
