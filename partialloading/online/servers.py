"""Serving a workload on several servers: a router sends each request to a server.

Each server works in rounds exactly as one server does (:mod:`partialloading.online.simulate`):
its own clock, its own pending requests, its own GPU memory carried from round to round, its
rounds planned by the policy on its own instance (its band, its GPU, each request's link to it)
and checked by the verifier. The servers run side by side in simulated time: the next event is
either an arrival, which the router sends to a server, or the start of some server's round
(arrivals first at equal times, so that a round starting at ``t`` sees what arrived by ``t``).

Routers (each picks among the servers the request reaches whose memory holds its model):

* ``affinity`` (default): the server whose resident blocks hold the most bytes of the request's
  model, ties to the least pending work, then the first;
* ``least-loaded``: the least pending work — the seconds its pending requests need (upload at
  its full band plus inference) plus what is left of the round it is running;
* ``round-robin``: the next server in turn (the turn passes over those it cannot reach);
* ``random``: one at random (seeded);
* ``joint``: no routing: requests wait in one queue, and a server that starts a round takes
  every waiting request it reaches; what its plan leaves out goes back to the queue.

Every request ends served or dropped, and says by which server (``Outcome.server``; a request no
server can take is dropped with none). The summary holds the totals and one
:class:`~partialloading.online.simulate.ServerSummary` per server.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import numpy as np

from partialloading.errors import ParameterError, SolverError
from partialloading.network import Network

from .simulate import DROPPED, SERVED, Outcome, Policy, Round, ServerSummary, Simulation, _Serving, _Shared, summarize
from .workload import Workload

ROUTERS = ("affinity", "least-loaded", "round-robin", "random", "joint")
"""The routers :func:`simulate_servers` knows (``affinity`` is the default)."""


class _Router:
    """Chooses a server for each arriving request (every router but ``joint``)."""

    def __init__(self, kind: str, network: Network, workload: Workload, servers: Sequence[_Serving], seed: int):
        self.kind = kind
        self.network = network
        self.requests = workload.requests
        self.servers = servers
        self.rng = np.random.default_rng(seed)
        self.turn = 0
        self.model_blocks = {m.id: m.blocks for m in network.models}
        self.block_size = {b.id: float(b.size_bytes) for b in network.blocks}
        self.models = network.server_instance(0).model_index
        self.infer = {m.id: float(m.infer_time_s) for m in network.models}
        self.model_size = {m.id: sum(self.block_size[b] for b in m.blocks) for m in network.models}
        self._seconds: dict[tuple[int, int], float] = {}

    def options(self, k: int) -> list[int]:
        """The servers request ``k`` reaches whose memory holds its model."""
        request = self.requests[k]
        return [
            n
            for n, server in enumerate(self.network.servers)
            if request.reaches(server.id) and self._fits(n, request.model)
        ]

    def _fits(self, n: int, model: str) -> bool:
        room = self.network.servers[n].memory_bytes
        return room is None or self.model_size[model] <= float(room)

    def seconds(self, k: int, n: int) -> float:
        """What request ``k`` asks of server ``n``: its upload at the full band and its inference
        (computed once per pair: the routers ask it of every pending request at every arrival)."""
        if (k, n) not in self._seconds:
            request = self.requests[k]
            server = self.network.servers[n]
            eta = request.user_on(server.id, 1.0).eta
            infer = self.infer[request.model] if request.infer_time_s is None else float(request.infer_time_s)
            self._seconds[k, n] = float(request.data_bits) / (eta * float(server.bandwidth_hz)) + infer
        return self._seconds[k, n]

    def work(self, n: int, now: float) -> float:
        """Server ``n``'s pending work at ``now`` (seconds)."""
        serving = self.servers[n]
        waiting = [*serving.pending, *serving.arrival_order[serving.pointer :]]
        left = max(serving.now - now, 0.0) if serving.pending or serving.rounds else 0.0
        return left + sum(self.seconds(k, n) for k in waiting if serving.outcomes[k] is None)

    def resident(self, n: int, model: str) -> float:
        """Bytes of ``model`` resident on server ``n``."""
        gpu = self.servers[n].gpu
        held = set(gpu.blocks) if gpu.blocks is not None else set(self.model_blocks.get(gpu.model or "", ()))
        return sum(self.block_size[b] for b in self.model_blocks[model] if b in held)

    def __call__(self, k: int, now: float) -> int | None:
        options = self.options(k)
        if not options:
            return None
        if self.kind == "random":
            return int(options[int(self.rng.integers(len(options)))])
        if self.kind == "round-robin":
            count = self.network.num_servers
            for step in range(count):
                n = (self.turn + step) % count
                if n in options:
                    self.turn = (n + 1) % count
                    return n
        if self.kind == "least-loaded":
            return min(options, key=lambda n: (self.work(n, now), n))
        model = self.requests[k].model
        return min(options, key=lambda n: (-self.resident(n, model), self.work(n, now), n))


