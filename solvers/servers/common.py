"""What the several-server methods share: their request and output, and one server's solve.

A several-server method decides which server serves each user and hands each server's users to
a one-server method through :func:`partialloading.solve` (never a copy of one): given the
association, the servers are independent one-server instances.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from partialloading.instance import Instance
from partialloading.network import Network
from partialloading.portfolio import solve_until
from partialloading.result import Result
from partialloading.servers.request import NetworkOutput, NetworkRequest
from partialloading.servers.solution import NetworkSolution, local_index
from partialloading.solution import Solution

__all__ = ["NetworkOutput", "NetworkRequest", "ServerRun", "restricted", "solve_server"]


def restricted(network: Network, n: int, users: Sequence[int]) -> Instance:
    """Server ``n``'s instance with only ``users`` (network indices, each one it can serve),
    in that order."""
    whole = network.server_instance(n)
    local = local_index(network, n)
    return dataclasses.replace(whole, users=tuple(whole.users[local[k]] for k in users))


@dataclass(frozen=True)
class ServerRun:
    """One server's one-server solve: the users it was given and the result."""

    server: int
    users: tuple[int, ...]
    result: Result

    @property
    def served(self) -> tuple[int, ...]:
        """The network indices of the users served, in service order."""
        return tuple(self.users[k] for k in self.result.solution.order)

    @property
    def weight(self) -> float:
        """The weight served."""
        return self.result.objective

    def part(self, network: Network) -> Solution:
        """The schedule as a part of a :class:`NetworkSolution` (on the server's instance)."""
        sol = self.result.solution
        local = local_index(network, self.server)
        order = tuple(local[k] for k in self.served)
        return Solution(network.server_instance(self.server), order, sol.sharing, sol.evicted, sol.batch)


def solve_server(
    network: Network,
    n: int,
    users: Sequence[int],
    method: str,
    request: NetworkRequest,
    initial: Sequence[int] | None = None,
    **options: Any,
) -> ServerRun:
    """Solve server ``n`` alone with ``users`` (network indices) by the one-server ``method``,
    within the request's deadline; ``initial``: a feasible start among them (network indices)."""
    users = tuple(users)
    instance = restricted(network, n, users)
    start = None if initial is None else [instance.users[users.index(k)].id for k in initial]
    result = solve_until(
        instance,
        method,
        request.deadline,
        sharing=request.sharing,
        seed=request.seed,
        initial=start,
        **options,
    )
    return ServerRun(n, users, result)


def assemble(network: Network, runs: Sequence[ServerRun], sharing: bool) -> NetworkSolution:
    """The network schedule of one run per server (a server without a run serves nobody)."""
    by_server = {run.server: run for run in runs}
    parts = []
    for n in range(network.num_servers):
        run = by_server.get(n)
        parts.append(run.part(network) if run is not None else Solution(network.server_instance(n), (), sharing))
    return NetworkSolution(network, tuple(parts))
