"""Round-by-round serving of a workload with a static method as the policy.

The server works in rounds. A round starts when the GPU has finished the previous one, or, when
it is idle, at the next arrival. Its static instance holds every pending request (arrived, not
served, not dropped) with its deadline shifted to the round's start, the model in GPU memory as
``initial_model``, and the requests in arrival order. Before planning, a pending request that
cannot meet its deadline even when served alone from this round's state is dropped. The policy
(any :func:`~partialloading.solve` method) plans the round, the independent verifier checks the
plan, and the round runs exactly as the static timeline says; requests the plan leaves out stay
pending. The round ends when its last inference ends.

With a cap on the requests per round, the instance holds the ``cap`` pending requests with the
earliest deadlines (then earliest arrivals); the others wait, pending, for a later round.

Every request ends ``served`` (with its upload end, inference start and finish) or ``dropped``
(with the round that dropped it): the two counts add up to the arrivals, and a request that no
round can serve any more is dropped when the last round ends.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from partialloading.errors import ParameterError, SolverError
from partialloading.instance import Instance, User
from partialloading.params import MethodParams
from partialloading.solve import solve
from partialloading.timing import instance_steps, servable_alone
from partialloading.validation.verify import verify_solution

from .gpu import GpuState
from .workload import Workload

SERVED = "served"
DROPPED = "dropped"


@dataclass(frozen=True)
class Policy:
    """A planning policy: a :func:`~partialloading.solve` method and how to call it.

    Parameters
    ----------
    method
        Method name (``fifo``, ``edf``, ``greedy``, ``milp``, ...).
    params
        The method's parameters (dataclass or mapping; ``None``: defaults).
    sharing
        Plan and run with parameter sharing (``False``: every change of model loads it whole).
    time_limit
        Planning time limit per round in seconds (``None``: the method's own).
    seed
        Seed of the method.
    """

    method: str
    params: MethodParams | Mapping[str, Any] | None = None
    sharing: bool = True
    time_limit: float | None = None
    seed: int = 0

    @property
    def label(self) -> str:
        """``METHOD`` or ``METHOD (no sharing)``."""
        return self.method if self.sharing else f"{self.method} (no sharing)"


@dataclass(frozen=True)
class Outcome:
    """What happened to one request (times absolute; ``nan`` for a dropped request)."""

    request: str
    model: str
    arrival_s: float
    deadline_s: float
    status: str
    round: int
    upload_end_s: float = math.nan
    infer_start_s: float = math.nan
    finish_s: float = math.nan
    batch_size: int = 0
    """Requests in its batch (0 for a dropped request)."""
    server: str | None = None
    """The server that served or dropped it (several servers only; ``None``: one server, or
    dropped before any server took it)."""


@dataclass(frozen=True)
class Round:
    """One planning round."""

    index: int
    start_s: float
    end_s: float
    pending: int
    planned: int
    served: int
    dropped: int
    planning_s: float
    busy_s: float
    loaded_bytes: float
    reused_bytes: float
    evicted_bytes: float = 0.0
    resident_bytes: float = 0.0
    """Bytes in GPU memory when the round ends."""
    server: str | None = None
    """The server that ran it (several servers only)."""


@dataclass(frozen=True)
class ServerSummary:
    """One server's share of a run on several servers."""

    id: str
    served: int
    dropped: int
    loaded_bytes: float
    busy_fraction: float
    rounds: int


@dataclass(frozen=True)
class Summary:
    """The metrics of a run (latency: arrival to finish of the served requests)."""

    arrivals: int
    served: int
    dropped: int
    served_weight: float
    on_time_fraction: float
    latency_mean_s: float | None
    latency_p50_s: float | None
    latency_p95_s: float | None
    latency_p99_s: float | None
    loaded_bytes: float
    reused_bytes: float
    evicted_bytes: float
    resident_bytes_mean: float
    resident_bytes_max: float
    gpu_busy_fraction: float
    rounds: int
    planning_time_mean_s: float
    planning_time_max_s: float
    mean_batch_size: float | None = None
    """Served requests per batch (``None`` when no model of the workload has a batch table)."""
    gpu_seconds_saved: float | None = None
    """Inference seconds that serving the same requests one by one would have taken beyond the
    batches' (``None`` without batch tables)."""
    servers: tuple[ServerSummary, ...] | None = None
    """Each server's served and dropped requests, loaded bytes and busy fraction (several
    servers only)."""

    WALL_CLOCK = ("planning_time_mean_s", "planning_time_max_s")
    """The fields measured in wall-clock time: the only ones that differ between two equal runs."""


@dataclass(frozen=True)
class Simulation:
    """A finished run: the policy, every request's outcome (in workload order), the rounds, the metrics."""

    workload: str
    timing: str
    policy: Policy
    outcomes: tuple[Outcome, ...]
    rounds: tuple[Round, ...]
    summary: Summary
    router: str | None = None
    """The router that sent the requests to the servers (several servers only)."""


def _quantile(values: np.ndarray, q: float) -> float | None:
    return float(np.quantile(values, q)) if values.size else None


def summarize(
    workload: Workload,
    outcomes: Sequence[Outcome],
    rounds: Sequence[Round],
    batches: int = 0,
    saved: float = 0.0,
) -> Summary:
    """The metrics of a run from its outcomes and rounds (``batches``: how many batches served
    them; ``saved``: the inference seconds batching saved; used where the workload batches)."""
    served = [o for o in outcomes if o.status == SERVED]
    weights = {r.id: float(r.weight) for r in workload.requests}
    latency = np.array([o.finish_s - o.arrival_s for o in served], dtype=float)
    arrivals = len(outcomes)
    first = min((o.arrival_s for o in outcomes), default=0.0)
    last = max([r.end_s for r in rounds] + [o.arrival_s for o in outcomes], default=0.0)
    span = last - first
    busy = sum(r.busy_s for r in rounds)
    planning = np.array([r.planning_s for r in rounds if r.planned], dtype=float)
    return Summary(
        arrivals=arrivals,
        served=len(served),
        dropped=arrivals - len(served),
        served_weight=float(sum(weights[o.request] for o in served)),
        on_time_fraction=len(served) / arrivals if arrivals else 0.0,
        latency_mean_s=float(latency.mean()) if latency.size else None,
        latency_p50_s=_quantile(latency, 0.50),
        latency_p95_s=_quantile(latency, 0.95),
        latency_p99_s=_quantile(latency, 0.99),
        loaded_bytes=float(sum(r.loaded_bytes for r in rounds)),
        reused_bytes=float(sum(r.reused_bytes for r in rounds)),
        evicted_bytes=float(sum(r.evicted_bytes for r in rounds)),
        resident_bytes_mean=float(np.mean([r.resident_bytes for r in rounds])) if rounds else 0.0,
        resident_bytes_max=float(max((r.resident_bytes for r in rounds), default=0.0)),
        gpu_busy_fraction=busy / span if span > 0 else 0.0,
        rounds=len(rounds),
        planning_time_mean_s=float(planning.mean()) if planning.size else 0.0,
        planning_time_max_s=float(planning.max()) if planning.size else 0.0,
        mean_batch_size=(len(served) / batches if batches else None) if workload.batching else None,
        gpu_seconds_saved=saved if workload.batching else None,
    )


def simulate(
    workload: Workload,
    policy: Policy | str,
    *,
    timing: str | None = None,
    round_cap: int | None = None,
    verify: bool = True,
    progress: Callable[[float], object] | None = None,
) -> Simulation:
    """Serve ``workload`` round by round with ``policy`` (see the module docstring).

    Parameters
    ----------
    workload
        The server and its requests.
    policy
        The planning policy, or a method name with the default settings.
    timing
        Timing model of the rounds (default: the workload's).
    round_cap
        At most this many pending requests in a round's instance (``None``: all).
    verify
        Check every round's plan with the independent verifier (a failure is a
        :class:`~partialloading.SolverError`).
    progress
        Called with the simulated time after each round.

    Returns
    -------
    Simulation
        Every request's outcome, the rounds and the metrics.
    """
    if isinstance(policy, str):
        policy = Policy(policy)
    if round_cap is not None and (isinstance(round_cap, bool) or not isinstance(round_cap, int) or round_cap < 1):
        raise ParameterError(f"round cap must be a positive integer (got {round_cap!r})")
    if not isinstance(workload.server, Instance):
        raise ParameterError(
            f"the workload has {len(workload.servers)} servers: serve it with simulate_servers (and a router)"
        )
    server = workload.server if timing is None else dataclasses.replace(workload.server, timing=timing)
    run = _Serving(workload, server, policy, round_cap, verify)
    while run.pointer < len(run.requests) or run.pending:
        if run.round() and progress is not None:
            progress(run.now)
    final = tuple(o for o in run.outcomes if o is not None)
    if len(final) != len(run.requests):  # pragma: no cover - every path of a round settles each request
        raise SolverError("simulation lost a request")
    rounds = run.rounds
    summary = summarize(workload, final, rounds, run.batches, run.saved)
    return Simulation(workload.name, server.timing, policy, final, tuple(rounds), summary)


class _Shared:
    """What the servers of one run share: the requests' times, every request's outcome, and
    (several servers) whether more arrivals are still to be routed."""

    def __init__(self, workload: Workload, joint: bool = False) -> None:
        self.requests = workload.requests
        n = len(self.requests)
        self.arrival = workload.arrivals
        self.deadline = workload.deadlines
        self.order: list[int] = np.lexsort((np.arange(n), self.arrival)).tolist()
        self.outcomes: list[Outcome | None] = [None] * n
        self.routed = n  # arrivals handed to a server so far (one server: all of them)
        self.joint = joint

    def more_coming(self) -> bool:
        """Whether some request has yet to arrive at a server."""
        return self.routed < len(self.order)

    def drop(self, k: int, index: int, server: str | None) -> None:
        r = self.requests[k]
        arrival, deadline = float(self.arrival[k]), float(self.deadline[k])
        self.outcomes[k] = Outcome(r.id, r.model, arrival, deadline, DROPPED, index, server=server)


class _Serving:
    """The state of a simulation between rounds: the clock, the requests arrived and pending,
    every request's outcome so far, the rounds run and the GPU's memory."""

    def __init__(
        self,
        workload: Workload,
        server: Instance,
        policy: Policy,
        round_cap: int | None,
        verify: bool,
        shared: _Shared | None = None,
    ) -> None:
        self.server, self.policy, self.round_cap, self.verify = server, policy, round_cap, verify
        self.requests = workload.requests
        n = len(self.requests)
        self.shared = shared or _Shared(workload)
        self.arrival = self.shared.arrival
        self.deadline = self.shared.deadline
        self.outcomes = self.shared.outcomes
        # One server takes every arrival; with several, the requests routed to it (appended by
        # the router as they arrive, in arrival order).
        self.arrival_order: list[int] = list(self.shared.order) if shared is None else []
        self.label: str | None = None  # the server's id, with several servers
        self.rounds: list[Round] = []
        self.pending: list[int] = []  # request indices, in arrival order
        self.pointer = 0
        self.stalled = False  # the last round served nobody: only a new arrival changes that
        self.now = float(self.arrival[self.arrival_order[0]]) if n and shared is None else 0.0
        self.gpu = GpuState.start(server)
        self.batches = 0  # batches served so far
        self.saved = 0.0  # inference seconds batching saved so far

    def user(self, k: int, deadline_s: float) -> User:
        """Request ``k`` as a user of this server's round instance (its link's radio)."""
        request = self.requests[k]
        return request.user(deadline_s) if self.label is None else request.user_on(self.label, deadline_s)

    def keep_unservable(self, k: int) -> bool:
        """Whether a request this server cannot serve stays pending instead of being dropped
        (the joint router: another server may serve it)."""
        return self.shared.joint

    def drop(self, k: int, index: int) -> None:
        self.shared.drop(k, index, self.label)

    def round(self) -> bool:
        """Run one round (see the module docstring); whether it planned (else it only dropped
        requests, or found none to plan, and the next round starts at once)."""
        arrival, deadline, outcomes = self.arrival, self.deadline, self.outcomes
        if not self.pending:
            self.now = max(self.now, float(arrival[self.arrival_order[self.pointer]]))
        while self.pointer < len(self.arrival_order) and arrival[self.arrival_order[self.pointer]] <= self.now:
            self.pending.append(self.arrival_order[self.pointer])
            self.pointer += 1
        index = len(self.rounds)
        for k in self.pending:
            if deadline[k] <= self.now:
                self.drop(k, index)
        alive = [k for k in self.pending if outcomes[k] is None]
        chosen, instance = self._instance(alive, index)
        dropped = sum(1 for k in self.pending if outcomes[k] is not None)
        if not chosen:
            now = self.now
            self.rounds.append(
                Round(
                    index,
                    now,
                    now,
                    len(self.pending),
                    0,
                    0,
                    dropped,
                    0.0,
                    0.0,
                    0.0,
                    0.0,
                    0.0,
                    self.gpu.bytes,
                    self.label,
                )
            )
            # What is left waited beyond the cap: plan it at once. Else wait for the next arrival.
            self.pending = [k for k in alive if outcomes[k] is None]
            return False
        served, end = self._serve(instance, chosen, index, dropped)
        self.pending = [k for k in alive if outcomes[k] is None]
        self.stalled = not served
        if served:
            self.now = end
        elif self.pointer < len(self.arrival_order):
            self.now = max(self.now, float(arrival[self.arrival_order[self.pointer]]))
        elif not self.shared.more_coming():
            # The policy admits nobody and nothing more arrives: the state cannot change, so what
            # waits can only be dropped.
            for k in self.pending:
                self.drop(k, index)
            self.pending = []
        return True

    def _instance(self, alive: list[int], index: int) -> tuple[list[int], Instance]:
        """The requests the round plans (at most the cap, by deadline) and its instance, less
        those that cannot make it even served alone from this round's state (dropped)."""
        deadline, arrival, now = self.deadline, self.arrival, self.now
        chosen = alive
        if self.round_cap is not None and len(alive) > self.round_cap:
            keep = set(sorted(alive, key=lambda k: (deadline[k], arrival[k], k))[: self.round_cap])
            chosen = [k for k in alive if k in keep]  # still in arrival order
        users = tuple(self.user(k, float(deadline[k] - now)) for k in chosen)
        instance = self.gpu.round_instance(self.server, users, index)
        ok = set(servable_alone(instance if self.policy.sharing else instance.unshared()).tolist())
        if len(ok) < len(chosen):
            # Not even served alone from this round's state can these make it: drop them (the
            # joint router leaves them to the other servers).
            for pos, k in enumerate(chosen):
                if pos not in ok and not self.keep_unservable(k):
                    self.drop(k, index)
            chosen = [k for pos, k in enumerate(chosen) if pos in ok]
            # The same users, less the dropped ones: no need to build them again.
            kept = tuple(user for pos, user in enumerate(instance.users) if pos in ok)
            instance = dataclasses.replace(instance, users=kept)
        return chosen, instance

    def _serve(self, instance: Instance, chosen: list[int], index: int, dropped: int) -> tuple[list[int], float]:
        """Plan the round with the policy (checked by the verifier), record what it serves and
        the round; the users served and when the round ends."""
        policy, now = self.policy, self.now
        started = time.perf_counter()
        result = solve(
            instance,
            policy.method,
            sharing=policy.sharing,
            time_limit=policy.time_limit,
            seed=policy.seed,
            params=policy.params,
        )
        planning = time.perf_counter() - started
        if self.verify:
            report = verify_solution(instance, result.to_dict())
            if not report.ok:
                raise SolverError(
                    f"policy {policy.label}: round {index} plan fails the verifier: {report.violations[0]}"
                )
        line = result.solution.timeline
        served = line.order.tolist()
        steps = instance_steps(instance, line.order, result.solution.batch)
        sizes = steps.size[steps.of] if served else steps.size
        for pos, u in enumerate(served):
            k = chosen[u]
            r = self.requests[k]
            self.outcomes[k] = Outcome(
                r.id,
                r.model,
                float(self.arrival[k]),
                float(self.deadline[k]),
                SERVED,
                index,
                now + float(line.upload_ends[pos]),
                now + float(line.infer_start[pos]),
                now + float(line.finish[pos]),
                int(sizes[pos]),
                self.label,
            )
        # One load and one inference per batch (one request per batch without tables).
        busy = float(line.load[steps.first].sum() + steps.time.sum())
        self.batches += steps.count
        self.saved += float(instance.user_infer_times[line.order].sum() - steps.time.sum())
        end = now + float(line.finish.max()) if served else now
        self.gpu = self.gpu.after(result.solution) if served else self.gpu
        evicted = result.solution.evaluated.block_sizes
        evicted_bytes = float(sum(evicted[j] for gone in line.evicted for j in gone))
        self.rounds.append(
            Round(
                index,
                now,
                end,
                len(self.pending),
                len(chosen),
                len(served),
                dropped,
                planning,
                busy,
                float(line.loaded_bytes.sum()),
                float(line.reused_bytes.sum()),
                evicted_bytes,
                self.gpu.bytes,
                self.label,
            )
        )
        return served, end