def simulate_servers(
    workload: Workload,
    policy: Policy | str,
    *,
    router: str = "affinity",
    timing: str | None = None,
    round_cap: int | None = None,
    verify: bool = True,
    progress: Callable[[float], object] | None = None,
    seed: int = 0,
) -> Simulation:
    """Serve ``workload`` on its servers, each request sent by ``router`` (see the module).

    Parameters are :func:`~partialloading.online.simulate`'s, and ``router`` (one of
    :data:`ROUTERS`) and ``seed`` (the ``random`` router's).
    """
    if router not in ROUTERS:
        raise ParameterError(f"unknown router {router!r} (choose from {', '.join(ROUTERS)})")
    if isinstance(policy, str):
        policy = Policy(policy)
    if round_cap is not None and (isinstance(round_cap, bool) or not isinstance(round_cap, int) or round_cap < 1):
        raise ParameterError(f"round cap must be a positive integer (got {round_cap!r})")
    network = workload.network if timing is None else dataclasses.replace(workload.network, timing=timing)
    shared = _Shared(workload, joint=router == "joint")
    shared.routed = 0
    servers = [
        _Serving(workload, network.server_instance(n), policy, round_cap, verify, shared)
        for n in range(network.num_servers)
    ]
    for serving, server in zip(servers, network.servers, strict=True):
        serving.label = server.id
    run = _Run(workload, network, servers, shared, _Router(router, network, workload, servers, seed), progress)
    run.loop()
    final = tuple(o for o in shared.outcomes if o is not None)
    if len(final) != len(workload.requests):  # pragma: no cover - every path settles each request
        raise SolverError("simulation lost a request")
    rounds = tuple(sorted((r for s in servers for r in s.rounds), key=lambda r: (r.start_s, r.server or "")))
    summary = summarize(workload, final, rounds, sum(s.batches for s in servers), sum(s.saved for s in servers))
    per_server = _per_server(network, final, servers)
    # The GPU busy fraction of several GPUs: their mean (each over the whole run).
    busy = sum(s.busy_fraction for s in per_server) / len(per_server)
    summary = dataclasses.replace(summary, servers=per_server, gpu_busy_fraction=busy)
    return Simulation(workload.name, network.timing, policy, final, rounds, summary, router)


