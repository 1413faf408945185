"""The outcome of a solve: status, objective, bound, runtime and the solution."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .errors import InstanceError, SolutionError
from .instance import Instance
from .io import FORMAT_VERSION, SOLUTION_FORMAT, batch_numbers, check_solution_structure, write_text_atomic
from .memory import memory_of
from .solution import Solution


class Status(StrEnum):
    """How good a result is known to be."""

    OPTIMAL = "optimal"
    """Proven optimal (exact method finished)."""
    FEASIBLE = "feasible"
    """A valid schedule, not proven optimal (heuristic, or exact method stopped early)."""
    TIME_LIMIT = "time_limit"
    """Stopped at the time limit with nothing better than the empty schedule."""


@dataclass(frozen=True)
class Result:
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

    def to_dict(self) -> dict[str, Any]:
        """The solution document (version 1) of this result."""
        sol = self.solution
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
        return {
            "format": SOLUTION_FORMAT,
            "version": FORMAT_VERSION,
            "instance": inst.name,
            "timing": inst.timing,
            "method": self.method,
            "sharing": sol.sharing,
            "status": self.status.value,
            "objective": _plain_number(self.objective),
            "bound": None if self.bound is None else _plain_number(self.bound),
            "runtime_s": self.runtime,
            "upload_end_s": tl.upload_end,
            "schedule": schedule,
            "bandwidth_hz": {inst.users[k].id: float(b) for k, b in zip(sol.order, sol.bandwidth, strict=True)},
            "rejected": list(sol.rejected),
            # An interrupted search says so in the file it wrote (status feasible).
            **({"info": {"interrupted": True}} if self.info.get("interrupted") else {}),
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
        users = [entry["user"] for entry in doc["schedule"]]
        for q, uid in enumerate(users):
            if uid not in instance.user_index:
                raise SolutionError(f"{where}schedule[{q}].user: unknown user {uid!r} of instance {instance.name!r}")
        if len(set(users)) != len(users):
            raise SolutionError(f"{where}schedule: lists a user twice")
        try:
            status = Status(doc["status"])
        except ValueError:
            known = ", ".join(s.value for s in Status)
            raise SolutionError(f"{where}status: unknown status {doc['status']!r} (known: {known})") from None
        sharing = bool(doc["sharing"])
        order = tuple(instance.user_index[u] for u in users)
        batch = batch_numbers(doc["schedule"], where)
        solution = Solution(instance, order, sharing, _evictions(instance, sharing, doc["schedule"], where), batch)
        bound = None if doc["bound"] is None else float(doc["bound"])
        info = dict(doc.get("info", {}))
        return cls(doc["method"], status, solution, bound, float(doc["runtime_s"]), info)

    def dumps(self, indent: int | None = 2) -> str:
        """The solution document as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False) + "\n"

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write the solution document to ``path`` (atomically)."""
        write_text_atomic(path, self.dumps())


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


def _plain_number(value: float) -> float | int:
    # Unit-weight objectives are counts: write 3, not 3.0.
    return int(value) if float(value).is_integer() else float(value)
