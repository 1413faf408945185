"""The latency model of requests with tokens: an inference time from the prompt and generated
tokens, per model (from the catalog's figures, else a default measured on a 7B model and
scaled by size)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from partialloading.checkpoints.catalog import ModelCatalog
from partialloading.instance import Instance


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


def latency_tables(server: Instance, catalog: ModelCatalog | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
