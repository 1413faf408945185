"""One entry point for every method: :func:`solve`.

Each method lives in its own module under ``partialloading.solvers`` and exposes a backend
function ``solve(instance, *, sharing, time_limit, seed, **options) -> SolverOutput`` returning
the order of the admitted users, a status and (for exact methods) a bound. This module times the
backend, rebuilds the :class:`Solution` from the order (so the objective is always recomputed
from the instance), refuses infeasible output and wraps everything in a :class:`Result`.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .errors import MethodNotApplicableError, SolverError
from .instance import Instance
from .result import Result, Status
from .solution import Solution


@dataclass(frozen=True)
class SolverOutput:
    """What a backend returns to :func:`solve`.

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
    """

    order: Sequence[int]
    status: Status
    bound: float | None = None
    info: dict[str, Any] = field(default_factory=dict)


class Backend(Protocol):
    """Signature of a method's backend function."""

    def __call__(
        self, instance: Instance, *, sharing: bool, time_limit: float | None, seed: int, **options: Any
    ) -> SolverOutput: ...


@dataclass(frozen=True)
class Method:
    """A registered method.

    Attributes
    ----------
    name
        Name used by :func:`solve` and ``--method``.
    target
        ``"module:function"`` of the backend, imported on first use (so that, e.g., Pyomo is
        imported only when the MILP is used).
    exact
        Whether the method proves optimality when it finishes.
    summary
        One line for ``--help`` and the docs.
    """

    name: str
    target: str
    exact: bool
    summary: str

    def load(self) -> Backend:
        """Import and return the backend function."""
        module, _, func = self.target.partition(":")
        backend: Backend = getattr(importlib.import_module(module), func)
        return backend


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("enumerate", "partialloading.solvers.enumeration:solve", True, "exhaustive search, tiny instances"),
        Method("milp", "partialloading.solvers.milp:solve", True, "Pyomo MILP solved with HiGHS"),
        Method("cpsat", "partialloading.solvers.cpsat:solve", True, "OR-Tools CP-SAT model"),
        Method("dp", "partialloading.solvers.dp:solve", True, "exact DP, backbone sharing and one deadline"),
        Method("greedy", "partialloading.solvers.greedy:solve", False, "sharing-aware greedy + local search"),
        Method("edf", "partialloading.solvers.edf:solve", False, "earliest-deadline-first baseline"),
    )
}
"""Every method :func:`solve` knows, by name."""

METHOD_NAMES: tuple[str, ...] = ("auto", *METHODS)

ENUMERATE_AUTO_MAX_USERS = 8
"""``auto`` uses exhaustive search up to this many users when the DP does not apply."""


def choose_method(instance: Instance, sharing: bool = True) -> str:
    """The method ``auto`` uses: the exact DP where it applies, enumeration on tiny instances,
    otherwise the greedy heuristic."""
    from .solvers.dp import why_not_exact

    if why_not_exact(instance, sharing) is None:
        return "dp"
    if instance.num_users <= ENUMERATE_AUTO_MAX_USERS:
        return "enumerate"
    return "greedy"


def solve(
    instance: Instance,
    method: str = "auto",
    *,
    sharing: bool = True,
    time_limit: float | None = None,
    seed: int = 0,
    **options: Any,
) -> Result:
    """Solve ``instance`` with ``method``.

    Parameters
    ----------
    instance
        The instance to solve.
    method
        One of :data:`METHOD_NAMES`; ``"auto"`` picks with :func:`choose_method`.
    sharing
        Schedule and evaluate with parameter sharing (``False``: whole models are loaded on
        every switch, the baseline of the seed paper).
    time_limit
        Wall-clock limit in seconds for methods that search (``None``: no limit).
    seed
        Seed of randomized methods; the same instance, method and seed give the same result.
    **options
        Method-specific options (e.g. ``solver="highs"`` or ``formulation="compact"`` for the MILP).

    Returns
    -------
    Result
        Status, objective, bound, runtime and the solution.

    Raises
    ------
    MethodNotApplicableError
        Unknown method, or a method asked to solve an instance outside its exact case.
    SolverError
        The backend failed or returned a schedule that misses a deadline.
    """
    if time_limit is not None and not time_limit > 0:
        raise MethodNotApplicableError(f"time limit must be positive (got {time_limit})")
    name = choose_method(instance, sharing) if method == "auto" else method
    if name not in METHODS:
        raise MethodNotApplicableError(f"unknown method {method!r} (choose from {', '.join(METHOD_NAMES)})")
    backend = METHODS[name].load()
    started = time.perf_counter()
    out = backend(instance, sharing=sharing, time_limit=time_limit, seed=seed, **options)
    runtime = time.perf_counter() - started
    try:
        solution = Solution(instance, tuple(out.order), sharing)
        feasible = solution.feasible
    except (IndexError, ValueError) as exc:
        raise SolverError(f"method {name!r} returned an invalid order: {exc}") from None
    if not feasible:
        late = [solution.admitted[q] for q, ok in enumerate(solution.timeline.on_time) if not ok]
        raise SolverError(f"method {name!r} returned a schedule in which {', '.join(late[:5])} miss their deadline")
    info = dict(out.info)
    if method == "auto":
        info["chosen_by"] = "auto"
    return Result(method=name, status=out.status, solution=solution, bound=out.bound, runtime=runtime, info=info)
