"""The MILP with association variables (``milp`` on several servers).

One copy of the one-server model per server, each built on the server's own instance by the
one-server formulations (:mod:`partialloading.formulations`: the position-based model, its
capacity form, or the batch-slot model with batches or under pipelined timing), placed in a
Pyomo block ``server[n]``. A user's ``admitted[k]`` in server ``n``'s block is the association
variable ``x[k,n]`` (it is served by ``n``); the blocks are linked by

.. math:: \\sum_n x_{kn} \\le 1 \\quad \\text{for every user reaching several servers,}

and the objective is the sum of the blocks' served weights. Everything else — bandwidth, loads,
memory, batches, deadlines — is each block's own. HiGHS solves the frame-timing models; under
pipelined timing the batch-slot blocks are a MINLP for SCIP, as for one server.

The schedules read from the solution are re-evaluated by the toolkit; a schedule late by the
solver's tolerance loses its late users (the others stay on time: one server's admissible sets
are closed under removal) and is then not claimed optimal.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyomo.environ as pyo

from partialloading.formulations import batched, capacity, general
from partialloading.formulations.capacity import BlockData
from partialloading.formulations.common import ScheduleData, schedule_data
from partialloading.instance import Instance
from partialloading.network import Network
from partialloading.params import MilpParams
from partialloading.result import Status
from partialloading.servers.request import NetworkOutput, NetworkRequest
from partialloading.servers.solution import NetworkSolution
from partialloading.solution import Solution

from ..milp.batched import PIPELINED_SOLVER
from ..milp.common import dual_bound, keeps_blocks, run_model


@dataclass(frozen=True)
class _Piece:
    """One server's block: its data and how to read its schedule back."""

    server: int
    instance: Instance
    data: ScheduleData
    kind: str
    blocks: BlockData | None

    def decode(self, block: Any) -> Solution:
        """The server's schedule in the loaded solution (on the server's instance)."""
        evicted: list[tuple[int, ...]] | None = None
        batch: list[int] | None = None
        if self.kind == "batched":
            order, batch = batched.decode(block, self.data)
            if self.blocks is not None:
                per_slot = capacity.decode_evictions(block, self.blocks, batch[-1] + 1 if batch else 0)
                evicted = [per_slot[b] if q == 0 or batch[q - 1] != b else () for q, b in enumerate(batch)]
        else:
            order = general.decode(block, self.data)
            if self.blocks is not None:
                evicted = capacity.decode_evictions(block, self.blocks, len(order))
        plans = None if evicted is None else tuple(tuple(e) for e in evicted)
        return Solution(self.instance, tuple(order), True, plans, None if batch is None else tuple(batch))


def _piece(network: Network, n: int, sharing: bool) -> tuple[_Piece, pyo.ConcreteModel | None]:
    instance = network.server_instance(n)
    work = instance if sharing else instance.unshared()
    data = schedule_data(work)
    blocks = capacity.blocks_of_instance(data, work) if keeps_blocks(work) else None
    if work.batching or work.timing == "pipelined":
        piece = _Piece(n, instance, data, "batched", blocks)
        model = batched.build(data, batched.BatchData.of(work, data), blocks, work.timing == "pipelined")
    else:
        piece = _Piece(n, instance, data, "positions", blocks)
        model = general.build(data) if blocks is None else capacity.build(data, blocks)
    return piece, (model if data.n_users else None)


def build_network_model(network: Network, sharing: bool = True) -> tuple[pyo.ConcreteModel, list[_Piece]]:
    """The association MILP of ``network`` (for inspection, writing, or :func:`solve`)."""
    m = pyo.ConcreteModel(name="partialloading_servers")
    m.N = pyo.Set(initialize=[s.id for s in network.servers], ordered=True, doc="servers")
    m.server = pyo.Block(m.N, doc="one-server model of each server")
    pieces: list[_Piece] = []
    admitted: dict[str, list[Any]] = {}
    objective = 0
    for n, server in enumerate(network.servers):
        piece, model = _piece(network, n, sharing)
        pieces.append(piece)
        if model is None:
            continue
        block = m.server[server.id]
        block.transfer_attributes_from(model)
        block.served_weight.deactivate()
        objective += block.served_weight.expr
        for k in block.K:
            admitted.setdefault(k, []).append(block.admitted[k])
    shared = sorted(uid for uid, terms in admitted.items() if len(terms) > 1)
    m.L = pyo.Set(initialize=shared, ordered=True, doc="users that several servers can serve")
    m.one_server = pyo.Constraint(m.L, rule=lambda m, k: sum(admitted[k]) <= 1)
    m.served_weight = pyo.Objective(expr=objective, sense=pyo.maximize)
    return m, pieces


def _on_time(part: Solution) -> tuple[Solution, bool]:
    """``part`` without its late users (and whether it had none)."""
    if part.feasible:
        return part, True
    while not part.feasible:
        late = [q for q, ok in enumerate(part.timeline.on_time) if not ok]
        keep = [q for q in range(len(part.order)) if q != late[0]]
        part = Solution(part.instance, tuple(part.order[q] for q in keep), part.sharing)
    return part, False


def solve(network: Network, params: MilpParams, request: NetworkRequest) -> NetworkOutput:
    """Solve the association MILP exactly or to the time limit."""
    started = time.perf_counter()
    pipelined = network.timing == "pipelined"
    solver = PIPELINED_SOLVER if pipelined else params.solver
    model, pieces = build_network_model(network, request.sharing)
    info: dict[str, Any] = {"formulation": "association", "solver": "scip" if pipelined else params.solver}
    info |= {"n_vars": model.nvariables(), "n_cons": model.nconstraints(), "build_s": time.perf_counter() - started}
    if model.nvariables() == 0:
        return NetworkOutput(NetworkSolution.empty(network, request.sharing), Status.OPTIMAL, 0.0, info)
    options = dict(params.solver_options or {})
    results, has_solution, proven, nodes, _ = run_model(model, solver, request.deadline, request.seed, options)
    integral = bool(all(float(w).is_integer() for w in network.weights))
    bound = dual_bound(results, integral, float(np.sum(network.weights)))
    parts, exact = [], True
    for piece, server in zip(pieces, network.servers, strict=True):
        if not has_solution or piece.data.n_users == 0:
            parts.append(Solution(piece.instance, (), request.sharing))
            continue
        part = piece.decode(model.server[server.id])
        if not request.sharing:
            part = Solution(part.instance, part.order, False, part.evicted, part.batch)
        part, clean = _on_time(part)
        parts.append(part)
        exact = exact and clean
    solution = NetworkSolution(network, tuple(parts))
    status = Status.OPTIMAL if proven and exact else Status.FEASIBLE if solution.objective > 0 else Status.TIME_LIMIT
    info |= {"termination": str(results.solver.termination_condition), "nodes": nodes}
    return NetworkOutput(solution, status, bound if has_solution or not proven else None, info)
