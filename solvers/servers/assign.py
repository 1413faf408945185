"""The several-server heuristics: an association rule, each server's one-server method, and
(greedy) moves of users between servers.

Association (``edf``, ``fifo`` and greedy's start): users are taken in the method's order
(deadline order, instance order) and each goes to the server of its **best link** (the largest
spectral efficiency among the servers that can serve it), ties to the server with the **least
work** assigned so far (uploads ``a_k / B_n`` plus inference times, in seconds), then to the
first. Each server then schedules its users with the one-server method of the same name,
through :func:`partialloading.solve`.

``greedy`` then moves users between servers while the served weight grows:

* **relocate**: the users no server serves are offered, server by server, to every other server
  that can serve them; the server is scheduled again by the one-server greedy from its current
  schedule (so never worse) and keeps whom it can take;
* **swap** (up to :data:`SWAP_MAX_USERS` users): a served user moves to another server that can
  serve it, and its old server takes unserved users in its place; the move is kept when the two
  servers together serve more.

Each server's greedy gets the network's local-search budget in proportion to its users
(:func:`share`), so the servers together search about as much as one greedy over every user.

Every schedule comes from a one-server solve, so each server's part is a one-server schedule
the verifier checks as such.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from partialloading.network import Network
from partialloading.params import EdfParams, FifoParams, GreedyParams
from partialloading.result import Status
from partialloading.servers.request import NetworkOutput, NetworkRequest
from partialloading.servers.solution import local_index
from partialloading.tolerance import exceeds, reaches

from ..greedy.restarts import default_effort
from .common import ServerRun, assemble, solve_server
from .master import AssociationMaster

MASTER_START_MAX_PAIRS = 200
"""Greedy also starts from the relaxed association problem's optimal assignment (a MILP) on
instances with at most this many user–server pairs; on larger ones it solves only its LP
relaxation, for the bound."""

MASTER_START_NODES = 5000
"""Branch-and-bound nodes HiGHS may spend on that MILP (a node budget, not a time limit, so that
greedy stays deterministic; stopped early, its assignment is the best found and its bound HiGHS's
dual bound)."""

MASTER_ROUNDS = 4
"""Assignments of the relaxed association problem greedy tries (each after forbidding the sets
the previous one could not serve whole)."""

SWAP_MAX_USERS = 120
"""Swap moves are tried on instances of at most this many users (each costs two one-server solves)."""

SWAP_TRIALS_PER_USER = 2
"""Swap moves greedy tries, per user of the instance (the moves' budget, so that the result
depends only on the instance and the seed)."""


def link_quality(network: Network, k: int, n: int) -> float:
    """The spectral efficiency of user ``k``'s link to server ``n``."""
    return network.server_instance(n).users[local_index(network, n)[k]].eta


def associate(network: Network, order: Sequence[int]) -> list[list[int]]:
    """Each user of ``order`` to its best link's server, ties to the least work, then the first
    server; per server, its users in ``order``."""
    work = [0.0] * network.num_servers
    assigned: list[list[int]] = [[] for _ in network.servers]
    for k in order:
        options = network.servers_of[k]
        if not options:
            continue
        best = max(link_quality(network, k, n) for n in options)
        ties = [n for n in options if not exceeds(best, link_quality(network, k, n))]
        n = min(ties, key=lambda s: (work[s], s))
        instance = network.server_instance(n)
        i = local_index(network, n)[k]
        work[n] += float(instance.upload_times[i] + instance.user_infer_times[i])
        assigned[n].append(k)
    return assigned


def deadline_order(network: Network) -> list[int]:
    """The users by deadline, then instance order."""
    return sorted(range(network.num_users), key=lambda k: (float(network.users[k].deadline_s), k))


def _each_server(
    network: Network, assigned: Sequence[Sequence[int]], method: str, request: NetworkRequest, **options: Any
) -> list[ServerRun]:
    return [solve_server(network, n, users, method, request, **options) for n, users in enumerate(assigned)]


