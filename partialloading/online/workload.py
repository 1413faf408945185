"""Workloads: the servers and the requests that reach them over time (format ``partialloading/workload``).

A workload file holds the server part of an instance (``timing``, ``uplink`` and ``server``, or
``servers``; ``blocks``, ``models``) and either a ``requests`` list or ``requests_csv``, the name
of a CSV file (relative to the JSON file) with the same columns, for long traces (the request
table of :mod:`partialloading.online.requests`). A request's absolute deadline is ``arrival_s +
relative_deadline_s``. Every problem is reported with the file, the place
(``requests[12].arrival_s``, or the CSV line and column) and what is wrong.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from partialloading.errors import InstanceError
from partialloading.instance import Instance, Server
from partialloading.io import (
    check_schema,
    instance_to_dict,
    network_to_dict,
    problem_from_dict,
    read_json_file,
    write_text_atomic,
)
from partialloading.network import Network

from .requests import Request, dumps_requests_csv, read_requests_csv, request_from_values, request_to_dict

WORKLOAD_FORMAT = "partialloading/workload"


@dataclass(frozen=True)
class Workload:
    """A server and its requests; ids unique and every requested model known, checked once here.

    Parameters
    ----------
    server
        The server as an instance without users (blocks, models, uplink, loading speed, the
        model in GPU memory at time 0, the timing model, the name), or the servers as a
        :class:`~partialloading.network.Network` without users.
    requests
        The requests, in any order (the simulator serves them by arrival).
    """

    server: Instance | Network
    requests: tuple[Request, ...]
    meta: Mapping[str, Any] = field(default_factory=dict)
    """Free-form, JSON-serializable provenance (the generator and its parameters)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "requests", tuple(self.requests))
        if self.server.users:
            raise InstanceError("users", "a workload's server has no users (the requests take their place)")
        servers = self.servers
        rooms = {s.id: math.inf if s.memory_bytes is None else float(s.memory_bytes) for s in servers}
        one = self.network.server_instance(0)
        models = one.model_index
        seen: dict[str, int] = {}
        for pos, request in enumerate(self.requests):
            if request.id in seen:
                raise InstanceError(
                    f"requests[{pos}].id",
                    f"duplicate request id {request.id!r} (first at requests[{seen[request.id]}])",
                )
            seen[request.id] = pos
            if request.model not in models:
                raise InstanceError(f"requests[{pos}].model", f"unknown model {request.model!r}")
            reached = self._check_links(pos, request, rooms)
            size = float(one.model_sizes[models[request.model]])
            room = max((rooms[s] for s in reached), default=0.0)
            if size > room:
                where = (
                    "server.memory_bytes"
                    if isinstance(self.server, Instance)
                    else "the memory of every server it reaches"
                )
                raise InstanceError(
                    f"requests[{pos}].model",
                    f"model {request.model!r} ({size:g} bytes) does not fit in {where} ({room:g} bytes)",
                )

    def _check_links(self, pos: int, request: Request, rooms: Mapping[str, float]) -> list[str]:
        """The servers ``request`` reaches, each link to a known server and no server twice."""
        if request.links is None:
            return list(rooms)
        if isinstance(self.server, Instance):
            raise InstanceError(f"requests[{pos}].links", "links name servers: only a workload with servers has them")
        reached: list[str] = []
        for j, link in enumerate(request.links):
            if link.server not in rooms:
                raise InstanceError(f"requests[{pos}].links[{j}].server", f"unknown server {link.server!r}")
            if link.server in reached:
                raise InstanceError(f"requests[{pos}].links[{j}].server", f"server {link.server!r} is linked twice")
            reached.append(link.server)
        return reached

    def with_memory(self, memory_bytes: float) -> Workload:
        """This workload with a GPU memory of ``memory_bytes`` on every server."""
        if isinstance(self.server, Instance):
            server: Instance | Network = dataclasses.replace(self.server, memory_bytes=float(memory_bytes))
        else:
            servers = tuple(dataclasses.replace(s, memory_bytes=float(memory_bytes)) for s in self.server.servers)
            server = dataclasses.replace(self.server, servers=servers)
        return dataclasses.replace(self, server=server)

    @property
    def network(self) -> Network:
        """The servers as a network (a one-server workload: a network of one server)."""
        if isinstance(self.server, Network):
            return self.server
        return self.__dict__.setdefault("_network", Network.from_instance(self.server))

    @property
    def servers(self) -> tuple[Server, ...]:
        """The servers."""
        return self.network.servers

    @property
    def batching(self) -> bool:
        """Whether some model serves batches."""
        return self.network.server_instance(0).batching

    @property
    def name(self) -> str:
        """The workload's name (the server's)."""
        return self.server.name

    @property
    def arrivals(self) -> npt.NDArray[np.float64]:
        """Arrival time of each request."""
        return np.array([r.arrival_s for r in self.requests], dtype=float)

    @property
    def deadlines(self) -> npt.NDArray[np.float64]:
        """Absolute deadline of each request."""
        return np.array([r.deadline_s for r in self.requests], dtype=float)


