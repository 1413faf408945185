"""The mapping rules of a trace replay: which model serves each request (``rank``, ``zipf:S``,
``hash`` or a mapping file; ``auto`` picks ``rank`` for keyed traces, else ``hash``), every
rule explicit and seeded."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from partialloading.scenarios import ScenarioError

from .trace_readers import Chunk, read_chunks, window
from .trace_spec import TraceError, TraceSpec


# ----------------------------------------------------------------------------- mapping
def mapper(spec: TraceSpec, models: Sequence[str]) -> Callable[[Chunk, int], np.ndarray]:
    """A function of a chunk (and the number of requests before it) to model indices."""
    rule, _, arg = spec.mapping.partition(":")
    if rule == "auto":
        rule = "rank" if spec.keyed else "hash"
    if rule in ("rank", "zipf"):
        counts: Counter[str] = Counter()
        for chunk in read_chunks(spec):
            chunk, _ = window(spec, chunk)
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

        def hashed(chunk: Chunk, before: int) -> np.ndarray:
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


def _lookup(spec: TraceSpec, chunk: Chunk, table: Mapping[str, int]) -> np.ndarray:
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
