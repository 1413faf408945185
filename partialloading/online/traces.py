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

import dataclasses
import functools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from partialloading.checkpoints.catalog import ModelCatalog
from partialloading.errors import PartialLoadingError
from partialloading.instance import Instance, spectral_efficiencies
from partialloading.io import instance_to_dict
from partialloading.output import check_output, write_file
from partialloading.scenarios import ScenarioError
from partialloading.scenarios.configs import CONFIGS, JPEG_BITS_PER_PIXEL, config
from partialloading.scenarios.configured import draw_snr_db, draw_users

from .arrivals import workload_server
from .latency import DEFAULT_LATENCY, DEFAULT_LATENCY_MODEL_BYTES, LatencyModel, latency_tables
from .requests import CSV_COLUMNS
from .trace_mapping import mapper
from .trace_readers import Chunk, read_chunks, window
from .trace_spec import COLUMNS, MAPPINGS, TRACE_FORMATS, TraceError, TraceSpec
from .workload import WORKLOAD_FORMAT


@dataclass(frozen=True)
class TraceReplay:
    """What :func:`replay_trace` wrote: the files, and the requests by model."""

    written: tuple[Path, ...]
    rows: int
    requests: int
    per_model: dict[str, int]
    span_s: float


# ----------------------------------------------------------------------------- writing
@dataclass
class _Table:
    """The request table being written: the trace read chunk by chunk, each chunk's kept rows
    turned into request lines; what was read and written is counted on the way."""

    spec: TraceSpec
    make: _RequestMaker
    per_model: np.ndarray
    progress: Callable[[int], object] | None = None
    rows: int = 0
    requests: int = 0
    last: float = 0.0

    def write(self, path: Path) -> None:
        with open(path, "w", newline="", encoding="utf-8") as handle:
            # A trace replays on one server: no links column.
            handle.write(",".join(c for c in CSV_COLUMNS if c != "links") + "\n")
            for chunk in read_chunks(self.spec):
                kept, read = window(self.spec, chunk)
                self.rows += read
                if self.progress is not None:
                    self.progress(self.rows)
                if not kept.time.size:
                    continue
                text, m = self.make.lines(kept, self.requests)
                handle.write(text)
                np.add.at(self.per_model, m, 1)
                self.requests += kept.time.size
                self.last = max(self.last, float(kept.time.max()))


class _RequestMaker:
    """Turns the kept rows of a chunk into request-table lines: model, input, radio, inference
    time and deadline of each (see the module docstring)."""

    def __init__(
        self,
        spec: TraceSpec,
        cfg: Any,
        server: Instance,
        catalog: ModelCatalog | None,
        mapper: Callable[[Chunk, int], np.ndarray],
    ) -> None:
        self.spec, self.cfg, self.mapper = spec, cfg, mapper
        self.names = np.asarray([m.id for m in server.models], dtype=object)
        self.latency = latency_tables(server, catalog)
        self.load_s = server.model_sizes / float(server.load_speed_bytes_per_s)
        self.infer = server.infer_times
        self.bandwidth = float(server.bandwidth_hz)
        self.bits_per_token = float(spec.bits_per_token if spec.bits_per_token is not None else cfg.token_bits)
        self.rng = np.random.default_rng(np.random.SeedSequence([spec.seed, 7]))

    def _check_finite(self, kept: Chunk, m: np.ndarray, own: np.ndarray | None, deadline: np.ndarray) -> None:
        """Refuse, by its trace line, a request whose inference time or deadline overflows."""
        for values, what in ((own, "inference time"), (deadline, "deadline")):
            if values is None:
                continue
            bad = np.flatnonzero(~np.isfinite(values))
            if bad.size:
                i = int(bad[0])
                model = self.names[int(m[i])]
                raise ScenarioError(
                    f"{self.spec.path}: line {int(kept.line[i])}: the request's {what} overflows to infinity "
                    f"(model {model}: check its overhead_s, prefill_s_per_token and decode_s_per_token)"
                )

    def lines(self, kept: Chunk, first: int) -> tuple[str, np.ndarray]:
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
        # Extreme but valid figures (a catalog's 1e308 s per token) overflow: refused below, by line.
        with np.errstate(over="ignore", invalid="ignore"):
            if kept.input is not None and kept.output is not None:
                overhead, prefill, decode = self.latency
                own = overhead[m] + kept.input * prefill[m] + kept.output * decode[m]
            run = own if own is not None else self.infer[m]
            alone = bits / (eta * self.bandwidth) + self.load_s[m] + run
            factor = rng.uniform(1.0 - spec.spread, 1.0 + spec.spread, n)
            deadline = np.maximum(np.round(spec.slo * factor * alone, 9), 1e-9)
        self._check_finite(kept, m, own, deadline)
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
    make = _RequestMaker(spec, cfg, server, catalog, mapper(spec, [m.id for m in server.models]))
    table = _Table(spec, make, np.zeros(server.num_models, dtype=np.int64), progress)
    write_file(table_path, table.write, inputs=[spec.path])
    if not table.requests:
        os.unlink(table_path)
        raise ScenarioError(f"{spec.path}: no request of the trace falls in the window (--start, --duration)")
    doc = _workload_doc(server, spec, family, table.rows, table_path.name)
    try:
        write_file(target, functools.partial(_write_json, doc), inputs=[spec.path])
    except PartialLoadingError:
        os.unlink(table_path)
        raise
    per_model = {m.id: int(c) for m, c in zip(server.models, table.per_model.tolist(), strict=True)}
    return TraceReplay((target, table_path), table.rows, table.requests, per_model, table.last)


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


def _write_json(doc: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(doc, indent=1) + "\n", "utf-8")