def _output(
    network: Network, runs: Sequence[ServerRun], request: NetworkRequest, info: dict[str, object]
) -> NetworkOutput:
    solution = assemble(network, runs, request.sharing)
    status = Status.FEASIBLE if solution.objective > 0 else Status.TIME_LIMIT
    return NetworkOutput(solution, status, info=dict(info))


def edf(network: Network, params: EdfParams, request: NetworkRequest) -> NetworkOutput:
    """Best link, then least work, in deadline order; each server by ``edf``."""
    runs = _each_server(network, associate(network, deadline_order(network)), "edf", request)
    return _output(network, runs, request, {"association": "best link, then least work"})


def fifo(network: Network, params: FifoParams, request: NetworkRequest) -> NetworkOutput:
    """Best link, then least work, in instance order; each server by ``fifo`` (instance order)."""
    runs = _each_server(network, associate(network, range(network.num_users)), "fifo", request)
    return _output(network, runs, request, {"association": "best link, then least work"})


class _Moves:
    """Greedy's moves between servers, each server rescheduled by the one-server greedy."""

    def __init__(self, network: Network, params: GreedyParams, request: NetworkRequest, runs: list[ServerRun]) -> None:
        self.network = network
        self.params = params
        self.request = request
        self.runs = runs
        self.moves = {"relocated": 0, "swapped": 0, "solves": 0}

    def served(self) -> set[int]:
        return {k for run in self.runs for k in run.served}

    def pool(self) -> list[int]:
        """The users no server serves, heaviest first, then by deadline."""
        served = self.served()
        net = self.network
        rest = [k for k in range(net.num_users) if k not in served and net.servers_of[k]]
        return sorted(rest, key=lambda k: (-net.weights[k], float(net.users[k].deadline_s), k))

    def resolve(self, n: int, users: Sequence[int], start: Sequence[int]) -> ServerRun:
        self.moves["solves"] += 1
        # On large instances a move is judged by the constructive greedy from the server's
        # schedule (never worse than it), without the local search: the moves stay cheap.
        params = (
            self.params if self.network.num_users <= SWAP_MAX_USERS else dataclasses.replace(self.params, improve=False)
        )
        return _greedy_server(self.network, n, users, self.request, params, start)

    def relocate(self, rounds: int = 3) -> bool:
        """Offer the unserved users to every server that can serve them (at most ``rounds``
        passes over the servers); whether any moved."""
        tried: set[tuple[int, int]] = set()
        moved, changed = False, True
        while changed and rounds > 0 and not self.request.deadline():
            rounds -= 1
            changed = False
            for n, run in enumerate(self.runs):
                offer = [k for k in self.pool() if n in self.network.servers_of[k] and (k, n) not in tried]
                if not offer:
                    continue
                tried.update((k, n) for k in offer)
                new = self.resolve(n, [*run.served, *offer], run.served)
                if exceeds(new.weight, run.weight):
                    self.moves["relocated"] += len(set(new.served) - set(run.served))
                    self.runs[n] = new
                    changed = moved = True
        return moved

    def swap(self, budget: int) -> None:
        """Move served users to other servers, their old server taking unserved users instead
        (only where an unserved user waits for the old server: else it cannot gain)."""
        trials = 0
        for a in range(len(self.runs)):
            if not any(a in self.network.servers_of[j] for j in self.pool()):
                continue
            for k in list(self.runs[a].served):
                for b in self.network.servers_of[k]:
                    if b == a or trials >= budget or self.request.deadline():
                        continue
                    trials += 1
                    if k not in self.runs[a].served:
                        continue
                    self._try_swap(k, a, b)

    def _try_swap(self, k: int, a: int, b: int) -> None:
        old_a, old_b = self.runs[a], self.runs[b]
        new_b = self.resolve(b, [*old_b.served, k], old_b.served)
        if k not in new_b.served:
            return
        keep = [j for j in old_a.served if j != k]
        offer = [j for j in self.pool() if a in self.network.servers_of[j] and j not in new_b.served]
        new_a = self.resolve(a, [*keep, *offer], keep)
        if exceeds(new_a.weight + new_b.weight, old_a.weight + old_b.weight):
            self.runs[a], self.runs[b] = new_a, new_b
            self.moves["swapped"] += 1


