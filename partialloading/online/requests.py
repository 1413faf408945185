"""The requests of a workload: one dataclass, and the request table (CSV) read and written.

A request table has the columns of :data:`CSV_COLUMNS`::

    id,model,arrival_s,data_bits,spectral_efficiency,snr_db,relative_deadline_s,weight,infer_time_s
    r0,birds,0.0125,1.2e6,,12.5,0.25,1,

A request gives exactly one of ``spectral_efficiency`` and ``snr_db`` (an empty CSV cell is
absent), or, with several servers, ``links`` (``SERVER:snr=DB`` or ``SERVER:se=BITS_PER_HZ`` per
server it reaches, separated by ``;``); ``weight`` defaults to 1; ``infer_time_s``, the request's
own inference time, defaults to its model's. A bad cell names the line and the column.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from partialloading.errors import FieldError, InstanceError
from partialloading.instance import Link, User, check_identifier, check_number

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
    "links",
)
"""Columns of a request table, in the order the writer uses (``links`` only with several
servers: ``SERVER:snr=DB`` or ``SERVER:se=BITS_PER_HZ`` per server, separated by ``;``)."""

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
    links
        With several servers, the servers the request reaches, each with its link's radio (then
        without ``spectral_efficiency`` and ``snr_db``); ``None``: every server.
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
    links: tuple[Link, ...] | None = None

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
            links=self.links,
        )

    def link(self, server: str) -> Link | None:
        """The request's link to ``server`` (``None``: it has no links, its radio holds everywhere)."""
        return None if self.links is None else next((li for li in self.links if li.server == server), None)

    def user_on(self, server: str, deadline_s: float) -> User:
        """The request as a user of ``server``'s static instance: its link's radio, no links."""
        link = self.link(server)
        user = self.user(deadline_s)
        if link is None:
            return user
        return dataclasses.replace(user, links=None, spectral_efficiency=link.spectral_efficiency, snr_db=link.snr_db)

    def reaches(self, server: str) -> bool:
        """Whether the request can be sent to ``server``."""
        return self.links is None or any(li.server == server for li in self.links)


# ---------------------------------------------------------------------------- reading
def request_from_values(values: Mapping[str, Any], where: str) -> Request:
    missing = [k for k in _REQUIRED if k not in values]
    if missing:
        raise InstanceError(where, f"missing key {missing[0]!r}")
    unknown = sorted(set(values) - set(CSV_COLUMNS))
    if unknown:
        raise InstanceError(where, f"unknown key {unknown[0]!r}")
    try:
        links = values.get("links")
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
            links=None if links is None else _links(links),
        )
    except FieldError as exc:
        raise InstanceError(f"{where}.{exc.field}" if where else exc.field, exc.problem) from None


def _links(value: Any) -> tuple[Link, ...]:
    """A request's links from JSON (a list of objects) or a table cell (``S:snr=12;T:se=2``)."""
    if isinstance(value, str):
        return tuple(_cell_link(pos, part) for pos, part in enumerate(value.split(";")) if part.strip())
    if not isinstance(value, list):
        raise FieldError("links", f"must be a list of links (got {json.dumps(value)[:40]})")
    links = []
    for j, item in enumerate(value):
        if (
            not isinstance(item, dict)
            or "server" not in item
            or set(item) - {"server", "snr_db", "spectral_efficiency"}
        ):
            raise FieldError(f"links[{j}]", "must be an object with server and spectral_efficiency or snr_db")
        try:
            links.append(Link(item["server"], item.get("spectral_efficiency"), item.get("snr_db")))
        except FieldError as exc:
            raise FieldError(f"links[{j}].{exc.field}", exc.problem) from None
    return tuple(links)


def _cell_link(pos: int, text: str) -> Link:
    server, _, radio = text.strip().partition(":")
    kind, _, number = radio.partition("=")
    if kind.strip() not in ("snr", "se") or not server.strip():
        raise FieldError(f"links[{pos}]", f"must read SERVER:snr=DB or SERVER:se=BITS_PER_HZ (got {text.strip()!r})")
    try:
        value = _number_cell(number.strip())
    except ValueError:
        raise FieldError(f"links[{pos}]", f"must end in a number (got {text.strip()!r})") from None
    try:
        if kind.strip() == "snr":
            return Link(server.strip(), snr_db=value)
        return Link(server.strip(), spectral_efficiency=value)
    except FieldError as exc:
        raise FieldError(f"links[{pos}].{exc.field}", exc.problem) from None


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
                if column in ("id", "model", "links"):
                    values[column] = cell
                    continue
                try:
                    values[column] = _number_cell(cell)
                except ValueError:
                    raise InstanceError(
                        f"line {line}, column {column}", f"must be a number (got {cell!r})", source
                    ) from None
            try:
                request = request_from_values(values, "")
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
    links = "" if r.links is None else ";".join(_link_cell(link) for link in r.links)
    return [r.id, r.model, *map(_cell, fields), links]


def _link_cell(link: Link) -> str:
    if link.spectral_efficiency is not None:
        return f"{link.server}:se={_cell(link.spectral_efficiency)}"
    return f"{link.server}:snr={_cell(link.snr_db)}"


def request_to_dict(r: Request) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": r.id, "model": r.model, "arrival_s": r.arrival_s, "data_bits": r.data_bits}
    if r.spectral_efficiency is not None:
        doc["spectral_efficiency"] = r.spectral_efficiency
    elif r.snr_db is not None:
        doc["snr_db"] = r.snr_db
    doc["relative_deadline_s"] = r.relative_deadline_s
    doc["weight"] = r.weight
    if r.infer_time_s is not None:
        doc["infer_time_s"] = r.infer_time_s
    if r.links is not None:
        doc["links"] = [
            {
                "server": li.server,
                **({"snr_db": li.snr_db} if li.snr_db is not None else {"spectral_efficiency": li.spectral_efficiency}),
            }
            for li in r.links
        ]
    return doc


def dumps_requests_csv(requests: Iterable[Request]) -> str:
    """The request table as CSV text (the ``infer_time_s`` column only when a request has one)."""
    requests = list(requests)
    if any(r.links is not None for r in requests):
        width = len(CSV_COLUMNS)
    else:
        width = len(CSV_COLUMNS) - 1 if any(r.infer_time_s is not None for r in requests) else len(CSV_COLUMNS) - 2
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS[:width])
    writer.writerows(_request_row(r)[:width] for r in requests)
    return out.getvalue()
