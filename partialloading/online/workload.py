"""Workloads: a server and the requests that reach it over time (format ``partialloading/workload``).

A workload file holds the server part of an instance (``timing``, ``uplink``, ``server``,
``blocks``, ``models``) and either a ``requests`` list or ``requests_csv``, the name of a CSV
file (relative to the JSON file) with the same columns, for long traces::

    id,model,arrival_s,data_bits,spectral_efficiency,snr_db,relative_deadline_s,weight,infer_time_s
    r0,birds,0.0125,1.2e6,,12.5,0.25,1,

A request gives exactly one of ``spectral_efficiency`` and ``snr_db`` (an empty CSV cell is
absent); ``weight`` defaults to 1; ``infer_time_s``, the request's own inference time, defaults
to its model's. Its absolute deadline is ``arrival_s + relative_deadline_s``.
Every problem is reported with the file, the place (``requests[12].arrival_s``, or the CSV line
and column) and what is wrong.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from partialloading.errors import FieldError, InstanceError
from partialloading.instance import Instance, User, check_identifier, check_number
from partialloading.io import (
    check_schema,
    instance_from_dict,
    instance_to_dict,
    read_json_file,
    write_text_atomic,
)

WORKLOAD_FORMAT = "partialloading/workload"
CSV_COLUMNS = (
    "id",
    "model",
    "arrival_s",
    "data_bits",
    "spectral_efficiency",
    "snr_db",
    "relative_deadline_s",
    "weight",
    "infer_time_s",
)
"""Columns of a request table, in the order the writer uses."""

_REQUIRED = ("id", "model", "arrival_s", "data_bits", "relative_deadline_s")


@dataclass(frozen=True)
class Request:
    """One inference request of a workload.

    Parameters
    ----------
    id
        Unique identifier.
    model
        Id of the requested model.
    arrival_s
        Arrival time in seconds (from the start of the workload).
    data_bits
        Size of the input to upload, in bits.
    relative_deadline_s
        Deadline measured from the arrival.
    spectral_efficiency, snr_db
        Exactly one of the two, as for a :class:`~partialloading.User`.
    weight
        Value of serving the request.
    infer_time_s
        The request's own inference time in seconds (``None``: its model's).
    """

    id: str
    model: str
    arrival_s: float
    data_bits: float
    relative_deadline_s: float
    spectral_efficiency: float | None = None
    snr_db: float | None = None
    weight: float = 1
    infer_time_s: float | None = None

    def __post_init__(self) -> None:
        check_identifier("id", self.id)
        check_identifier("model", self.model)
        check_number("arrival_s", self.arrival_s, allow_zero=True)
        check_number("relative_deadline_s", self.relative_deadline_s)
        # The user checks of the remaining fields (exactly one radio field, positive values).
        self.user(self.relative_deadline_s)

    @property
    def deadline_s(self) -> float:
        """Absolute deadline."""
        return float(self.arrival_s) + float(self.relative_deadline_s)

    def user(self, deadline_s: float) -> User:
        """The request as a user of a static instance, with deadline ``deadline_s``."""
        return User(
            id=self.id,
            model=self.model,
            data_bits=self.data_bits,
            deadline_s=deadline_s,
            spectral_efficiency=self.spectral_efficiency,
            snr_db=self.snr_db,
            weight=self.weight,
            infer_time_s=self.infer_time_s,
        )


@dataclass(frozen=True)
class Workload:
    """A server and its requests; ids unique and every requested model known, checked once here.

    Parameters
    ----------
    server
        The server as an instance without users (blocks, models, uplink, loading speed, the
        model in GPU memory at time 0, the timing model, the name).
    requests
        The requests, in any order (the simulator serves them by arrival).
    """

    server: Instance
    requests: tuple[Request, ...]
    meta: Mapping[str, Any] = field(default_factory=dict)
    """Free-form, JSON-serializable provenance (the generator and its parameters)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "requests", tuple(self.requests))
        if self.server.users:
            raise InstanceError("users", "a workload's server has no users (the requests take their place)")
        models = self.server.model_index
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
            capacity = self.server.memory_bytes
            size = float(self.server.model_sizes[models[request.model]])
            if capacity is not None and size > float(capacity):
                raise InstanceError(
                    f"requests[{pos}].model",
                    f"model {request.model!r} ({size:g} bytes) does not fit in server.memory_bytes {float(capacity):g}",
                )

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
def _request(values: Mapping[str, Any], where: str) -> Request:
    missing = [k for k in _REQUIRED if k not in values]
    if missing:
        raise InstanceError(where, f"missing key {missing[0]!r}")
    unknown = sorted(set(values) - set(CSV_COLUMNS))
    if unknown:
        raise InstanceError(where, f"unknown key {unknown[0]!r}")
    try:
        return Request(
            id=values["id"],
            model=values["model"],
            arrival_s=values["arrival_s"],
            data_bits=values["data_bits"],
            relative_deadline_s=values["relative_deadline_s"],
            spectral_efficiency=values.get("spectral_efficiency"),
            snr_db=values.get("snr_db"),
            weight=values.get("weight", 1),
            infer_time_s=values.get("infer_time_s"),
        )
    except FieldError as exc:
        raise InstanceError(f"{where}.{exc.field}" if where else exc.field, exc.problem) from None


def _number_cell(text: str) -> float | int:
    try:
        return int(text)
    except ValueError:
        return float(text)  # may raise ValueError: the caller names the cell


