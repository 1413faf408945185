"""The solve pipeline of an instance with several servers.

:func:`partialloading.solve` hands a :class:`~partialloading.network.Network` here. As for one
server, the registry's declarations decide: a method with a several-server backend
(:attr:`~partialloading.methods.Method.servers`) runs it, every other refuses in one line; each
server's instance must be one the method supports (timing, memory, batches). The exact methods
start from greedy's schedule (within the same share of the time as for one server), the bound is
rounded down to the weight unit, and a schedule that reaches its bound is ``optimal``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from partialloading.errors import MethodNotApplicableError, ParameterError, SolverError
from partialloading.methods import METHOD_NAMES, METHODS, Method
from partialloading.network import Network
from partialloading.params import MethodParams, make_params
from partialloading.portfolio import WARM_START_SHARE
from partialloading.result import Status
from partialloading.stop import Deadline
from partialloading.tolerance import exceeds, reaches

from .request import NetworkOutput, NetworkRequest
from .result import NetworkResult
from .solution import NetworkSolution, local_index

__all__ = ["NETWORK_ENUMERATE_MAX_USERS", "choose_network_method", "network_methods", "solve_network"]

NETWORK_ENUMERATE_MAX_USERS = 8
"""``auto`` enumerates associations and orders up to this many users, else runs greedy."""


def network_methods() -> tuple[str, ...]:
    """The methods that schedule several servers."""
    return tuple(name for name, m in METHODS.items() if m.servers is not None)


def choose_network_method(network: Network) -> str:
    """``auto`` on several servers: enumeration on tiny instances, else greedy."""
    return "enumerate" if network.num_users <= NETWORK_ENUMERATE_MAX_USERS else "greedy"


def _entry(network: Network, method: str, sharing: bool) -> Method:
    name = choose_network_method(network) if method == "auto" else method
    if name not in METHODS:
        raise MethodNotApplicableError(f"unknown method {method!r} (choose from {', '.join(METHOD_NAMES)})")
    entry = METHODS[name]
    if entry.servers is None:
        raise MethodNotApplicableError(
            f"{name} schedules one server, and this instance has {network.num_servers} "
            f"(for several servers use {', '.join(network_methods())})"
        )
    for n, server in enumerate(network.servers):
        instance = network.server_instance(n)
        refusal = entry.unsupported(instance if sharing else instance.unshared())
        if refusal is not None:
            raise MethodNotApplicableError(f"server {server.id!r}: {refusal}")
    return entry


def initial_solution(
    network: Network, initial: Mapping[str, Sequence[str]] | Sequence[str], sharing: bool
) -> NetworkSolution:
    """The start ``initial`` (server id to user ids in service order), refused unless it is an
    on-time schedule in which no user is served twice."""
    if not isinstance(initial, Mapping):
        raise ParameterError("initial: with several servers, a mapping of server id to user ids in service order")
    orders: list[list[int]] = [[] for _ in network.servers]
    for sid, users in initial.items():
        if sid not in network.server_index:
            raise ParameterError(f"initial.{sid}: unknown server {sid!r}")
        n = network.server_index[sid]
        for pos, uid in enumerate(users):
            k = network.user_index.get(uid)
            if k is None or k not in local_index(network, n):
                raise ParameterError(f"initial.{sid}[{pos}]: server {sid!r} cannot serve user {uid!r}")
            orders[n].append(k)
    try:
        start = NetworkSolution.from_orders(network, orders, sharing)
    except ValueError as exc:
        raise ParameterError(f"initial: {exc}") from None
    if not start.feasible:
        raise ParameterError("initial: the starting schedule is not feasible (some user misses its deadline)")
    return start


def solve_network(
    network: Network,
    method: str,
    deadline: Deadline,
    *,
    sharing: bool = True,
    seed: int = 0,
    params: MethodParams | Mapping[str, Any] | None = None,
    initial: Mapping[str, Sequence[str]] | Sequence[str] | None = None,
    initial_batch: Sequence[int] | None = None,
    **options: Any,
) -> NetworkResult:
    """:func:`partialloading.solve` of a network, with the deadline set."""
    if not isinstance(network, Network):
        raise ParameterError(f"instance: expected a Network (got {type(network).__name__})")
    if initial_batch is not None:
        raise ParameterError("initial_batch: with several servers the start has batches of one request")
    entry = _entry(network, method, sharing)
    typed = make_params(entry.params, params, **options)
    start = None if initial is None else initial_solution(network, initial, sharing)
    backend: Callable[[Network, Any, NetworkRequest], NetworkOutput] = entry.load_servers()
    clock = time.perf_counter()
    warm = None
    if start is None and entry.warm_start and entry.name != "greedy":
        share = deadline.remaining()
        cut = deadline if share is None else Deadline.after(max(share * WARM_START_SHARE, 1e-3))
        greedy = METHODS["greedy"].load_servers()
        warm = greedy(network, make_params(METHODS["greedy"].params, None), NetworkRequest(cut, seed, sharing))
        start = warm.solution
    out = backend(network, typed, NetworkRequest(deadline, seed, sharing, start))
    runtime = time.perf_counter() - clock
    solution, status, info = out.solution, out.status, dict(out.info)
    if not solution.feasible:
        raise SolverError(f"method {entry.name!r} returned a schedule that misses a deadline")
    if start is not None and exceeds(start.objective, solution.objective):
        if status == Status.OPTIMAL:
            raise SolverError(f"method {entry.name!r} claims optimality below the starting schedule's value")
        solution, status = start, Status.FEASIBLE
        info["incumbent_from"] = "initial" if warm is None else "greedy"
    bound = out.bound
    if warm is not None and warm.bound is not None:
        bound = warm.bound if bound is None else min(bound, warm.bound)
    if bound is not None:
        bound = network.round_bound(bound)
        if reaches(solution.objective, bound):
            status = Status.OPTIMAL
    if status != Status.OPTIMAL:
        status = Status.FEASIBLE if solution.objective > 0 or status == Status.FEASIBLE else Status.TIME_LIMIT
    return NetworkResult(entry.name, status, solution, bound, runtime, info)