def share(network: Network, params: GreedyParams, users: int) -> GreedyParams:
    """The one-server greedy's parameters for a server given ``users`` of the network's users:
    the network's local-search budget (the one-server default for all its users, or
    ``params.effort``) in proportion, so that the servers together search about as much as one
    server would with every user (the restarts stay the one-server default of its users)."""
    total = default_effort(network.num_users) if params.effort is None else float(params.effort)
    return dataclasses.replace(params, effort=total * users / max(network.num_users, 1))


def _weight(runs: Sequence[ServerRun]) -> float:
    return float(sum(run.weight for run in runs))


def _greedy_server(
    network: Network,
    n: int,
    users: Sequence[int],
    request: NetworkRequest,
    params: GreedyParams,
    start: Sequence[int] | None = None,
) -> ServerRun:
    return solve_server(network, n, users, "greedy", request, initial=start, params=share(network, params, len(users)))


def _from_master(
    network: Network,
    params: GreedyParams,
    request: NetworkRequest,
    master: AssociationMaster,
    values: Sequence[float],
    runs: list[ServerRun],
    info: dict[str, Any],
) -> list[ServerRun]:
    """The relaxed association problem's assignments, each server scheduled by greedy, for at
    most :data:`MASTER_ROUNDS` rounds: a server that cannot serve all it was given forbids that
    whole set in the next round (a heuristic cut: the bound was taken before). The better of
    these and ``runs``."""
    for _ in range(MASTER_ROUNDS):
        assigned = master.assignment(values)
        alternative = [_greedy_server(network, n, users, request, params) for n, users in enumerate(assigned)]
        if exceeds(_weight(alternative), _weight(runs)):
            runs, info["association"] = alternative, "the relaxed association problem's"
        short = [(n, users) for n, users in enumerate(assigned) if len(alternative[n].served) < len(users)]
        if not short or request.deadline():
            break
        for n, users in short:
            master.rows.row({master.y[k, n]: 1.0 for k in users}, len(users) - 1.0)
        _, found, _ = master.rows.solve(request.deadline, integer=True, nodes=MASTER_START_NODES)
        if found is None:
            break
        values = found
    return runs


def greedy(network: Network, params: GreedyParams, request: NetworkRequest) -> NetworkOutput:
    """Best link, then least work (or, on instances of at most :data:`MASTER_START_MAX_PAIRS`
    user–server pairs, the relaxed association problem's assignment when it serves more); each
    server by the one-server greedy; then relocate and swap moves (with ``params.improve``)
    while the served weight grows. The bound is the relaxed association problem's optimum (its
    LP relaxation's on larger instances)."""
    start = request.initial
    if start is not None:
        runs = [_greedy_server(network, n, order, request, params, order) for n, order in enumerate(start.orders)]
    else:
        assigned = associate(network, deadline_order(network))
        runs = [_greedy_server(network, n, users, request, params) for n, users in enumerate(assigned)]
    info: dict[str, Any] = {"association": "best link, then least work"}
    master = AssociationMaster(network, request.sharing)
    small = len(master.y) <= MASTER_START_MAX_PAIRS and network.num_servers > 1
    bound, values, _ = master.rows.solve(request.deadline, integer=small, nodes=MASTER_START_NODES)
    if network.num_servers == 1 and runs[0].result.bound is not None:
        bound = runs[0].result.bound if bound is None else min(bound, runs[0].result.bound)
    if small and values is not None:
        runs = _from_master(network, params, request, master, values, runs, info)
    moves = _Moves(network, params, request, runs)
    proven = bound is not None and reaches(_weight(runs), network.round_bound(bound))
    if params.improve and network.num_servers > 1 and not proven:
        moves.relocate()
        if network.num_users <= SWAP_MAX_USERS:
            moves.swap(SWAP_TRIALS_PER_USER * network.num_users)
            moves.relocate()
    out = _output(network, moves.runs, request, {**info, **moves.moves})
    return NetworkOutput(out.solution, out.status, bound, out.info)
