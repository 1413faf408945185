"""One reader per trace layout, each streaming the file in chunks of arrival times (and keys and
token counts where the layout has them), every bad cell reported with its file, line and column:
the request traces (:func:`read_chunks`: ``azure-llm``, ``burstgpt`` and ``csv``, by their
columns) and the per-minute invocation counts of ``azure-functions``
(:func:`read_function_chunks`)."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from partialloading.scenarios import ScenarioError

from .trace_spec import COLUMNS, FUNCTION_KEYS, TraceError, TraceSpec

CHUNK_ROWS = 100_000
"""Rows read and written at a time."""


MINUTES = 1440
"""Per-minute columns of an Azure Functions 2019 invocation-count file."""


# ----------------------------------------------------------------------------- reading
@dataclass
class Chunk:
    """Standardized rows of a trace: time since the trace began, key, tokens, file line."""

    time: np.ndarray
    key: np.ndarray | None
    input: np.ndarray | None
    output: np.ndarray | None
    line: np.ndarray


def read_header(path: str) -> list[str]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            first = next(csv.reader(handle), None)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise TraceError("", f"cannot read the trace ({getattr(exc, 'strerror', None) or exc})", path) from None
    if not first:
        raise TraceError("line 1", "the trace is empty (expected a header line)", path)
    return [h.strip() for h in first]


def _require(path: str, header: Sequence[str], columns: Sequence[str], layout: str) -> None:
    for column in columns:
        if column not in header:
            raise TraceError("line 1", f"missing column {column!r} of the {layout} layout", path)


def _numbers(path: str, frame: pd.DataFrame, column: str, lines: np.ndarray, *, whole: bool) -> np.ndarray:
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values < 0)
    if whole:
        bad |= values != np.floor(values)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        kind = "a non-negative whole number" if whole else "a non-negative number"
        raise TraceError(
            f"line {int(lines[i])}, column {column}", f"must be {kind} (got {frame[column].iloc[i]!r})", path
        )
    return values


def _times(path: str, frame: pd.DataFrame, column: str, lines: np.ndarray, numeric: bool) -> np.ndarray:
    """Numbers of seconds, or date-times as integer nanoseconds (exact, for differences)."""
    raw = frame[column]
    if numeric:
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values)
    else:
        parsed = pd.to_datetime(raw, errors="coerce", format="ISO8601")
        bad = parsed.isna().to_numpy()
        values = parsed.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise TraceError(f"line {int(lines[i])}, column {column}", f"not a time (got {raw.iloc[i]!r})", path)
    return values


def _in_order(path: str, column: str, stamps: np.ndarray, lines: np.ndarray, last: Any) -> Any:
    """The last time of a chunk whose times do not decrease (nor start before ``last``, the
    previous chunk's), else a :class:`TraceError` naming the first line out of order: a request
    trace is read in one pass, and a row earlier than the one before it would land before the
    window and be lost."""
    if not stamps.size:
        return last
    before = np.concatenate(([stamps[0] if last is None else last], stamps[:-1]))
    back = np.flatnonzero(stamps < before)
    if back.size:
        i = int(back[0])
        raise TraceError(
            f"line {int(lines[i])}, column {column}",
            f"earlier than the row before it: the trace must be in time order (sort it by {column} first)",
            path,
        )
    return stamps[-1]


def read_chunks(spec: TraceSpec) -> Iterator[Chunk]:
    """The trace's requests, chunk by chunk, with times in seconds since its first request."""
    if spec.format == "azure-functions":
        yield from read_function_chunks(spec)
        return
    names = COLUMNS.get(spec.format, dict(spec.columns))
    header = read_header(spec.path)
    _require(spec.path, header, list(names.values()), spec.format)
    origin: Any = None
    last: Any = None
    numeric: bool | None = None
    first_line = 2
    try:
        reader = pd.read_csv(
            spec.path, usecols=list(dict.fromkeys(names.values())), dtype=str, chunksize=CHUNK_ROWS,
            keep_default_na=False, encoding="utf-8-sig",
        )  # fmt: skip
        for frame in reader:
            lines = np.arange(first_line, first_line + len(frame))
            first_line += len(frame)
            if numeric is None:
                numeric = bool(np.isfinite(pd.to_numeric(frame[names["time"]].head(1), errors="coerce")).all())
            stamps = _times(spec.path, frame, names["time"], lines, numeric)
            last = _in_order(spec.path, names["time"], stamps, lines, last)
            if origin is None and stamps.size:
                origin = stamps[0]
            time = (stamps - origin).astype(float) / (1.0 if numeric else 1e9) if stamps.size else np.zeros(0)
            key = frame[names["model"]].to_numpy(dtype=object) if "model" in names else None
            tokens_in = _numbers(spec.path, frame, names["input"], lines, whole=True) if "input" in names else None
            tokens_out = _numbers(spec.path, frame, names["output"], lines, whole=True) if "output" in names else None
            yield Chunk(time, key, tokens_in, tokens_out, lines)
    except TraceError:
        raise  # a bad cell, already named by its line and column
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise TraceError(
            f"line {first_line}", f"not CSV in the {spec.format} layout ({str(exc).splitlines()[0]})", spec.path
        ) from None


def read_function_chunks(spec: TraceSpec) -> Iterator[Chunk]:
    """Azure Functions 2019: one row per function with its invocations per minute; each minute's
    invocations arrive as a Poisson process given their count (uniform in the minute, seeded)."""
    header = read_header(spec.path)
    minutes = [str(m) for m in range(1, MINUTES + 1)]
    _require(spec.path, header, [*FUNCTION_KEYS.values(), "Trigger", *minutes[:1]], "azure-functions")
    # Only the minutes that overlap the window are read and expanded: a day of a busy function
    # is millions of invocations.
    end = math.inf if spec.duration_s is None else spec.start_s + spec.duration_s
    present = [m for m in minutes if m in header and (int(m) - 1) * 60.0 < end and int(m) * 60.0 > spec.start_s]
    if not present:
        raise ScenarioError(f"{spec.path}: no minute of the trace falls in the window (--start, --duration)")
    rng = np.random.default_rng(np.random.SeedSequence([spec.seed, 2019]))
    first_line = 2
    try:
        reader = pd.read_csv(
            spec.path, usecols=[FUNCTION_KEYS[spec.key], *present], dtype={FUNCTION_KEYS[spec.key]: str},
            chunksize=max(1, CHUNK_ROWS // 100), keep_default_na=False,
        )  # fmt: skip
        for frame in reader:
            lines = np.arange(first_line, first_line + len(frame))
            first_line += len(frame)
            counts = np.column_stack([_numbers(spec.path, frame, m, lines, whole=True) for m in present]).astype(
                np.int64
            )
            row, minute = np.nonzero(counts)
            n = counts[row, minute]
            row, minute = np.repeat(row, n), np.repeat(minute, n)
            time = (np.array([int(m) - 1 for m in present])[minute] + rng.uniform(0.0, 1.0, row.size)) * 60.0
            keys = frame[FUNCTION_KEYS[spec.key]].to_numpy(dtype=object)[row]
            yield Chunk(time, keys, None, None, lines[row])
    except TraceError:
        raise  # a bad cell, already named by its line and column
    except (pd.errors.ParserError, ValueError) as exc:
        raise TraceError(
            f"line {first_line}", f"not CSV in the azure-functions layout ({str(exc).splitlines()[0]})", spec.path
        ) from None


def window(spec: TraceSpec, chunk: Chunk) -> tuple[Chunk, int]:
    keep = chunk.time >= spec.start_s
    if spec.duration_s is not None:
        keep &= chunk.time < spec.start_s + spec.duration_s
    pick = np.flatnonzero(keep)

    def sub(a: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else a[pick]

    kept = Chunk(
        (chunk.time[pick] - spec.start_s) / spec.speed,
        sub(chunk.key),
        sub(chunk.input),
        sub(chunk.output),
        chunk.line[pick],
    )
    return kept, int(chunk.time.size)
