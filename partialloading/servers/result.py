"""The outcome of solving an instance with several servers, and its solution file.

The file is the one-server solution document with one key more per entry (``server``) and a
``servers`` list (each server's upload end and served weight): each server's entries, in its
service order, are those of its own one-server schedule, and a user's ``bandwidth_hz`` is a
share of its server's band. A one-server instance writes the one-server document unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from partialloading.errors import SolutionError
from partialloading.network import Network
from partialloading.result import (
    Reporting,
    Status,
    bandwidth_entries,
    document_header,
    document_info,
    plain_number,
    schedule_entries,
    solution_from_entries,
    status_of,
)
from partialloading.solution_io import check_solution_structure

from .solution import NetworkSolution

__all__ = ["NetworkResult"]


@dataclass(frozen=True)
class NetworkResult(Reporting):
    """The result of :func:`partialloading.solve` on a :class:`~partialloading.network.Network`.

    Attributes
    ----------
    method, status, bound, runtime, info
        As a :class:`~partialloading.result.Result`'s.
    solution
        Each server's schedule.
    """

    method: str
    status: Status
    solution: NetworkSolution
    bound: float | None
    runtime: float
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The solution document (version 1): entries carry ``server``."""
        sol = self.solution
        network = sol.network
        schedule: list[dict[str, Any]] = []
        bandwidth: dict[str, float] = {}
        servers: list[dict[str, Any]] = []
        for server, part in zip(network.servers, sol.parts, strict=True):
            schedule.extend({**entry, "server": server.id} for entry in schedule_entries(part))
            bandwidth.update(bandwidth_entries(part))
            ends = float(part.timeline.upload_end)
            servers.append({"id": server.id, "upload_end_s": ends, "objective": plain_number(part.objective)})
        return {
            **document_header(self, network.name, network.timing, sol.sharing),
            "upload_end_s": max((float(s["upload_end_s"]) for s in servers), default=0.0),
            "servers": servers,
            "schedule": schedule,
            "bandwidth_hz": bandwidth,
            "rejected": list(sol.rejected),
            **document_info(self.info),
        }

    @classmethod
    def from_dict(cls, network: Network, doc: Mapping[str, Any], source: str | None = None) -> NetworkResult:
        """The result a solution document describes, re-evaluated from ``network`` (an entry
        without ``server`` is on the first server when there is one).

        Raises
        ------
        SolutionError
            The document is malformed, an entry names an unknown server or user, a user the
            server cannot serve, or a user twice.
        """
        check_solution_structure(doc, source)
        where = f"{source}: " if source else ""
        if doc.get("timing", network.timing) != network.timing:
            raise SolutionError(f"{where}timing: the instance's timing is {network.timing!r}")
        entries: list[list[tuple[int, Mapping[str, Any]]]] = [[] for _ in network.servers]
        for q, entry in enumerate(doc["schedule"]):
            sid = entry.get("server")
            if sid is None and network.num_servers > 1:
                raise SolutionError(f"{where}schedule[{q}].server: missing (the instance has several servers)")
            n = 0 if sid is None else network.server_index.get(sid)
            if n is None:
                raise SolutionError(f"{where}schedule[{q}].server: unknown server {sid!r}")
            k = network.user_index.get(entry["user"])
            if k is not None and n not in network.servers_of[k]:
                raise SolutionError(
                    f"{where}schedule[{q}].server: user {entry['user']!r} cannot be served by server {sid!r}"
                )
            entries[n].append((q, entry))
        sharing = bool(doc["sharing"])
        parts = tuple(
            solution_from_entries(network.server_instance(n), sharing, e, where) for n, e in enumerate(entries)
        )
        try:
            solution = NetworkSolution(network, parts)
        except SolutionError as exc:
            raise SolutionError(f"{where}schedule: {exc}") from None
        bound = None if doc["bound"] is None else float(doc["bound"])
        return cls(
            doc["method"], status_of(doc, where), solution, bound, float(doc["runtime_s"]), dict(doc.get("info", {}))
        )