# ---------------------------------------------------------------------------- reading
def workload_from_dict(data: Any, source: str | None = None, base: Path | None = None) -> Workload:
    """Build a :class:`Workload` from parsed JSON (``base``: the folder a ``requests_csv`` is relative to)."""
    try:
        check_schema(data, "workload-v1")
        if "requests" in data and "requests_csv" in data:
            raise InstanceError("requests_csv", "give either requests or requests_csv, not both")
        server_doc = {k: v for k, v in data.items() if k not in ("format", "meta", "requests", "requests_csv")}
        server_doc["format"] = "partialloading/instance"
        server = problem_from_dict({**server_doc, "users": []})
        if "requests" in data:
            requests = [
                request_from_values(r, f"requests[{i}]") if isinstance(r, dict) else _not_object(i, r)
                for i, r in enumerate(data["requests"])
            ]
            return Workload(server, tuple(requests), data.get("meta", {}))
    except InstanceError as exc:
        raise exc.with_source(source) if source else exc from None
    table = (base or Path(".")) / data["requests_csv"]
    requests = read_requests_csv(table)
    try:
        return Workload(server, tuple(requests), data.get("meta", {}))
    except InstanceError as exc:
        # A reference problem (unknown model): name the CSV line.
        where = exc.where
        if where.startswith("requests["):
            index = int(where[len("requests[") : where.index("]")])
            where = f"request {requests[index].id!r}, column {where.split('.', 1)[1]}"
        raise InstanceError(where, exc.problem, str(table)) from None


def _not_object(index: int, value: object) -> Request:
    raise InstanceError(f"requests[{index}]", f"must be an object (got {json.dumps(value)[:40]})")


def read_workload(path: str | os.PathLike[str]) -> Workload:
    """Read a workload file (and its request table, if it names one).

    Raises
    ------
    InstanceError
        With the file, the place (JSON path, or CSV line and column) and what is wrong.
    """
    return workload_from_dict(read_json_file(path), str(path), Path(path).parent)


# ---------------------------------------------------------------------------- writing
def workload_to_dict(workload: Workload, requests_csv: str | None = None) -> dict[str, Any]:
    """The JSON document of ``workload`` (with ``requests_csv`` naming the table instead of the list)."""
    server = workload.server
    doc = instance_to_dict(server) if isinstance(server, Instance) else network_to_dict(server)
    doc.pop("users", None)
    doc.pop("meta", None)
    doc["format"] = WORKLOAD_FORMAT
    if workload.meta:
        doc["meta"] = dict(workload.meta)
    if requests_csv is None:
        doc["requests"] = [request_to_dict(r) for r in workload.requests]
    else:
        doc["requests_csv"] = requests_csv
    return doc


def write_workload(workload: Workload, path: str | os.PathLike[str], csv_table: bool | None = None) -> list[Path]:
    """Write ``workload`` to ``path``; with ``csv_table`` the requests go to ``STEM.requests.csv`` beside it.

    By default the table is a CSV file from 10,000 requests on. Returns the files written.
    """
    target = Path(path)
    table = len(workload.requests) >= 10_000 if csv_table is None else csv_table
    if not table:
        write_text_atomic(target, json.dumps(workload_to_dict(workload), indent=1) + "\n")
        return [target]
    csv_path = target.with_name(f"{target.stem}.requests.csv")
    write_text_atomic(csv_path, dumps_requests_csv(workload.requests))
    write_text_atomic(target, json.dumps(workload_to_dict(workload, csv_path.name), indent=1) + "\n")
    return [target, csv_path]
