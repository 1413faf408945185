"""The configuration of each configured family: one immutable dataclass per family, whose
fields are the parameters ``generate`` accepts (defaults and sources: ``docs/zoo.md``), and the
constants they draw on (loading speeds, input sizes, task classes)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

import numpy as np

from partialloading import zoo
from partialloading.batch_tables import MEASURED
from partialloading.components import MAX_BATCH
from partialloading.errors import ScenarioError

from .cell import Cell

LOAD_SPEEDS: Mapping[str, float] = {
    # PCIe 4.0 x16: 16 GT/s × 16 lanes × 128/130 ≈ 31.5 GB/s peak; pinned-memory copies reach ~80 %.
    "pcie4-pinned": 25e9,
    # PCIe 5.0 x16: ≈ 63 GB/s peak, same efficiency.
    "pcie5-pinned": 50e9,
    # Weights read from a PCIe 4.0 NVMe SSD (≈ 7 GB/s sequential peak) and copied to the GPU.
    "nvme-gen4": 5e9,
    # Weights read from a PCIe 3.0 NVMe SSD (≈ 3.5 GB/s sequential peak).
    "nvme-gen3": 2.5e9,
}
"""Effective loading speeds in bytes/s by loading path (sources in ``docs/zoo.md``)."""


JPEG_BITS_PER_PIXEL = (0.75, 2.0)
"""Range of a 224×224 JPEG's bits per pixel: an image input is drawn uniformly in it."""


IMAGE_RAW_BITS = 224 * 224 * 3 * 8
"""A raw 224×224 RGB image with 8 bits per channel: 1,204,224 bits."""


TEXT_DATASET_CLASSES = (2, 3, 4, 5, 6, 14)
"""Classes of common text-classification tasks (SST-2, MNLI, AG News, Yelp-5, TREC, DBpedia)."""


IMAGE_DATASET_CLASSES = (10, 37, 100, 101, 102, 196, 200, 1000)
"""Classes of common image-classification tasks (CIFAR-10, Oxford Pets, CIFAR-100, Food-101,
Flowers-102, Stanford Cars, CUB-200, ImageNet-1k)."""


MAX_USERS = 1_000_000
"""Most users a generated instance may have: its file (about 150 bytes a user) is read whole,
and every method holds per-user arrays; larger loads are workloads, which stream."""