class _Run:
    """The event loop of :func:`simulate_servers`."""

    def __init__(
        self,
        workload: Workload,
        network: Network,
        servers: list[_Serving],
        shared: _Shared,
        route: _Router,
        progress: Callable[[float], object] | None,
    ) -> None:
        self.workload, self.network, self.servers, self.shared = workload, network, servers, shared
        self.route, self.progress = route, progress
        self.pool: list[int] = []  # the joint router's queue, in arrival order
        # Per server, the queued requests its last rounds took and could not serve: it starts
        # again for a request it has not tried (and then takes those again, later in time).
        self.tried: list[set[int]] = [set() for _ in servers]

    def start(self, n: int) -> float:
        """When server ``n`` would start its next round (``inf``: it waits for an arrival)."""
        s = self.servers[n]
        if self.shared.joint:
            label = s.label or ""
            fresh = [k for k in self.pool if k not in self.tried[n] and self.route.requests[k].reaches(label)]
            return max(s.now, float(self.shared.arrival[fresh[0]])) if fresh else math.inf
        if s.pending and not s.stalled:
            return s.now
        if s.pointer < len(s.arrival_order):
            return max(s.now, float(self.shared.arrival[s.arrival_order[s.pointer]]))
        return math.inf

    def loop(self) -> None:
        order, arrival, shared = self.shared.order, self.shared.arrival, self.shared
        while True:
            t_arrival = float(arrival[order[shared.routed]]) if shared.more_coming() else math.inf
            starts = [self.start(n) for n in range(len(self.servers))]
            n = int(np.argmin(starts))
            if math.isinf(t_arrival) and math.isinf(starts[n]):
                break
            if t_arrival <= starts[n]:
                self.arrive(order[shared.routed], t_arrival)
                continue
            self.run_round(n, starts[n])
        for s in self.servers:
            for k in s.pending:
                if shared.outcomes[k] is None:
                    s.drop(k, len(s.rounds))
            s.pending = []
        for k in self.pool:
            if shared.outcomes[k] is None:
                shared.drop(k, 0, None)

    def arrive(self, k: int, now: float) -> None:
        self.shared.routed += 1
        if self.shared.joint:
            if not self.route.options(k):
                self.shared.drop(k, 0, None)
            else:
                self.pool.append(k)
            return
        n = self.route(k, now)
        if n is None:
            self.shared.drop(k, 0, None)
            return
        self.servers[n].arrival_order.append(k)

    def run_round(self, n: int, start: float) -> None:
        s = self.servers[n]
        taken: list[int] = []
        if self.shared.joint:
            reach = {k for k in self.pool if self.route.requests[k].reaches(s.label or "")}
            taken = [k for k in self.pool if k in reach and float(self.shared.arrival[k]) <= start]
            self.pool = [k for k in self.pool if k not in set(taken)]
            s.now = max(s.now, start)
            s.arrival_order.extend(taken)
        planned = s.round()
        if self.shared.joint:
            # What the plan left out goes back to the one queue, for whichever server starts next.
            back = [k for k in s.pending if self.shared.outcomes[k] is None]
            s.pending = []
            self.pool = sorted([*self.pool, *back], key=lambda k: (float(self.shared.arrival[k]), k))
            if any((o := self.shared.outcomes[k]) is not None and o.status == SERVED for k in taken):
                self.tried[n] = set()
            else:
                self.tried[n].update(back)
        if planned and self.progress is not None:
            self.progress(s.now)


def _per_server(
    network: Network, outcomes: Sequence[Outcome], servers: Sequence[_Serving]
) -> tuple[ServerSummary, ...]:
    first = min((o.arrival_s for o in outcomes), default=0.0)
    last = max([r.end_s for s in servers for r in s.rounds] + [o.arrival_s for o in outcomes], default=0.0)
    span = last - first
    out = []
    for server, serving in zip(network.servers, servers, strict=True):
        mine = [o for o in outcomes if o.server == server.id]
        rounds: Sequence[Round] = serving.rounds
        busy = sum(r.busy_s for r in rounds)
        out.append(
            ServerSummary(
                id=server.id,
                served=sum(1 for o in mine if o.status == SERVED),
                dropped=sum(1 for o in mine if o.status == DROPPED),
                loaded_bytes=float(sum(r.loaded_bytes for r in rounds)),
                busy_fraction=busy / span if span > 0 else 0.0,
                rounds=len(rounds),
            )
        )
    return tuple(out)
