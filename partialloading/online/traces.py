"""Production request traces replayed as workloads (``workload FAMILY --from-trace FILE``).

A trace gives, per request, an arrival time and, depending on the trace, a key (a function, an
application, a model name) and token counts. :func:`replay_trace` turns it into an ordinary
workload (:mod:`partialloading.online.workload`): the server of a scenario family (or a model
catalog), and one request per trace request with

* **arrival** ``(t − start) / speed``, where ``t`` is the time since the trace's first request and
  only requests with ``start ≤ t < start + duration`` are kept (``speed`` 2 replays the window
  twice as fast);
* **model** by a mapping rule (:data:`MAPPINGS`): ``rank`` gives the most frequent key the first
  model of the server, the next key the next model (and wraps around), ``zipf:S`` gives keys, most
  frequent first, to the model furthest below a Zipf(S) share of the requests, ``hash`` hashes the
  key (or, in a trace without keys, the request's number) with the seed, and ``FILE`` reads a
  JSON object ``{"key": "model", ..., "*": "model for the rest"}``; ``auto`` (the default) is
  ``rank`` for a trace with keys and ``hash`` for one without;
* **input** ``max(1, prompt tokens) × bits_per_token`` bits when the trace has tokens, else an
  image as the families draw it (224×224 pixels at 0.75–2 bits per pixel, seeded);
* **inference time**, with tokens, ``overhead_s + prompt × prefill_s_per_token + generated ×
  decode_s_per_token`` of its model (the catalog's table, else :data:`DEFAULT_LATENCY` scaled by
  the model's size against :data:`DEFAULT_LATENCY_MODEL_BYTES`); without tokens, the model's own;
* **radio and deadline** as the family draws them for generated workloads: an SNR in its cell,
  and a relative deadline of ``slo × U(1 − spread, 1 + spread)`` times the request's isolated
  latency (its upload with the whole uplink, the full load of its model, its inference).

Reading streams the trace in chunks of :data:`CHUNK_ROWS` rows (pandas), writing the request
table as it goes, so memory does not grow with the trace; the mapping rules that need the keys'
popularity (``rank``, ``zipf``) read the trace twice. A bad cell is one line naming the file, the
line and the column, and nothing is written.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from partialloading.checkpoints.catalog import ModelCatalog
from partialloading.errors import InstanceError, PartialLoadingError
from partialloading.instance import Instance, spectral_efficiencies
from partialloading.io import instance_to_dict
from partialloading.output import check_output, write_file
from partialloading.scenarios import ScenarioError
from partialloading.scenarios.configs import CONFIGS, JPEG_BITS_PER_PIXEL, config
from partialloading.scenarios.configured import draw_snr_db, draw_users

from .arrivals import workload_server
from .workload import CSV_COLUMNS, WORKLOAD_FORMAT

TRACE_FORMATS = ("azure-llm", "azure-functions", "burstgpt", "csv")
"""The trace layouts :func:`replay_trace` reads."""

COLUMNS: dict[str, dict[str, str]] = {
    # The Azure LLM inference traces 2023/2024 (Splitwise): TIMESTAMP,ContextTokens,GeneratedTokens.
    "azure-llm": {"time": "TIMESTAMP", "input": "ContextTokens", "output": "GeneratedTokens"},
    # BurstGPT: Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type.
    "burstgpt": {"time": "Timestamp", "model": "Model", "input": "Request tokens", "output": "Response tokens"},
}
"""Which published column holds the time, the key, the prompt and the generated tokens."""

FUNCTION_KEYS = {"function": "HashFunction", "app": "HashApp", "owner": "HashOwner"}
"""The key of an Azure Functions 2019 row (``--key``): the function, its application or its owner."""

MAPPINGS = ("auto", "rank", "zipf", "hash", "file")
"""Rules that map a trace request to a model of the server (``zipf`` takes ``zipf:S``, ``file`` a
path; ``auto``: ``rank`` for a trace with keys, ``hash`` for one without)."""

CHUNK_ROWS = 100_000
"""Rows read and written at a time."""

MINUTES = 1440
"""Per-minute columns of an Azure Functions 2019 invocation-count file."""


@dataclass(frozen=True)
class LatencyModel:
    """Inference time of a request with tokens: ``overhead_s + p·prefill_s_per_token +
    g·decode_s_per_token`` for ``p`` prompt and ``g`` generated tokens."""

    overhead_s: float
    prefill_s_per_token: float
    decode_s_per_token: float

    def scaled(self, factor: float) -> LatencyModel:
        """The model for a network ``factor`` times as large (both phases scale with its size)."""
        return LatencyModel(self.overhead_s, self.prefill_s_per_token * factor, self.decode_s_per_token * factor)


DEFAULT_LATENCY = LatencyModel(overhead_s=0.0, prefill_s_per_token=9.0e-5, decode_s_per_token=1.112e-2)
"""A 7B-parameter model in 16-bit weights on one A100 80 GB, batch 1 (sources in ``docs/online.md``):
prefill 0.09 ms per prompt token (2 FLOPs per parameter and token at half of the A100's 312
TFLOP/s), decode 11.1 ms per generated token, fitted to NVIDIA's measured 234.0 ms for 128 prompt
and 20 generated tokens of Llama-2-7B (NeMo framework performance tables)."""

DEFAULT_LATENCY_MODEL_BYTES = 13.48e9
"""Size of the model :data:`DEFAULT_LATENCY` was measured on (Llama-2-7B: 6.74e9 parameters × 2 bytes);
models without a latency table get the default scaled by their size against it."""


class TraceError(InstanceError):
    """A trace file that cannot be read (the message names the file, the line and the column)."""


@dataclass(frozen=True)
class TraceSpec:
    """What to read from a trace and how to turn it into requests (see the module docstring).

    Parameters
    ----------
    path, format
        The trace file and its layout (:data:`TRACE_FORMATS`).
    columns
        For ``format="csv"``: the columns of ``time`` (seconds, or date-times), and optionally
        ``model`` (the key), ``input`` and ``output`` (prompt and generated tokens).
    key
        For ``azure-functions``: ``function``, ``app`` or ``owner`` (:data:`FUNCTION_KEYS`).
    mapping
        ``auto`` (``rank`` with keys, else ``hash``), ``rank``, ``zipf:S``, ``hash`` or a mapping
        file's path.
    start_s, duration_s, speed
        The window of the trace kept (seconds from its first request; ``None``: to the end) and
        how much faster than recorded it is replayed.
    bits_per_token
        Input bits per prompt token (default: the family's ``token_bits``).
    slo, spread, seed
        Deadlines as for generated workloads, and the seed of every draw.
    """

    path: str
    format: str
    columns: Mapping[str, str] = field(default_factory=dict)
    key: str = "function"
    mapping: str = "auto"
    start_s: float = 0.0
    duration_s: float | None = None
    speed: float = 1.0
    bits_per_token: float | None = None
    slo: float = 3.0
    spread: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        if self.format not in TRACE_FORMATS:
            raise ScenarioError(f"--format must be one of {', '.join(TRACE_FORMATS)} (got {self.format!r})")
        checks = [
            (self.start_s, "--start", lambda x: x >= 0),
            (self.speed, "--speed", lambda x: x > 0),
            (self.slo, "--slo", lambda x: x > 0),
            (self.spread, "--spread", lambda x: 0 <= x < 1),
        ]
        if self.duration_s is not None:
            checks.append((self.duration_s, "--duration", lambda x: x > 0))
        if self.bits_per_token is not None:
            checks.append((self.bits_per_token, "--bits-per-token", lambda x: x > 0))
        for value, name, ok in checks:
            if not (isinstance(value, int | float) and math.isfinite(value) and ok(value)):
                raise ScenarioError(f"{name}: out of range (got {value!r})")
        if self.format == "csv" and "time" not in self.columns:
            raise ScenarioError("--format csv needs --columns time=COLUMN[,model=COLUMN,input=COLUMN,output=COLUMN]")
        if self.format != "csv" and self.columns:
            raise ScenarioError("--columns applies to --format csv only")
        unknown = sorted(set(self.columns) - {"time", "model", "input", "output"})
        if unknown:
            raise ScenarioError(f"--columns: unknown field {unknown[0]!r} (fields: time, model, input, output)")
        if self.key not in FUNCTION_KEYS:
            raise ScenarioError(f"--key must be one of {', '.join(FUNCTION_KEYS)} (got {self.key!r})")
        rule, _, arg = self.mapping.partition(":")
        if rule == "zipf":
            try:
                float(arg)
            except ValueError:
                raise ScenarioError(f"--map zipf:S needs a number S (got {self.mapping!r})") from None
        elif self.mapping not in ("auto", "rank", "hash") and not Path(self.mapping).is_file():
            raise ScenarioError(f"--map must be auto, rank, zipf:S, hash or a mapping file (no file {self.mapping!r})")

    @property
    def keyed(self) -> bool:
        """Whether the trace's requests have keys (a function, an application, a model name)."""
        return self.format in ("azure-functions", "burstgpt") or (self.format == "csv" and "model" in self.columns)


@dataclass(frozen=True)
class TraceReplay:
    """What :func:`replay_trace` wrote: the files, and the requests by model."""

    written: tuple[Path, ...]
    rows: int
    requests: int
    per_model: dict[str, int]
    span_s: float


# ----------------------------------------------------------------------------- reading
@dataclass
class _Chunk:
    """Standardized rows of a trace: time since the trace began, key, tokens, file line."""

    time: np.ndarray
    key: np.ndarray | None
    input: np.ndarray | None
    output: np.ndarray | None
    line: np.ndarray


def _header(path: str) -> list[str]:
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


def _chunks(spec: TraceSpec) -> Iterator[_Chunk]:
    """The trace's requests, chunk by chunk, with times in seconds since its first request."""
    if spec.format == "azure-functions":
        yield from _function_chunks(spec)
        return
    names = COLUMNS.get(spec.format, dict(spec.columns))
    header = _header(spec.path)
    _require(spec.path, header, list(names.values()), spec.format)
    origin: Any = None
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
            if origin is None and stamps.size:
                origin = stamps[0]
            time = (stamps - origin).astype(float) / (1.0 if numeric else 1e9) if stamps.size else np.zeros(0)
            key = frame[names["model"]].to_numpy(dtype=object) if "model" in names else None
            tokens_in = _numbers(spec.path, frame, names["input"], lines, whole=True) if "input" in names else None
            tokens_out = _numbers(spec.path, frame, names["output"], lines, whole=True) if "output" in names else None
            yield _Chunk(time, key, tokens_in, tokens_out, lines)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise TraceError(
            f"line {first_line}", f"not CSV in the {spec.format} layout ({str(exc).splitlines()[0]})", spec.path
        ) from None


def _function_chunks(spec: TraceSpec) -> Iterator[_Chunk]:
    """Azure Functions 2019: one row per function with its invocations per minute; each minute's
    invocations arrive as a Poisson process given their count (uniform in the minute, seeded)."""
    header = _header(spec.path)
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
            yield _Chunk(time, keys, None, None, lines[row])
    except (pd.errors.ParserError, ValueError) as exc:
        raise TraceError(
            f"line {first_line}", f"not CSV in the azure-functions layout ({str(exc).splitlines()[0]})", spec.path
        ) from None


def _window(spec: TraceSpec, chunk: _Chunk) -> tuple[_Chunk, int]:
    keep = chunk.time >= spec.start_s
    if spec.duration_s is not None:
        keep &= chunk.time < spec.start_s + spec.duration_s
    pick = np.flatnonzero(keep)

    def sub(a: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else a[pick]

    kept = _Chunk(
        (chunk.time[pick] - spec.start_s) / spec.speed,
        sub(chunk.key),
        sub(chunk.input),
        sub(chunk.output),
        chunk.line[pick],
    )
    return kept, int(chunk.time.size)


# ----------------------------------------------------------------------------- mapping
def _mapper(spec: TraceSpec, models: Sequence[str]) -> Callable[[_Chunk, int], np.ndarray]:
    """A function of a chunk (and the number of requests before it) to model indices."""
    rule, _, arg = spec.mapping.partition(":")
    if rule == "auto":
        rule = "rank" if spec.keyed else "hash"
    if rule in ("rank", "zipf"):
        counts: Counter[str] = Counter()
        for chunk in _chunks(spec):
            chunk, _ = _window(spec, chunk)
            if chunk.key is None:
                raise ScenarioError(
                    f"--map {rule} needs a trace with keys; the {spec.format} layout has none (use --map hash)"
                )
            counts.update(chunk.key.tolist())
        ranked = sorted(counts, key=lambda k: (-counts[k], k))
        if rule == "rank":
            table = {k: r % len(models) for r, k in enumerate(ranked)}
        else:
            table = _zipf_table(ranked, counts, len(models), float(arg))
        return lambda chunk, before: _lookup(spec, chunk, table)
    if rule == "hash":
        salt = np.uint64(spec.seed * 0x9E3779B97F4A7C15 % 2**64)

        def hashed(chunk: _Chunk, before: int) -> np.ndarray:
            if chunk.key is None:
                code = np.arange(before, before + chunk.time.size, dtype=np.uint64)
            else:
                code = pd.util.hash_array(chunk.key.astype(str), hash_key="partialloading01").astype(np.uint64)
            return (_mix(code ^ salt) % np.uint64(len(models))).astype(np.int64)

        return hashed
    table = _mapping_file(spec.mapping, models)
    return lambda chunk, before: _lookup(spec, chunk, table)


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer: a well-spread, platform-independent hash of each integer."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _zipf_table(ranked: Sequence[str], counts: Counter[str], n_models: int, exponent: float) -> dict[str, int]:
    """Keys, most frequent first, each to the model furthest below its Zipf share of requests."""
    weights = np.arange(1, n_models + 1, dtype=float) ** (-exponent)
    target = weights / weights.sum() * sum(counts.values())
    load = np.zeros(n_models)
    table = {}
    for key in ranked:
        m = int(np.argmax(target - load))
        table[key] = m
        load[m] += counts[key]
    return table


def _mapping_file(path: str, models: Sequence[str]) -> dict[str, int]:
    try:
        doc = json.loads(Path(path).read_text("utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TraceError("", f"not a JSON mapping of keys to models ({exc})", path) from None
    if not isinstance(doc, dict) or not all(isinstance(v, str) for v in doc.values()):
        raise TraceError("", 'expected a JSON object {"key": "model", ...}', path)
    index = {m: i for i, m in enumerate(models)}
    for key, model in doc.items():
        if model not in index:
            raise TraceError(key, f"unknown model {model!r} (models: {', '.join(models)})", path)
    return {key: index[model] for key, model in doc.items()}


def _lookup(spec: TraceSpec, chunk: _Chunk, table: Mapping[str, int]) -> np.ndarray:
    keys = chunk.key if chunk.key is not None else np.full(chunk.time.size, "*", dtype=object)
    found = pd.Series(keys, dtype=object).map(table)
    if found.isna().any():
        if "*" in table:
            found = found.fillna(table["*"])
        else:
            i = int(np.flatnonzero(found.isna().to_numpy())[0])
            raise TraceError(
                f"line {int(chunk.line[i])}",
                f'key {keys[i]!r} is not in the mapping (add it, or a "*" entry)',
                spec.path,
            )
    return found.to_numpy(dtype=np.int64)


# ----------------------------------------------------------------------------- writing
@dataclass
class _Tally:
    rows: int = 0
    requests: int = 0
    last: float = 0.0


def _latency_tables(server: Instance, catalog: ModelCatalog | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    given = {m.id: m for m in catalog.models} if catalog is not None else {}
    rows = []
    for model, size in zip(server.models, server.model_sizes.tolist(), strict=True):
        default = DEFAULT_LATENCY.scaled(size / DEFAULT_LATENCY_MODEL_BYTES)
        entry = given.get(model.id)
        rows.append(
            tuple(
                getattr(default, name) if entry is None or getattr(entry, name) is None else float(getattr(entry, name))
                for name in ("overhead_s", "prefill_s_per_token", "decode_s_per_token")
            )
        )
    table = np.array(rows, dtype=float).reshape(-1, 3)
    return table[:, 0], table[:, 1], table[:, 2]


class _RequestMaker:
    """Turns the kept rows of a chunk into request-table lines: model, input, radio, inference
    time and deadline of each (see the module docstring)."""

    def __init__(
        self,
        spec: TraceSpec,
        cfg: Any,
        server: Instance,
        catalog: ModelCatalog | None,
        mapper: Callable[[_Chunk, int], np.ndarray],
    ) -> None:
        self.spec, self.cfg, self.mapper = spec, cfg, mapper
        self.names = np.asarray([m.id for m in server.models], dtype=object)
        self.latency = _latency_tables(server, catalog)
        self.load_s = server.model_sizes / float(server.load_speed_bytes_per_s)
        self.infer = server.infer_times
        self.bandwidth = float(server.bandwidth_hz)
        self.bits_per_token = float(spec.bits_per_token if spec.bits_per_token is not None else cfg.token_bits)
        self.rng = np.random.default_rng(np.random.SeedSequence([spec.seed, 7]))

    def lines(self, kept: _Chunk, first: int) -> tuple[str, np.ndarray]:
        """The CSV lines of ``kept`` (its requests numbered from ``first``) and their models."""
        spec, rng, n = self.spec, self.rng, kept.time.size
        m = self.mapper(kept, first)
        if kept.input is not None:
            bits = np.maximum(kept.input, 1.0) * self.bits_per_token
        else:
            bits = np.round(224 * 224 * rng.uniform(*JPEG_BITS_PER_PIXEL, n))
        snr = draw_snr_db(self.cfg, rng, n)
        eta = spectral_efficiencies(snr)
        own = None
        if kept.input is not None and kept.output is not None:
            overhead, prefill, decode = self.latency
            own = overhead[m] + kept.input * prefill[m] + kept.output * decode[m]
        run = own if own is not None else self.infer[m]
        alone = bits / (eta * self.bandwidth) + self.load_s[m] + run
        factor = rng.uniform(1.0 - spec.spread, 1.0 + spec.spread, n)
        deadline = np.maximum(np.round(spec.slo * factor * alone, 9), 1e-9)
        own_cells = [""] * n if own is None else np.round(own, 9).tolist()
        columns = (self.names[m].tolist(), np.round(kept.time, 9).tolist(), bits.tolist(), snr.tolist())
        rows = [
            f"r{first + i},{mid},{t},{b},,{q},{d},1,{c}\n"
            for i, (mid, t, b, q, d, c) in enumerate(zip(*columns, deadline.tolist(), own_cells, strict=True))
        ]
        # One string per chunk: formatting floats by hand is several times faster than a CSV writer.
        return "".join(rows), m


def replay_trace(
    spec: TraceSpec,
    family: str,
    out: str | os.PathLike[str],
    *,
    catalog: ModelCatalog | None = None,
    catalog_source: str = "models.json",
    timing: str = "frame",
    progress: Callable[[int], object] | None = None,
    **overrides: Any,
) -> TraceReplay:
    """Write the workload of the trace ``spec`` to ``out`` (JSON) and ``OUT.requests.csv``.

    Parameters
    ----------
    spec
        The trace and how to read it.
    family
        Scenario family of the server (its models unless ``catalog`` is given) and the radio.
    out
        The workload JSON to write; the requests go to a CSV table beside it.
    catalog, catalog_source
        A model catalog whose models the requests use, with its latency table, and its file
        (for messages).
    timing
        Timing model of the workload.
    progress
        Called with the number of trace rows read after each chunk.
    **overrides
        Family parameters (``bandwidth_hz``, ``load_speed_bytes_per_s``, ``token_bits``, ...).

    Raises
    ------
    PartialLoadingError
        A bad trace cell (file, line, column), option or output path; nothing is written.
    """
    if family not in CONFIGS:
        raise ScenarioError(f"trace replay needs a configured family ({', '.join(CONFIGS)}; got {family!r})")
    target = check_output(out, inputs=[spec.path])
    table_path = target.with_name(f"{target.stem}.requests.csv")
    check_output(table_path, inputs=[spec.path])
    cfg = config(family, **overrides)
    blocks = catalog.instance_blocks() if catalog is not None else None
    models = catalog.instance_models(catalog_source) if catalog is not None else None
    server_blocks, server_models, _ = draw_users(family, cfg, spec.seed, 0, blocks, models)
    server = workload_server(cfg, server_blocks, server_models, f"{Path(spec.path).stem}-{spec.format}", timing)
    make = _RequestMaker(spec, cfg, server, catalog, _mapper(spec, [m.id for m in server.models]))
    per_model = np.zeros(server.num_models, dtype=np.int64)
    state = _Tally()

    def write_table(path: Path) -> None:
        with open(path, "w", newline="", encoding="utf-8") as handle:
            handle.write(",".join(CSV_COLUMNS) + "\n")
            for chunk in _chunks(spec):
                kept, read = _window(spec, chunk)
                state.rows += read
                if progress is not None:
                    progress(state.rows)
                if not kept.time.size:
                    continue
                text, m = make.lines(kept, state.requests)
                handle.write(text)
                np.add.at(per_model, m, 1)
                state.requests += kept.time.size
                state.last = max(state.last, float(kept.time.max()))

    write_file(table_path, write_table, inputs=[spec.path])
    if not state.requests:
        os.unlink(table_path)
        raise ScenarioError(f"{spec.path}: no request of the trace falls in the window (--start, --duration)")
    doc = _workload_doc(server, spec, family, state.rows, table_path.name)
    try:

        def write_doc(path: Path) -> None:
            path.write_text(json.dumps(doc, indent=1) + "\n", "utf-8")

        write_file(target, write_doc, inputs=[spec.path])
    except PartialLoadingError:
        os.unlink(table_path)
        raise
    return TraceReplay(
        (target, table_path),
        state.rows,
        state.requests,
        {m.id: int(c) for m, c in zip(server.models, per_model.tolist(), strict=True)},
        state.last,
    )


def _workload_doc(server: Instance, spec: TraceSpec, family: str, rows: int, table: str) -> dict[str, Any]:
    """The workload JSON of the replay: the server, what was read and how, the request table."""
    doc = instance_to_dict(server)
    doc.pop("users")
    doc["format"] = WORKLOAD_FORMAT
    doc["meta"] = {
        "generator": "partialloading.online.traces",
        "trace": os.path.basename(spec.path),
        **{k: v for k, v in dataclasses.asdict(spec).items() if k != "path"},
        "family": family,
        "rows": rows,
    }
    doc["requests_csv"] = table
    return doc


__all__ = [
    "COLUMNS",
    "DEFAULT_LATENCY",
    "DEFAULT_LATENCY_MODEL_BYTES",
    "MAPPINGS",
    "TRACE_FORMATS",
    "LatencyModel",
    "TraceError",
    "TraceReplay",
    "TraceSpec",
    "replay_trace",
]