@dataclass(frozen=True)
class ScenarioConfig:
    """Parameters every family shares (defaults and sources: ``docs/zoo.md``).

    Parameters
    ----------
    n_users
        Number of users ``K``.
    n_models
        Number of models.
    bandwidth_hz
        Uplink bandwidth ``B`` (20 MHz: the largest LTE carrier, a common 5G NR FR1 carrier).
    load_speed_bytes_per_s
        Effective GPU loading speed ``v`` (default: :data:`LOAD_SPEEDS` ``["nvme-gen4"]``).
    deadlines
        ``"common"`` (one deadline) or ``"per_user"``.
    tightness
        Deadline scale as a fraction of :func:`reference_time`; per-user deadlines are drawn
        uniformly in ``[0.5, 1.5] × tightness × reference``.
    weighted
        Integer weights drawn uniformly from 1 to ``max_weight`` instead of unit weights.
    max_weight
        Largest weight when ``weighted`` (default 5).
    initial_model
        Start with a random model in GPU memory instead of an empty GPU.
    popularity_zipf
        Zipf exponent of model popularity (0: every model equally likely).
    image_encoding
        ``"jpeg"``: 0.75–2.0 bit per pixel (Wallace 1991: "excellent" to "indistinguishable"
        quality); ``"raw"``: :data:`IMAGE_RAW_BITS`.
    prompt_tokens, token_bits
        Text prompt length and bits per token id (16 bits hold any id below 65,536; both
        BERT's 30,522 and Llama-2's 32,000 vocabularies fit).
    memory_models
        GPU memory in units of the largest model (``server.memory_bytes``); 0: the GPU holds one
        model at a time, the seed's memory. Otherwise at least 1.
    cell
        The radio model.
    max_batch
        Batches of up to this many requests of one model (1: no batching, the default); each
        model gets a ``batch_infer_time_s`` table of this length.
    batch_table
        Its shape: ``"affine"`` (the default for models without a measurement) or a measured
        table's name (:data:`partialloading.batch_tables.MEASURED`), scaled to each model's time.
    """

    n_users: int = 20
    n_models: int = 6
    bandwidth_hz: float = 20e6
    load_speed_bytes_per_s: float = LOAD_SPEEDS["nvme-gen4"]
    deadlines: Literal["common", "per_user"] = "common"
    tightness: float = 0.5
    weighted: bool = False
    max_weight: int = 5
    initial_model: bool = False
    popularity_zipf: float = 0.0
    image_encoding: Literal["jpeg", "raw"] = "jpeg"
    prompt_tokens: int = 512
    token_bits: int = 16
    memory_models: float = 0.0
    cell: Cell = field(default_factory=Cell)
    max_batch: int = 1
    batch_table: str = "affine"

    def __post_init__(self) -> None:
        checks = [
            (self.n_users >= 1, "n_users must be at least 1"),
            (self.n_users <= MAX_USERS, f"n_users must be at most {MAX_USERS:,} (an instance file is read whole)"),
            (self.n_models >= 1, "n_models must be at least 1"),
            (self.bandwidth_hz > 0, "bandwidth_hz must be positive"),
            (self.load_speed_bytes_per_s > 0, "load_speed_bytes_per_s must be positive"),
            (self.deadlines in ("common", "per_user"), "deadlines must be 'common' or 'per_user'"),
            (self.tightness > 0, "tightness must be positive"),
            (isinstance(self.max_weight, int) and self.max_weight >= 1, "max_weight must be an integer of at least 1"),
            (self.popularity_zipf >= 0, "popularity_zipf must be non-negative"),
            (self.image_encoding in ("jpeg", "raw"), "image_encoding must be 'jpeg' or 'raw'"),
            (self.prompt_tokens >= 1 and self.token_bits >= 1, "prompt_tokens and token_bits must be positive"),
            (self.memory_models == 0 or self.memory_models >= 1, "memory_models must be 0 or at least 1"),
            (isinstance(self.cell, Cell), "cell must be a Cell"),
            (
                isinstance(self.max_batch, int) and 1 <= self.max_batch <= MAX_BATCH,
                f"max_batch must be an integer from 1 to {MAX_BATCH}",
            ),
            (
                self.batch_table == "affine" or self.batch_table in MEASURED,
                f"batch_table must be 'affine' or one of {', '.join(MEASURED)}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ScenarioError(message)


@dataclass(frozen=True)
class BackboneConfig(ScenarioConfig):
    """Synthetic backbone sharing: clusters of models on one backbone, one head per model.

    Parameters
    ----------
    n_clusters
        Number of backbones (``0``: about ``sqrt(n_models)``).
    backbone_mb, head_mb
        Log-uniform size ranges in MB (backbones span ResNet-18 in fp16, 23 MB, to BERT-base in
        fp32, 438 MB; heads span a 2-class head to a 1000-class ResNet-50 head in fp32).
    infer_ms
        Uniform range of the inference time in ms.
    modality
        Input of the users: ``"image"`` or ``"text"``.
    """

    n_clusters: int = 0
    backbone_mb: tuple[float, float] = (20.0, 450.0)
    head_mb: tuple[float, float] = (0.01, 8.0)
    infer_ms: tuple[float, float] = (1.0, 20.0)
    modality: Literal["image", "text"] = "image"


@dataclass(frozen=True)
class GeneralConfig(ScenarioConfig):
    """Synthetic general sharing: families of layered models fine-tuned from varying depths.

    Parameters
    ----------
    n_bases
        Number of base models (``0``: about ``n_models / 3``).
    depth
        Range of the number of layer blocks of a base model.
    layer_mb, head_mb
        Log-uniform size ranges of a layer block and of a head in MB.
    cross_share
        Probability that a model also uses a block shared across families (e.g. a common
        tokenizer embedding), which breaks the backbone structure.
    infer_ms, modality
        As in :class:`BackboneConfig`.
    """

    n_bases: int = 0
    depth: tuple[int, int] = (4, 12)
    layer_mb: tuple[float, float] = (2.0, 60.0)
    head_mb: tuple[float, float] = (0.01, 8.0)
    cross_share: float = 0.2
    infer_ms: tuple[float, float] = (1.0, 20.0)
    modality: Literal["image", "text"] = "image"


@dataclass(frozen=True)
class ZooConfig(ScenarioConfig):
    """Parameters of the zoo-based families.

    Parameters
    ----------
    precision
        ``"fp32"``, ``"fp16"`` or ``"int8"`` (4, 2, 1 bytes per parameter).
    gpu_flops_per_s
        Effective GPU throughput: 40 % of an NVIDIA L4's 121 TFLOP/s dense FP16 tensor peak
        (an edge inference GPU on PCIe Gen4 x16).
    overhead_s
        Fixed per-request overhead (kernel launches, pre/post-processing).
    """

    precision: str = "fp16"
    gpu_flops_per_s: float = 48e12
    overhead_s: float = 1e-3

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.precision not in zoo.PRECISION_BYTES:
            raise ScenarioError(f"precision must be one of {', '.join(zoo.PRECISION_BYTES)}")
        if not (self.gpu_flops_per_s > 0 and self.overhead_s >= 0):
            raise ScenarioError("gpu_flops_per_s must be positive and overhead_s non-negative")

    def infer_time(self, arch: zoo.Architecture) -> float:
        """Inference time of one request on ``arch``: overhead + FLOPs / throughput."""
        return round(self.overhead_s + arch.flops_per_request / self.gpu_flops_per_s, 6)


@dataclass(frozen=True)
class ZooHeadsConfig(ZooConfig):
    """Task heads on frozen zoo backbones (backbone sharing; the DP's exact case).

    Parameters
    ----------
    architectures
        Backbones; the models are spread over them round-robin (one cluster per backbone used).
    """

    architectures: tuple[str, ...] = ("resnet50", "vit_b_16", "bert_base_uncased")


@dataclass(frozen=True)
class ZooFreezeConfig(ZooConfig):
    """ "Freeze the bottom k layer groups" fine-tunes of one architecture (general sharing).

    Parameters
    ----------
    architecture
        The base architecture.
    include_base
        Make one of the models the published base model itself.
    """

    architecture: str = "vit_b_16"
    include_base: bool = True


@dataclass(frozen=True)
class ZooLoraConfig(ZooConfig):
    """LoRA adapters on one shared base (backbone sharing).

    Parameters
    ----------
    architecture
        A transformer of the zoo.
    ranks
        Ranks an adapter draws from (8, 16, 32, 64: the range of Hu et al. 2021's experiments).
    adapted_fraction
        Fraction of the attention layers an adapter covers (the top ones; 1: all layers).
    """

    architecture: str = "llama2_7b"
    ranks: tuple[int, ...] = (8, 16, 32, 64)
    adapted_fraction: float = 1.0


@dataclass(frozen=True)
class AdaptersConfig(ZooLoraConfig):
    """Many LoRA adapters on one large base model, the setting of S-LoRA's evaluation: a 7B base
    in fp16 (13.5 GB), adapters of ranks 8 to 64 on every attention layer (rank × hidden size ×
    layers × projections parameters each), requested with Zipf popularity, and a GPU that keeps
    the base and a share of the adapters.

    Parameters
    ----------
    popularity_zipf
        Zipf exponent α of the adapters' popularity (S-LoRA sweeps about 0.9 to 1.5).
    memory_models
        GPU memory in units of the largest model (base plus its largest adapter).
    """

    n_models: int = 32
    n_users: int = 40
    popularity_zipf: float = 1.0
    memory_models: float = 1.2


@dataclass(frozen=True)
class ZooMixedConfig(ZooConfig):
    """One server hosting a heads family, a freeze family and a LoRA family (general sharing).

    Parameters
    ----------
    heads_architecture, freeze_architecture, lora_architecture
        Architectures of the three families; the models are split between them round-robin.
    """

    heads_architecture: str = "resnet50"
    freeze_architecture: str = "vit_b_16"
    lora_architecture: str = "bert_base_uncased"


CONFIGS: Mapping[str, type[ScenarioConfig]] = {
    "backbone": BackboneConfig,
    "general": GeneralConfig,
    "zoo-heads": ZooHeadsConfig,
    "zoo-freeze": ZooFreezeConfig,
    "zoo-lora": ZooLoraConfig,
    "zoo-mixed": ZooMixedConfig,
    "adapters": AdaptersConfig,
}
"""Configuration class of each family."""


FAMILIES: tuple[str, ...] = tuple(CONFIGS)
"""Names of the instance families :func:`generate` knows."""


def config(family: str, **overrides: Any) -> ScenarioConfig:
    """The configuration of ``family`` with ``overrides`` applied (every name checked).

    Raises
    ------
    ScenarioError
        Unknown family or parameter, or a value out of range.
    """
    if family not in CONFIGS:
        raise ScenarioError(f"unknown family {family!r} (choose from {', '.join(FAMILIES)})")
    cls = CONFIGS[family]
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ScenarioError(f"family {family!r} has no parameter {unknown[0]!r} (known: {', '.join(sorted(known))})")
    defaults = cls()
    if isinstance(overrides.get("deadlines"), str):
        overrides["deadlines"] = overrides["deadlines"].replace("-", "_")  # the CLI spelling "per-user"
    values: dict[str, Any] = {name: _coerce(name, getattr(defaults, name), value) for name, value in overrides.items()}
    return replace(defaults, **values)


def _coerce(name: str, default: object, value: object) -> Any:
    """Check ``value`` against the type of the parameter's default (lists become tuples, dicts a Cell)."""
    if isinstance(default, Cell):
        if isinstance(value, Cell):
            return value
        if isinstance(value, Mapping):
            known = {f.name for f in fields(Cell)}
            unknown = sorted(set(value) - known)
            if unknown:
                raise ScenarioError(f"cell has no parameter {unknown[0]!r} (known: {', '.join(sorted(known))})")
            return Cell(**{k: _coerce(f"cell.{k}", getattr(Cell(), k), v) for k, v in value.items()})
    elif isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int | np.integer) and not isinstance(value, bool):
            return int(value)
    elif isinstance(default, float):
        if isinstance(value, int | float | np.number) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    elif (
        isinstance(default, tuple)
        and isinstance(value, list | tuple)
        and all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value)
    ):
        return tuple(value)
    kind = type(default).__name__
    raise ScenarioError(f"parameter {name!r} must be of type {kind} like its default {default!r} (got {value!r})")