def read_requests_csv(path: str | os.PathLike[str]) -> list[Request]:
    """Read a request table; a bad cell is an :class:`InstanceError` naming the line and column."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InstanceError("", f"cannot read the request table ({exc.strerror or exc})", source) from None
    except UnicodeDecodeError:
        raise InstanceError("", "the request table is not UTF-8 text", source) from None
    return parse_requests_csv(text, source)


def parse_requests_csv(text: str, source: str | None = None) -> list[Request]:
    """Parse the text of a request table (see :func:`read_requests_csv`)."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise InstanceError("", "the request table is empty (expected a header line)", source) from None
    except csv.Error as exc:
        raise InstanceError("line 1", f"not CSV ({exc})", source) from None
    header = [h.strip() for h in header]
    for column in _REQUIRED:
        if column not in header:
            raise InstanceError("line 1", f"missing column {column!r} (columns: {', '.join(CSV_COLUMNS)})", source)
    for column in header:
        if column not in CSV_COLUMNS:
            raise InstanceError("line 1", f"unknown column {column!r} (columns: {', '.join(CSV_COLUMNS)})", source)
    if len(set(header)) != len(header):
        raise InstanceError("line 1", "a column is named twice", source)
    requests: list[Request] = []
    seen: dict[str, int] = {}
    try:
        for row in reader:
            line = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise InstanceError(f"line {line}", f"{len(row)} cells, the header has {len(header)}", source)
            values: dict[str, Any] = {}
            for column, cell in zip(header, row, strict=True):
                cell = cell.strip()
                if not cell:
                    continue
                if column in ("id", "model"):
                    values[column] = cell
                    continue
                try:
                    values[column] = _number_cell(cell)
                except ValueError:
                    raise InstanceError(
                        f"line {line}, column {column}", f"must be a number (got {cell!r})", source
                    ) from None
            try:
                request = _request(values, "")
            except InstanceError as exc:
                column = exc.where or "row"
                if exc.problem.startswith("missing key"):
                    column = exc.problem.split("'")[1]
                    raise InstanceError(
                        f"line {line}, column {column}", "empty (a value is required)", source
                    ) from None
                raise InstanceError(f"line {line}, column {column}", exc.problem, source) from None
            if request.id in seen:
                raise InstanceError(
                    f"line {line}, column id",
                    f"duplicate request id {request.id!r} (first at line {seen[request.id]})",
                    source,
                )
            seen[request.id] = line
            requests.append(request)
    except csv.Error as exc:
        raise InstanceError(f"line {reader.line_num}", f"not CSV ({exc})", source) from None
    return requests


def workload_from_dict(data: Any, source: str | None = None, base: Path | None = None) -> Workload:
    """Build a :class:`Workload` from parsed JSON (``base``: the folder a ``requests_csv`` is relative to)."""
    try:
        check_schema(data, "workload-v1")
        if "requests" in data and "requests_csv" in data:
            raise InstanceError("requests_csv", "give either requests or requests_csv, not both")
        server_doc = {k: v for k, v in data.items() if k not in ("format", "meta", "requests", "requests_csv")}
        server_doc["format"] = "partialloading/instance"
        server = instance_from_dict({**server_doc, "users": []})
        if "requests" in data:
            requests = [
                _request(r, f"requests[{i}]") if isinstance(r, dict) else _not_object(i, r)
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
def _cell(x: float | None) -> str:
    # repr round-trips a float exactly; an int stays an int.
    if x is None:
        return ""
    return repr(float(x)) if isinstance(x, float) else str(x)


def _request_row(r: Request) -> list[str]:
    fields = (
        r.arrival_s,
        r.data_bits,
        r.spectral_efficiency,
        r.snr_db,
        r.relative_deadline_s,
        r.weight,
        r.infer_time_s,
    )
    return [r.id, r.model, *map(_cell, fields)]


def _request_dict(r: Request) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": r.id, "model": r.model, "arrival_s": r.arrival_s, "data_bits": r.data_bits}
    if r.spectral_efficiency is not None:
        doc["spectral_efficiency"] = r.spectral_efficiency
    else:
        doc["snr_db"] = r.snr_db
    doc["relative_deadline_s"] = r.relative_deadline_s
    doc["weight"] = r.weight
    if r.infer_time_s is not None:
        doc["infer_time_s"] = r.infer_time_s
    return doc


def workload_to_dict(workload: Workload, requests_csv: str | None = None) -> dict[str, Any]:
    """The JSON document of ``workload`` (with ``requests_csv`` naming the table instead of the list)."""
    doc = instance_to_dict(workload.server)
    doc.pop("users", None)
    doc.pop("meta", None)
    doc["format"] = WORKLOAD_FORMAT
    if workload.meta:
        doc["meta"] = dict(workload.meta)
    if requests_csv is None:
        doc["requests"] = [_request_dict(r) for r in workload.requests]
    else:
        doc["requests_csv"] = requests_csv
    return doc


def dumps_requests_csv(requests: Iterable[Request]) -> str:
    """The request table as CSV text (the ``infer_time_s`` column only when a request has one)."""
    requests = list(requests)
    width = len(CSV_COLUMNS) if any(r.infer_time_s is not None for r in requests) else len(CSV_COLUMNS) - 1
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS[:width])
    writer.writerows(_request_row(r)[:width] for r in requests)
    return out.getvalue()


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
