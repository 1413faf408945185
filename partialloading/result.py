"""The outcome of a solve: status, objective, bound, runtime and the solution."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from .errors import InstanceError, SolutionError
from .instance import Instance
from .io import FORMAT_VERSION, SOLUTION_FORMAT, write_text_atomic
from .memory import memory_of
from .solution import Solution
from .solution_io import batch_numbers, check_solution_structure


class Status(StrEnum):
    """How good a result is known to be."""

    OPTIMAL = "optimal"
    """Proven optimal (exact method finished)."""
    FEASIBLE = "feasible"
    """A valid schedule, not proven optimal (heuristic, or exact method stopped early)."""
    TIME_LIMIT = "time_limit"
    """Stopped at the time limit with nothing better than the empty schedule."""


class Scheduled(Protocol):
    """What a result reports from its schedule (one server's or several)."""

    @property
    def objective(self) -> float: ...

    @property
    def sharing(self) -> bool: ...


class Reporting:
    """What every result reports from its fields (a one-server :class:`Result` and a
    several-server :class:`~partialloading.servers.NetworkResult`)."""

    method: str
    status: Status
    solution: Scheduled
    bound: float | None
    runtime: float
    info: dict[str, Any]

    @property
    def objective(self) -> float:
        """Objective of the solution (total weight served)."""
        return self.solution.objective

    @property
    def gap(self) -> float | None:
        """Relative optimality gap ``(bound − objective) / bound`` (0 when both are 0)."""
        if self.bound is None:
            return None
        if self.bound <= 0:
            return 0.0
        return max(self.bound - self.objective, 0.0) / self.bound

    @property
    def sharing(self) -> bool:
        """Whether the schedule reuses blocks already in GPU memory."""
        return self.solution.sharing

    def to_dict(self) -> dict[str, Any]:
        """The solution document (version 1)."""
        raise NotImplementedError

    def dumps(self, indent: int | None = 2) -> str:
        """The solution document as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False) + "\n"

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write the solution document to ``path`` (atomically)."""
        write_text_atomic(path, self.dumps())


@dataclass(frozen=True)
class Result(Reporting):
    """The result of :func:`partialloading.solve`.

    Attributes
    ----------
    method
        The method that produced the result (``auto`` is resolved to the method it chose).
    status
        See :class:`Status`.
    solution
        The schedule; it recomputes its own objective and timeline.
    bound
        Best proven upper bound on the objective, or ``None`` when the method has none.
    runtime
        Wall-clock seconds spent in the method.
    info
        Method-specific statistics (nodes, iterations, formulation, ...), JSON-serializable.
    """

    method: str
    status: Status
    solution: Solution
    bound: float | None
    runtime: float
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The solution document (version 1) of this result."""
        sol = self.solution
        inst = sol.instance
        return {
            **document_header(self, inst.name, inst.timing, sol.sharing),
            "upload_end_s": sol.timeline.upload_end,
            "schedule": schedule_entries(sol),
            "bandwidth_hz": bandwidth_entries(sol),
            "rejected": list(sol.rejected),
            **document_info(self.info),
        }

    @classmethod
    def from_dict(cls, instance: Instance, doc: Mapping[str, Any], source: str | None = None) -> Result:
        """The result a solution document describes (the inverse of :meth:`to_dict`).

        The schedule is rebuilt from the user ids and re-evaluated from ``instance``; whether
        the document's times are right is the verifier's question, not this reader's.

        Raises
        ------
        SolutionError
            The document is malformed, names users the instance does not have, lists a user
            twice, or its status is unknown.
        """
        check_solution_structure(doc, source)
        where = f"{source}: " if source else ""
        timing = doc.get("timing", instance.timing)
        if timing != instance.timing:
            try:
                instance = dataclasses.replace(instance, timing=timing)
            except InstanceError as exc:
                raise SolutionError(f"{where}timing: {exc.problem}") from None
        status = status_of(doc, where)
        solution = solution_from_entries(instance, bool(doc["sharing"]), list(enumerate(doc["schedule"])), where)
        bound = None if doc["bound"] is None else float(doc["bound"])
        info = dict(doc.get("info", {}))
        return cls(doc["method"], status, solution, bound, float(doc["runtime_s"]), info)


def document_header(result: Reporting, name: str, timing: str, sharing: bool) -> dict[str, Any]:
    """The first keys of a solution document, up to ``runtime_s``."""
    return {
        "format": SOLUTION_FORMAT,
        "version": FORMAT_VERSION,
        "instance": name,
        "timing": timing,
        "method": result.method,
        "sharing": sharing,
        "status": result.status.value,
        "objective": plain_number(result.objective),
        "bound": None if result.bound is None else plain_number(result.bound),
        "runtime_s": result.runtime,
    }


def document_info(info: Mapping[str, Any]) -> dict[str, Any]:
    """The ``info`` key of a solution document: an interrupted search says so in the file it
    wrote (status feasible); nothing otherwise."""
    return {"info": {"interrupted": True}} if info.get("interrupted") else {}


def schedule_entries(sol: Solution) -> list[dict[str, Any]]:
    """The ``schedule`` entries of a one-server solution, in service order."""
    inst = sol.instance
    tl = sol.timeline
    # Evictions are decisions only where the memory keeps several models' blocks.
    evicted = sol.evicted_ids if memory_of(inst).evictions_in_files else None
    schedule = []
    for q, k in enumerate(sol.order):
        user = inst.users[k]
        entry: dict[str, Any] = {
            "user": user.id,
            "model": user.model,
            "load_s": float(tl.load[q]),
            "start_s": float(tl.start[q]),
            "upload_end_s": float(tl.upload_ends[q]),
            "infer_start_s": float(tl.infer_start[q]),
            "finish_s": float(tl.finish[q]),
            "deadline_s": user.deadline_s,
        }
        if evicted is not None:
            entry["evicted"] = list(evicted[q])
        if sol.batch is not None:
            entry["batch"] = sol.batch[q]
        schedule.append(entry)
    return schedule


def bandwidth_entries(sol: Solution) -> dict[str, float]:
    """The ``bandwidth_hz`` map of a one-server solution (user id to Hz)."""
    return {sol.instance.users[k].id: float(b) for k, b in zip(sol.order, sol.bandwidth, strict=True)}


def solution_from_entries(
    instance: Instance, sharing: bool, entries: Sequence[tuple[int, Mapping[str, Any]]], where: str
) -> Solution:
    """The schedule of ``entries`` (each with its position in the document's ``schedule``) on
    ``instance``, re-evaluated from it.

    Raises
    ------
    SolutionError
        An entry names a user the instance does not have, or a user twice.
    """
    for q, entry in entries:
        if entry["user"] not in instance.user_index:
            uid = entry["user"]
            raise SolutionError(f"{where}schedule[{q}].user: unknown user {uid!r} of instance {instance.name!r}")
    users = [entry["user"] for _, entry in entries]
    if len(set(users)) != len(users):
        raise SolutionError(f"{where}schedule: lists a user twice")
    order = tuple(instance.user_index[u] for u in users)
    schedule = [entry for _, entry in entries]
    batch = batch_numbers(schedule, where)
    return Solution(instance, order, sharing, _evictions(instance, sharing, schedule, where), batch)


def status_of(doc: Mapping[str, Any], where: str) -> Status:
    """The ``status`` of a solution document, or a :class:`SolutionError` naming it."""
    try:
        return Status(doc["status"])
    except ValueError:
        known = ", ".join(s.value for s in Status)
        raise SolutionError(f"{where}status: unknown status {doc['status']!r} (known: {known})") from None


def _evictions(
    instance: Instance, sharing: bool, schedule: Sequence[Mapping[str, Any]], where: str
) -> tuple[tuple[int, ...] | None, ...] | None:
    """The ``evicted`` lists of a schedule as block indices (an entry without one: ``None``, the
    memory's default rule; no entry with one: ``None``)."""
    if not any("evicted" in entry for entry in schedule):
        return None
    blocks = (instance if sharing else instance.unshared()).block_index
    out: list[tuple[int, ...] | None] = []
    for q, entry in enumerate(schedule):
        if "evicted" not in entry:
            out.append(None)
            continue
        ids = []
        for b, block in enumerate(entry["evicted"]):
            if block not in blocks:
                raise SolutionError(f"{where}schedule[{q}].evicted[{b}]: unknown block {block!r}")
            ids.append(blocks[block])
        out.append(tuple(ids))
    return tuple(out)


def plain_number(value: float) -> float | int:
    # Unit-weight objectives are counts: write 3, not 3.0.
    return int(value) if float(value).is_integer() else float(value)
