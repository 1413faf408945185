"""Exact search over associations and orders on several servers (``enumerate``), for tiny instances.

Given which server serves each user, the servers are independent, so the optimum serves, on
each server ``n``, a set ``S_n`` that has a feasible order there, the sets disjoint, with the
largest total weight. The search lists, per server, every feasible set of the users it can
serve (by increasing size; a set containing one proven infeasible is skipped, since the
admissible sets of one server are closed under removal), each checked by the one-server exact
order search (:func:`partialloading.solvers.order_search.find_order`, the search behind the
one-server ``enumerate``); then a dynamic programme over the servers keeps, for every set of
users served so far, the heaviest choice. It is the test reference of the several-server
methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

from partialloading.errors import InstanceTooLargeError
from partialloading.network import Network
from partialloading.params import EnumerateParams
from partialloading.result import Status
from partialloading.servers.request import NetworkOutput, NetworkRequest
from partialloading.servers.solution import NetworkSolution
from partialloading.solution import Solution
from partialloading.timing import schedule, servable_alone

from ..enumeration import MAX_EVICTABLE, evictable
from ..order_search import find_order


@dataclass(frozen=True)
class _Feasible:
    """A feasible set of one server: its users (network mask), weight and schedule."""

    mask: int
    weight: float
    order: tuple[int, ...]
    evicted: tuple[tuple[int, ...], ...] | None
    batch: tuple[int, ...] | None


def _feasible_sets(network: Network, n: int, sharing: bool, request: NetworkRequest) -> list[_Feasible] | None:
    """Every set of users server ``n`` can serve on time (``None`` when the deadline passed)."""
    instance = network.server_instance(n)
    work = instance if sharing else instance.unshared()
    search = schedule(work, tolerance_share=1.0)
    alone = servable_alone(work).tolist()
    users = network.server_users(n)
    found = [_Feasible(0, 0.0, (), None, None)]
    infeasible: list[int] = []
    for size in range(1, len(alone) + 1):
        for subset in combinations(alone, size):
            mask = sum(1 << users[i] for i in subset)
            if any(bad & mask == bad for bad in infeasible):
                continue
            if request.deadline():
                return None
            result = find_order(search, subset)
            if result.order is None:
                infeasible.append(mask)
                continue
            weight = float(sum(network.weights[users[i]] for i in subset))
            evicted = None if result.evicted is None else tuple(tuple(e) for e in result.evicted)
            batch = None if result.batch is None else tuple(result.batch)
            found.append(_Feasible(mask, weight, tuple(result.order), evicted, batch))
    return found


def _best_combination(per_server: Sequence[list[_Feasible]]) -> tuple[float, list[_Feasible]]:
    """The heaviest choice of one feasible set per server, the sets disjoint."""
    best: dict[int, tuple[float, list[_Feasible]]] = {0: (0.0, [])}
    for sets in per_server:
        grown: dict[int, tuple[float, list[_Feasible]]] = {}
        for mask, (weight, chosen) in best.items():
            for item in sets:
                if item.mask & mask:
                    continue
                key, value = mask | item.mask, weight + item.weight
                if key not in grown or value > grown[key][0]:
                    grown[key] = (value, [*chosen, item])
        best = grown
    return max(best.values(), key=lambda entry: entry[0])


def precheck(network: Network, params: EnumerateParams, sharing: bool) -> None:
    """Refuse an instance too large for the search."""
    if network.num_users > params.max_users:
        raise InstanceTooLargeError(
            f"enumerate handles at most {params.max_users} users (this instance has {network.num_users}); "
            "use benders or greedy"
        )
    for n in range(network.num_servers):
        instance = network.server_instance(n)
        blocks = evictable(instance if sharing else instance.unshared())
        if blocks > MAX_EVICTABLE:
            raise InstanceTooLargeError(
                f"enumerate searches evictions over at most {MAX_EVICTABLE} blocks (server "
                f"{network.servers[n].id!r}'s requested models hold {blocks}); use benders or greedy"
            )


def solve(network: Network, params: EnumerateParams, request: NetworkRequest) -> NetworkOutput:
    """The heaviest schedule over every association (exact; the seed is not used)."""
    precheck(network, params, request.sharing)
    per_server = []
    for n in range(network.num_servers):
        sets = _feasible_sets(network, n, request.sharing, request)
        if sets is None:
            fallback = request.initial or NetworkSolution.empty(network, request.sharing)
            return NetworkOutput(fallback, Status.FEASIBLE if fallback.objective > 0 else Status.TIME_LIMIT)
        per_server.append(sets)
    weight, chosen = _best_combination(per_server)
    parts = tuple(
        Solution(network.server_instance(n), item.order, request.sharing, item.evicted, item.batch)
        for n, item in enumerate(chosen)
    )
    info = {"feasible_sets": [len(sets) for sets in per_server]}
    return NetworkOutput(NetworkSolution(network, parts), Status.OPTIMAL, bound=weight, info=info)
