"""A schedule on several servers: :class:`NetworkSolution`.

One :class:`~partialloading.solution.Solution` per server, on the server's own instance
(:meth:`~partialloading.network.Network.server_instance`): its order, evictions and batches.
Each part evaluates its own timeline (the servers share nothing), and the network's objective
is the sum of theirs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType

from partialloading.errors import SolutionError
from partialloading.network import Network
from partialloading.solution import Solution

__all__ = ["NetworkSolution", "local_index"]


def local_index(network: Network, n: int) -> Mapping[int, int]:
    """The position, in server ``n``'s instance, of each network user that server can serve."""
    cache: dict[int, Mapping[int, int]] = network.__dict__.setdefault("_local_index", {})
    if n not in cache:
        cache[n] = MappingProxyType({k: i for i, k in enumerate(network.server_users(n))})
    return cache[n]


@dataclass(frozen=True, eq=False)
class NetworkSolution:
    """Each server's schedule.

    Parameters
    ----------
    network
        The instance the solution belongs to.
    parts
        Server ``n``'s schedule, a :class:`~partialloading.solution.Solution` of
        ``network.server_instance(n)``; one per server, all with the same sharing mode, no user
        served twice.
    """

    network: Network
    parts: tuple[Solution, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "parts", tuple(self.parts))
        if len(self.parts) != self.network.num_servers:
            raise SolutionError(f"{len(self.parts)} schedules for {self.network.num_servers} servers")
        served: dict[int, int] = {}
        for n, part in enumerate(self.parts):
            if part.instance is not self.network.server_instance(n):
                raise SolutionError(f"the schedule of server {self.network.servers[n].id!r} is not on its instance")
            if part.sharing != self.parts[0].sharing:
                raise SolutionError("every server's schedule has the same sharing mode")
            users = self.network.server_users(n)
            for i in part.order:
                k = users[i]
                if k in served:
                    other = self.network.servers[served[k]].id
                    raise SolutionError(f"user {self.network.users[k].id!r} is served by two servers ({other!r} too)")
                served[k] = n

    @classmethod
    def from_orders(
        cls,
        network: Network,
        orders: Sequence[Sequence[int]],
        sharing: bool = True,
        evicted: Sequence[Sequence[Sequence[int] | None] | None] | None = None,
        batch: Sequence[Sequence[int] | None] | None = None,
    ) -> NetworkSolution:
        """The solution serving ``orders[n]`` (network user indices, in service order) on server
        ``n``, with that server's evictions and batch numbers where given."""
        parts = []
        for n, order in enumerate(orders):
            local = local_index(network, n)
            plan = None if evicted is None else evicted[n]
            plans = None if plan is None else tuple(None if e is None else tuple(e) for e in plan)
            given = None if batch is None else batch[n]
            numbers = None if given is None else tuple(given)
            parts.append(Solution(network.server_instance(n), tuple(local[k] for k in order), sharing, plans, numbers))
        return cls(network, tuple(parts))

    @classmethod
    def empty(cls, network: Network, sharing: bool = True) -> NetworkSolution:
        """The solution that serves nobody."""
        return cls.from_orders(network, [[] for _ in network.servers], sharing)

    @property
    def sharing(self) -> bool:
        """Whether loads reuse blocks already in GPU memory."""
        return self.parts[0].sharing

    @cached_property
    def orders(self) -> tuple[tuple[int, ...], ...]:
        """Per server, the network indices of the users it serves, in service order."""
        return tuple(tuple(self.network.server_users(n)[i] for i in part.order) for n, part in enumerate(self.parts))

    @cached_property
    def server_of(self) -> tuple[int | None, ...]:
        """Per network user, the server (index) that serves it, or ``None``."""
        out: list[int | None] = [None] * self.network.num_users
        for n, order in enumerate(self.orders):
            for k in order:
                out[k] = n
        return tuple(out)

    @property
    def objective(self) -> float:
        """Total weight served by every server."""
        return float(sum(part.objective for part in self.parts))

    @property
    def feasible(self) -> bool:
        """Whether every server's users finish by their deadlines."""
        return all(part.feasible for part in self.parts)

    @property
    def admitted(self) -> tuple[str, ...]:
        """Ids of the users served, server by server, each in service order."""
        return tuple(uid for part in self.parts for uid in part.admitted)

    @property
    def rejected(self) -> tuple[str, ...]:
        """Ids of the users no server serves, in instance order."""
        return tuple(u.id for u, n in zip(self.network.users, self.server_of, strict=True) if n is None)

    @property
    def loaded_bytes(self) -> float:
        """Bytes loaded into the GPUs of all servers."""
        return float(sum(part.loaded_bytes for part in self.parts))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NetworkSolution):
            return NotImplemented
        return self.network is other.network and self.parts == other.parts

    __hash__ = None  # type: ignore[assignment]
