"""Batch-latency tables: measured ones, and the default for models without a measurement.

A model's ``batch_infer_time_s`` lists the time of one inference over a batch of 1, 2, …, B
requests. Published measurements give a few batch sizes (1, 2, 4, 8, …); :func:`interpolate`
fills the sizes between them linearly and makes the table nondecreasing the only sound way: a
batch can always be padded to a larger measured size, so ``t(b)`` is the least time measured at
``b`` or above (a suffix minimum; noise such as V100's 10.24 ms at batch 2 below 10.37 ms at 1
then lowers ``t(1)``, never raises a larger batch). Tables are in seconds.

Sources (``docs/batching.md`` cites them with the conditions of each measurement):

- :data:`RESNET50_V100_FP32`, :data:`RESNET50_V100_AMP`, :data:`RESNET50_T4_FP32`: NVIDIA
  DeepLearningExamples, ``PyTorch/Classification/ConvNets/resnet50v1.5/README.md``, "Inference
  performance results" (pytorch-21.03 NGC container), column "Latency Avg", batch 1–256.
- :data:`LLAMA2_70B_DECODE_A100`, :data:`LLAMA2_70B_DECODE_H100`: the decode-step time
  (``token_time``, ms) of Llama-2-70B with tensor parallelism 2, prompt 512 tokens, in
  splitwise-sim's ``data/perf_model.csv`` (median of its five runs per batch size, batch 1–32).

:func:`affine_table` is the documented default for a model without a measurement: the time
grows by a fixed share of ``t(1)`` per added request up to a knee (the GPU still has idle
cores), and in proportion to the batch beyond it (the GPU is saturated).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .arrays import FloatArray
from .components import MAX_BATCH, Model

RESNET50_V100_FP32: Mapping[int, float] = {
    1: 10.37e-3,
    2: 10.24e-3,
    4: 10.46e-3,
    8: 11.5e-3,
    16: 16.07e-3,
    32: 29.37e-3,
    64: 55.4e-3,
    128: 109.26e-3,
    256: 214.48e-3,
}
"""ResNet-50 v1.5, one V100 16 GB, FP32: average latency in seconds by batch size."""

RESNET50_V100_AMP: Mapping[int, float] = {
    1: 12.78e-3,
    2: 13.01e-3,
    4: 13.41e-3,
    8: 13.65e-3,
    16: 14.0e-3,
    32: 15.84e-3,
    64: 23.18e-3,
    128: 43.55e-3,
    256: 84.14e-3,
}
"""ResNet-50 v1.5, one V100 16 GB, mixed precision: average latency in seconds by batch size."""

RESNET50_T4_FP32: Mapping[int, float] = {
    1: 10.7e-3,
    2: 11.26e-3,
    4: 12.73e-3,
    8: 22.41e-3,
    16: 39.77e-3,
    32: 77.62e-3,
    64: 152.73e-3,
    128: 309.26e-3,
    256: 635.98e-3,
}
"""ResNet-50 v1.5, one T4, FP32: average latency in seconds by batch size."""

LLAMA2_70B_DECODE_A100: Mapping[int, float] = {
    1: 54.86e-3,
    2: 59.92e-3,
    4: 60.52e-3,
    8: 61.69e-3,
    16: 65.46e-3,
    32: 72.19e-3,
}
"""Llama-2-70B decode step, two A100-80GB (tensor parallel), prompt 512: seconds by batch size."""

LLAMA2_70B_DECODE_H100: Mapping[int, float] = {
    1: 37.00e-3,
    2: 37.39e-3,
    4: 39.98e-3,
    8: 40.41e-3,
    16: 41.97e-3,
    32: 52.30e-3,
}
"""Llama-2-70B decode step, two H100-80GB (tensor parallel), prompt 512: seconds by batch size."""

MEASURED: Mapping[str, Mapping[int, float]] = {
    "resnet50-v100-fp32": RESNET50_V100_FP32,
    "resnet50-v100-amp": RESNET50_V100_AMP,
    "resnet50-t4-fp32": RESNET50_T4_FP32,
    "llama2-70b-decode-a100": LLAMA2_70B_DECODE_A100,
    "llama2-70b-decode-h100": LLAMA2_70B_DECODE_H100,
}
"""Every measured table, by name."""

DEFAULT_SLOPE = 0.05
""":func:`affine_table`: each request added below the knee costs this share of ``t(1)`` (ResNet-50
on a V100 in mixed precision: 12.78 ms at 1, 13.65 ms at 8, about 1 % per request; decode steps of
Llama-2-70B on A100s: about 2 % per request up to 16, after a first step of 9 %)."""

DEFAULT_KNEE = 16
""":func:`affine_table`: beyond this batch size the time grows in proportion to the batch."""


def interpolate(points: Mapping[int, float], largest: int | None = None) -> tuple[float, ...]:
    """The table ``t(1) … t(B)`` through measured ``points`` (batch size → seconds): linear between
    measured sizes, then a suffix minimum (see the module docstring); ``B`` is the largest measured
    size, or ``largest`` (at most that size) when given."""
    sizes = np.array(sorted(points), dtype=float)
    if sizes.size == 0 or sizes[0] != 1:
        raise ValueError("a measured table needs the time of a batch of 1")
    top = int(sizes[-1]) if largest is None else min(int(largest), int(sizes[-1]))
    times = np.interp(np.arange(1, top + 1, dtype=float), sizes, [points[int(s)] for s in sizes])
    padded = np.minimum.accumulate(times[::-1])[::-1]
    return tuple(float(t) for t in padded)


def affine_table(
    infer_time_s: float, max_batch: int, slope: float = DEFAULT_SLOPE, knee: int = DEFAULT_KNEE
) -> tuple[float, ...]:
    """The default table: ``t(b) = t(1)·(1 + slope·(b − 1))`` up to ``knee``, then
    ``t(knee)·b/knee`` (proportional to the batch once the GPU is saturated)."""
    if not 1 <= max_batch <= MAX_BATCH:
        raise ValueError(f"max_batch must be between 1 and {MAX_BATCH} (got {max_batch})")
    b = np.arange(1, max_batch + 1, dtype=float)
    at_knee = 1.0 + slope * (knee - 1)
    scale = np.where(b <= knee, 1.0 + slope * (b - 1), at_knee * b / knee)
    table = infer_time_s * scale
    table[0] = infer_time_s
    return tuple(float(t) for t in table)


def scaled(points: Mapping[int, float], infer_time_s: float, largest: int) -> tuple[float, ...]:
    """A measured table's shape for a model whose batch of 1 takes ``infer_time_s``:
    :func:`interpolate` up to ``largest``, scaled so that ``t(1) = infer_time_s``."""
    table = np.asarray(interpolate(points, largest))
    out = infer_time_s * table / table[0]
    out[0] = infer_time_s
    return tuple(float(t) for t in out)


def random_tables(
    models: Sequence[Model], seed: int, sizes: tuple[int, int] = (2, 8), step: tuple[float, float] = (0.05, 0.6)
) -> list[Model]:
    """``models``, each with a random nondecreasing batch table of ``sizes`` (inclusive) entries,
    each added request costing a share in ``step`` of a single request's time (the generated
    instances of the batching tests and benchmarks)."""
    rng = np.random.default_rng(seed)
    out = []
    for model in models:
        size = int(rng.integers(sizes[0], sizes[1] + 1))
        added = rng.uniform(step[0], step[1], size - 1) * model.infer_time_s
        table = (model.infer_time_s, *(model.infer_time_s + np.cumsum(added)))
        out.append(Model(model.id, model.blocks, model.infer_time_s, tuple(float(t) for t in table)))
    return out


def with_batch_tables(models: Sequence[Model], max_batch: int, shape: str = "affine") -> list[Model]:
    """``models``, each with a batch table of ``max_batch`` entries: :func:`affine_table` of its
    inference time (``shape="affine"``), or a measured table of :data:`MEASURED` scaled to it;
    ``max_batch = 1`` or a model whose inference takes no time leaves the model as it is."""
    if shape != "affine" and shape not in MEASURED:
        raise ValueError(f"unknown batch table {shape!r} (known: affine, {', '.join(MEASURED)})")
    out = []
    for model in models:
        if max_batch <= 1 or model.infer_time_s <= 0:
            out.append(model)
            continue
        if shape == "affine":
            table = affine_table(float(model.infer_time_s), max_batch)
        else:
            table = scaled(MEASURED[shape], float(model.infer_time_s), max_batch)
        out.append(Model(model.id, model.blocks, model.infer_time_s, table))
    return out


__all__ = [
    "DEFAULT_KNEE",
    "DEFAULT_SLOPE",
    "MEASURED",
    "affine_table",
    "interpolate",
    "random_tables",
    "scaled",
    "with_batch_tables",
]


def least_shares(scales: FloatArray) -> FloatArray:
    """Each model's least share of a batch per request, ``min_b t_i(b) / (b · t_i(1))`` (at most 1),
    from its row of ``scales`` (``t_i(b)/t_i(1)``, ``inf`` past the table:
    :attr:`~partialloading.instance.Instance.batch_scales`). A batch of ``b`` requests of model
    ``i`` takes at least ``b`` times this share of ``t_i(1)``: what relaxations may charge each."""
    return np.minimum((scales / np.arange(1, scales.shape[1] + 1)).min(axis=1), 1.0)
