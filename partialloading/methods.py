"""What a method is: its backend's signature, its output and what it supports.

Each method lives in its own module under ``partialloading.solvers`` and exposes a backend
function ``solve(instance, params, request) -> SolverOutput``: the order of the admitted users,
a status and (for exact methods) a bound. The :class:`Method` record declares the rest: whether
the method is exact, its parameter class, the timing models it supports, the structure it needs
of the GPU memory model (:mod:`partialloading.memory`) and, where it has a restricted case (the
backbone DP), the function that says why an instance is outside it. The dispatcher
(:mod:`partialloading.solve`) reads only these declarations. Backends never see a sharing flag:
without sharing they are given :meth:`~partialloading.instance.Instance.unshared`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .errors import MethodNotApplicableError
from .instance import Instance
from .memory import PAIRWISE, CapacityMemory, SingleModelMemory, memory_of
from .params import PARAMS, MethodParams
from .result import Status
from .stop import NEVER, Deadline
from .timing import TIMING_NAMES


@dataclass(frozen=True)
class SolverOutput:
    """What a backend returns to :func:`partialloading.solve`.

    Attributes
    ----------
    order
        Indices of the admitted users in service order.
    status
        :class:`Status` of the output.
    bound
        Best proven upper bound on the objective, or ``None``.
    info
        Method-specific statistics, JSON-serializable.
    evicted
        The blocks (indices) evicted right before each request, for memories whose evictions
        are decisions; ``None``: the memory model's default rule.
    batch
        The batch number of each request (see :class:`~partialloading.solution.Solution`);
        ``None``: one request per batch.
    """

    order: Sequence[int]
    status: Status
    bound: float | None = None
    info: dict[str, Any] = field(default_factory=dict)
    evicted: Sequence[Sequence[int] | None] | None = None
    batch: Sequence[int] | None = None


@dataclass(frozen=True)
class SolveRequest:
    """What every backend is asked besides its own parameters.

    Attributes
    ----------
    deadline
        The wall-clock deadline of the whole solve (:class:`~partialloading.stop.Deadline`;
        default: none): every backend checks it, none keeps a clock of its own.
    seed
        Seed of randomized choices.
    initial
        A feasible starting order (user indices): heuristics improve it, exact methods use it
        as a warm start; ``None`` when not given.
    bound
        A proven upper bound on the objective (from the warm start), or ``None``. Exact methods
        add it to their models, so a start that reaches it is proven optimal at once.
    initial_evicted
        The evictions that make ``initial`` feasible (``None``: the memory's default rule does).
    initial_batch
        The batch numbers of ``initial`` (``None``: one request per batch).
    """

    deadline: Deadline = NEVER
    seed: int = 0
    initial: tuple[int, ...] | None = None
    bound: float | None = None
    initial_evicted: tuple[tuple[int, ...] | None, ...] | None = None
    initial_batch: tuple[int, ...] | None = None


class Backend(Protocol):
    """Signature of a method's backend function."""

    def __call__(self, instance: Instance, params: Any, request: SolveRequest) -> SolverOutput: ...


Applicability = Callable[[Instance], "str | None"]
"""``instance -> None`` when a method applies, else the reason it does not."""

Precheck = Callable[[Instance, Any], None]
"""``(instance, params) -> None``, raising what a method refuses before any work."""


def _resolve(target: str) -> Any:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


PAIRWISE_ONLY = frozenset({PAIRWISE})
"""The ``memory_needs`` of the methods written on the load matrix (MILP, CP-SAT, bnb, DP)."""

STRUCTURE_TEXT = {PAIRWISE: "loads that depend only on the previous model (a load matrix)"}
"""How refusals describe each memory structure flag."""


@dataclass(frozen=True)
class Method:
    """A registered method.

    Attributes
    ----------
    name
        Name used by :func:`partialloading.solve` and ``--method``.
    target
        ``"module:function"`` of the backend, imported on first use (so that, e.g., Pyomo is
        imported only when the MILP is used).
    exact
        Whether the method proves optimality when it finishes.
    summary
        One line for ``--help`` and the docs.
    timings
        The timing models the method supports.
    parameters
        The parameter dataclass (default: the method's entry of :data:`partialloading.params.PARAMS`).
    timing_note
        Why the method does not support the other timing models (part of the refusal message).
    memory_needs
        Structure flags the method needs of the instance's memory model (:data:`PAIRWISE`:
        loads that depend only on the previous model); empty: every memory model.
    memories
        The memory models the method is written for (``None``: every one that has its
        ``memory_needs``).
    case
        ``"module:function"`` of an :data:`Applicability` check for methods exact only on a
        restricted case, or ``None``.
    warm_start
        Whether the dispatcher starts the method from greedy's schedule when the caller gives
        no ``initial`` (exact methods that search under a time limit).
    per_user_times
        Whether the method takes users with their own inference time (``User.infer_time_s``);
        methods whose search serves a model's users in deadline order need equal times.
    batching
        Whether the method serves batches (models with a ``batch_infer_time_s`` table longer
        than one entry); a method that does not refuses such instances.
    warm_up
        ``"module:function"`` run by :func:`partialloading.solve` before its time limit starts:
        compiled code loaded or compiled (the first time, seconds) outside the limit.
    servers
        ``"module:function"`` of the method's several-server backend
        ``(network, params, request) -> NetworkOutput`` (:mod:`partialloading.servers`), or
        ``None``: the method schedules one server, and refuses an instance with several.
    precheck
        ``"module:function"`` of a check ``(instance, params) -> None`` that raises the method's
        refusals of the instance with these parameters (its size limits, parameter combinations
        it does not define, an unknown solver) before any work — the warm start included, which
        may prove the start optimal and return it without running the method — or ``None``.
    """

    name: str
    target: str
    exact: bool
    summary: str
    timings: frozenset[str] = frozenset(TIMING_NAMES)
    case: str | None = None
    parameters: type[MethodParams] | None = None
    timing_note: str = ""
    memory_needs: frozenset[str] = frozenset()
    memories: frozenset[str] | None = None
    warm_start: bool = False
    per_user_times: bool = True
    batching: bool = False
    precheck: str | None = None
    warm_up: str | None = None
    servers: str | None = None

    @property
    def params(self) -> type[MethodParams]:
        """The method's parameter dataclass."""
        return self.parameters if self.parameters is not None else PARAMS[self.name]

    def load(self) -> Backend:
        """Import and return the backend function."""
        backend: Backend = _resolve(self.target)
        return backend

    def load_servers(self) -> Callable[..., Any]:
        """Import and return the several-server backend (the method must have one)."""
        if self.servers is None:
            raise MethodNotApplicableError(f"{self.name} schedules one server")
        backend: Callable[..., Any] = _resolve(self.servers)
        return backend

    def unsupported(self, instance: Instance) -> str | None:
        """Why the method does not support the timing or memory model of ``instance``
        (``None`` when it does; its restricted case is :meth:`why_not`'s)."""
        if instance.timing not in self.timings:
            supported = ", ".join(sorted(self.timings))
            note = f": {self.timing_note}" if self.timing_note else ""
            return f"{self.name} does not support {instance.timing!r} timing (it supports {supported}){note}"
        if instance.per_user_times and not self.per_user_times:
            return (
                f"{self.name} needs every request of a model to take the model's inference time (its search serves "
                "a model's users in deadline order, an exchange argument that needs equal times), and this instance "
                "gives users their own infer_time_s; use milp, cpsat, enumerate or greedy"
            )
        if instance.batching and not self.batching:
            names = [m.name for m in METHODS.values() if m.batching and (m.exact or m.name == "greedy")]
            able = f"{', '.join(names[:-1])} or {names[-1]}"
            return (
                f"{self.name} does not serve batches, and this instance gives models a batch_infer_time_s table "
                f"(use {able})"
            )
        memory = memory_of(instance)
        if self.memories is not None and memory.name not in self.memories:
            supported = ", ".join(sorted(self.memories))
            return (
                f"{self.name} does not support the {memory.name!r} memory model (it supports {supported}); "
                "use enumerate or greedy"
            )
        missing = sorted(self.memory_needs - memory.structure)
        if missing:
            needs = ", ".join(STRUCTURE_TEXT.get(flag, flag) for flag in missing)
            return (
                f"{self.name} needs {needs}, which the {memory.name!r} memory model does not have "
                f"(use {' or '.join(m for m in ('enumerate', 'greedy') if m != self.name)})"
            )
        return None

    def prepare(self) -> None:
        """Run :attr:`warm_up` (if any)."""
        if self.warm_up is not None:
            warm: Callable[[], None] = _resolve(self.warm_up)
            warm()

    def check(self, instance: Instance, params: MethodParams) -> None:
        """Raise what the method refuses of ``instance`` with ``params``: its timing or memory
        model, its restricted case (for methods that start from greedy's schedule, which would
        otherwise answer without the method being run), and its :attr:`precheck`."""
        refusal = self.unsupported(instance)
        if refusal is None and self.warm_start:
            refusal = self.why_not(instance)
        if refusal is not None:
            raise MethodNotApplicableError(refusal)
        if self.precheck is not None:
            check: Precheck = _resolve(self.precheck)
            check(instance, params)

    def why_not(self, instance: Instance) -> str | None:
        """``None`` when the method applies to ``instance``, else the reason it does not."""
        reason = self.unsupported(instance)
        if reason is None and self.case is not None:
            check: Applicability = _resolve(self.case)
            return check(instance)
        return reason


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "enumerate",
            "partialloading.solvers.enumeration:solve",
            True,
            "exhaustive search, tiny instances",
            warm_start=True,
            batching=True,
            precheck="partialloading.solvers.enumeration:precheck",
            servers="partialloading.solvers.servers.enumeration:solve",
        ),
        Method(
            "milp",
            "partialloading.solvers.milp:solve",
            True,
            "Pyomo MILP solved with HiGHS (pipelined timing: a convex MINLP solved with SCIP)",
            warm_start=True,
            memories=frozenset({SingleModelMemory.name, CapacityMemory.name}),
            batching=True,
            precheck="partialloading.solvers.milp:precheck",
            servers="partialloading.solvers.servers.milp:solve",
        ),
        Method(
            "cpsat",
            "partialloading.solvers.cpsat:solve",
            True,
            "OR-Tools CP-SAT model",
            timings=frozenset({"frame"}),
            timing_note="its integer model has no bandwidth variables (use milp or enumerate)",
            warm_start=True,
            memory_needs=PAIRWISE_ONLY,
        ),
        Method(
            "bnb",
            "partialloading.solvers.bnb:solve",
            True,
            "branch-and-bound over model visits with knapsack bounds per deadline level",
            timings=frozenset({"frame"}),
            timing_note="its labels are the frame schedule's arithmetic (use milp or enumerate)",
            warm_start=True,
            memory_needs=PAIRWISE_ONLY,
            batching=True,
            case="partialloading.solvers.bnb:why_not",
            warm_up="partialloading.solvers.bnb.backend:warm_compiled",
        ),
        Method(
            "dp",
            "partialloading.solvers.dp:solve",
            True,
            "exact DP, backbone sharing and one deadline",
            timings=frozenset({"frame"}),
            timing_note=(
                "with pipelined uploads the served set's total time no longer decides feasibility "
                "(each request waits for its own upload), so the DP is not exact (use milp or greedy)"
            ),
            memory_needs=PAIRWISE_ONLY,
            case="partialloading.solvers.dp:why_not_exact",
        ),
        Method(
            "benders",
            "partialloading.solvers.servers.benders:solve_one",
            True,
            "logic-based Benders over the servers: an assignment MILP, each server's exact schedule as subproblem",
            warm_start=True,
            batching=True,
            servers="partialloading.solvers.servers.benders:solve",
        ),
        Method(
            "greedy",
            "partialloading.solvers.greedy:solve",
            False,
            "sharing-aware greedy + local search",
            batching=True,
            servers="partialloading.solvers.servers.assign:greedy",
        ),
        Method(
            "edf",
            "partialloading.solvers.edf:solve",
            False,
            "earliest-deadline-first baseline",
            batching=True,
            servers="partialloading.solvers.servers.assign:edf",
        ),
        Method(
            "fifo",
            "partialloading.solvers.fifo:solve",
            False,
            "first-in-first-out baseline (instance order)",
            batching=True,
            servers="partialloading.solvers.servers.assign:fifo",
        ),
    )
}
"""Every method :func:`partialloading.solve` knows, by name."""

METHOD_NAMES: tuple[str, ...] = ("auto", *METHODS)
"""Valid values of ``method`` (``"auto"`` chooses among the methods that apply)."""
