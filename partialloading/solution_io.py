"""Reading solution files (JSON, version 1): the syntax and the structure.

The reader checks the syntax and the structure (``schemas/solution-v1.json``), naming the file,
the JSON path and the problem; whether a solution keeps the model's rules is the independent
verifier's question (:mod:`partialloading.validation.verify`). The writer is
:meth:`partialloading.Result.to_dict` (and its several-server form), which writes every key in a
fixed order.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import SolutionError
from .io import FORMAT_VERSION, first_schema_error, json_path, schema_problem, wrong_kind


def _solution_error(source: str | None, where: str, problem: str) -> SolutionError:
    parts = [p for p in (source, where) if p]
    return SolutionError(": ".join([*parts, problem]))


def _finite(value: object) -> bool:
    try:
        return math.isfinite(value)  # type: ignore[arg-type]
    except (OverflowError, TypeError):  # an integer too large for a float
        return False


_SOLUTION_NUMBERS = ("objective", "bound", "runtime_s", "upload_end_s")
_ENTRY_NUMBERS = ("load_s", "start_s", "upload_end_s", "infer_start_s", "finish_s", "deadline_s")


def check_solution_structure(doc: Any, source: str | None = None) -> None:
    """Raise :class:`SolutionError` unless ``doc`` has the shape of a version-1 solution.

    The shape is ``schemas/solution-v1.json``; the message names ``source``, the JSON path and
    the problem (``schedule[1].start_s: missing key``).
    """
    if not isinstance(doc, Mapping):
        raise _solution_error(source, "", f"a solution must be a JSON object (got {type(doc).__name__})")
    kind = wrong_kind(doc, "solution-v1")
    if kind is not None:
        raise _solution_error(source, "format", kind)
    error = first_schema_error(doc, "solution-v1")
    if error is not None:
        where = json_path(error.absolute_path)
        if error.validator == "required":
            missing = next(k for k in error.validator_value if k not in error.instance)
            raise _solution_error(source, json_path([*error.absolute_path, missing]), "missing key")
        if error.validator == "additionalProperties" and error.validator_value is False:
            extra = sorted(k for k in error.instance if k not in error.schema.get("properties", {}))[0]
            raise _solution_error(source, json_path([*error.absolute_path, extra]), "unknown key")
        if error.validator == "const" and where == "version":
            raise _solution_error(
                source, where, f"unsupported version {error.instance!r} (this toolkit reads {FORMAT_VERSION})"
            )
        if error.validator == "minimum":
            raise _solution_error(source, where, f"must be non-negative (got {error.instance!r})")
        raise _solution_error(source, *schema_problem(error))
    # JSON integers beyond a float's range pass the schema's "number".
    for key in _SOLUTION_NUMBERS:
        if doc[key] is not None and not _finite(doc[key]):
            raise _solution_error(source, key, f"must be a finite number (got {doc[key]!r})")
    for q, entry in enumerate(doc["schedule"]):
        for key in _ENTRY_NUMBERS:
            if key in entry and not _finite(entry[key]):
                raise _solution_error(source, f"schedule[{q}].{key}", f"must be a finite number (got {entry[key]!r})")
    for user, value in doc["bandwidth_hz"].items():
        if not _finite(value):
            raise _solution_error(source, f"bandwidth_hz.{user}", f"must be a finite number (got {value!r})")


def parse_solution_text(text: str, source: str | None = None) -> dict[str, Any]:
    """Parse and structurally check a solution document.

    Raises
    ------
    SolutionError
        The text is not JSON or not shaped like a version-1 solution (message names ``source``
        and the JSON path).
    """
    if not text.strip():
        raise _solution_error(source, "", "the file is empty")

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for key, value in pairs:
            if key in obj:
                raise _solution_error(source, "", f"duplicate key {key!r} in a JSON object")
            obj[key] = value
        return obj

    try:
        # NaN and Infinity are read as numbers, so that the structure check names where they are.
        doc = json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        raise _solution_error(source, "", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise _solution_error(source, "", "invalid JSON: nested too deeply") from None
    check_solution_structure(doc, source)
    return dict(doc)


def batch_numbers(schedule: Sequence[Mapping[str, Any]], where: str = "") -> tuple[int, ...] | None:
    """The ``batch`` numbers of a solution document's schedule (``None`` when no entry has one:
    one request per batch); ``where`` prefixes the place of a mistake (``"FILE: "``)."""
    if not any("batch" in entry for entry in schedule):
        return None
    numbers = []
    for q, entry in enumerate(schedule):
        number = entry.get("batch")
        if not isinstance(number, int) or isinstance(number, bool):
            raise SolutionError(f"{where}schedule[{q}].batch: missing or not an integer (other entries have one)")
        numbers.append(number)
    return tuple(numbers)


def read_solution(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a solution file; every failure to read or parse it is a :class:`SolutionError`."""
    source = str(path)
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise _solution_error(source, "", f"cannot read the file ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise _solution_error(source, "", "the file is not UTF-8 text") from None
    return parse_solution_text(text, source)
