"""Scenario generators: synthetic and real-architecture instance families with a physical uplink.

Entry point::

    from partialloading import scenarios

    instance = scenarios.generate("zoo-lora", seed=3, n_users=30, tightness=0.3)
    scenarios.FAMILIES  # ('backbone', 'general', 'zoo-heads', 'zoo-freeze', 'zoo-lora', 'zoo-mixed', 'adapters')

Each family has an immutable configuration dataclass (:data:`CONFIGS`) whose fields are the
parameters ``generate`` accepts as overrides; every default and its source is listed in
``docs/zoo.md``. The same family, seed and overrides give the same instance, byte for byte once
written. The random draws are split into independent streams (models, users, deadlines), so that
e.g. changing the number of users keeps the models of a seed.

What every family shares:

* **Users** are dropped uniformly (in area) in a cell of radius 250 m, at least 10 m from the
  base station, with path loss ``128.1 + 37.6·log10(d/km)`` dB, log-normal shadowing
  (σ = 8 dB), 23 dBm transmit power, −174 dBm/Hz noise and a 5 dB receiver noise figure
  (3GPP TR 36.814). The SNR is evaluated over the fair share ``B/K`` of the uplink (see
  :class:`Cell`) and written as ``snr_db``.
* **Inputs**: image models receive a 224×224 RGB image (JPEG-compressed by default, or raw
  ``224·224·3·8`` bits); text models a prompt (512 tokens × 16 bits).
* **Loading** at an *effective* host-to-GPU rate (default 5 GB/s, an NVMe-backed load over PCIe
  Gen4; :data:`LOAD_SPEEDS` lists the alternatives), not the PCIe peak.
* **Deadlines**: one common deadline, or one per user, as a fraction (``tightness``) of the
  time to serve every user without any reuse of GPU memory (see :func:`reference_time`).
"""

from __future__ import annotations

import math
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

import numpy as np

from partialloading import zoo
from partialloading.errors import PartialLoadingError
from partialloading.instance import Block, Instance, Model, User

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


class ScenarioError(PartialLoadingError, ValueError):
    """An unknown family or parameter, or a parameter value out of range."""


MAX_USERS = 1_000_000
"""Most users a generated instance may have: its file (about 150 bytes a user) is read whole,
and every method holds per-user arrays; larger loads are workloads, which stream."""


@dataclass(frozen=True)
class Cell:
    """Uplink radio model of one cell (3GPP TR 36.814 macro path loss).

    The frame model charges a user ``a_k / b_k`` seconds, i.e. a rate linear in its bandwidth
    ``b_k`` with a fixed spectral efficiency. That is exact when the user transmits at a fixed
    power spectral density, so its SNR does not depend on ``b_k``. We fix that density as the
    transmit power spread over the fair share ``B/K``: the SNR is computed with the noise over
    ``B/K`` Hz. A user granted more (less) than ``B/K`` then transmits proportionally more (less)
    power than ``tx_power_dbm``; at the fair share it transmits exactly ``tx_power_dbm``.

    Parameters
    ----------
    radius_m
        Cell radius (a small cell).
    min_distance_m
        Smallest user–base station distance.
    pathloss_db_at_1km, pathloss_exponent_db
        Path loss ``PL = a + b·log10(d/km)`` dB (TR 36.814 Table A.2.1.1.2-3: 128.1, 37.6).
    shadowing_db
        Standard deviation of the log-normal shadowing (TR 36.814: 8 dB).
    tx_power_dbm
        User transmit power (3GPP power class 3: 23 dBm).
    noise_psd_dbm_hz
        Thermal noise density at 290 K (−174 dBm/Hz).
    noise_figure_db
        Base-station receiver noise figure (TR 36.814: 5 dB; a UE receiver has 9 dB).
    max_snr_db
        Ceiling on the SNR: a transmitter meeting the 3.5 % EVM limit of 256-QAM (TS 38.101-1)
        cannot deliver much more than 29 dB, so close users do not get Shannon rates of 20+ bit/s/Hz.
    """

    radius_m: float = 250.0
    min_distance_m: float = 10.0
    pathloss_db_at_1km: float = 128.1
    pathloss_exponent_db: float = 37.6
    shadowing_db: float = 8.0
    tx_power_dbm: float = 23.0
    noise_psd_dbm_hz: float = -174.0
    noise_figure_db: float = 5.0
    max_snr_db: float = 30.0

    def __post_init__(self) -> None:
        if not 0 < self.min_distance_m < self.radius_m:
            raise ScenarioError(f"need 0 < min_distance_m < radius_m (got {self.min_distance_m}, {self.radius_m})")
        if self.shadowing_db < 0:
            raise ScenarioError(f"shadowing_db must be non-negative (got {self.shadowing_db})")

    def distances(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` distances of users dropped uniformly in area in the annulus ``[min_distance_m, radius_m]``."""
        return np.sqrt(rng.uniform(self.min_distance_m**2, self.radius_m**2, n))

    def pathloss_db(self, distance_m: np.ndarray) -> np.ndarray:
        """Path loss in dB at ``distance_m`` metres."""
        return self.pathloss_db_at_1km + self.pathloss_exponent_db * np.log10(np.asarray(distance_m) / 1000.0)

    def snr_db(self, distance_m: np.ndarray, shadowing_db: np.ndarray, reference_bandwidth_hz: float) -> np.ndarray:
        """SNR in dB over ``reference_bandwidth_hz``, capped at :attr:`max_snr_db`."""
        noise_dbm = self.noise_psd_dbm_hz + 10.0 * math.log10(reference_bandwidth_hz) + self.noise_figure_db
        snr = self.tx_power_dbm - self.pathloss_db(distance_m) - shadowing_db - noise_dbm
        return np.minimum(snr, self.max_snr_db)


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


def generate(family: str, seed: int, **overrides: Any) -> Instance:
    """Generate one instance of ``family``.

    Parameters
    ----------
    family
        One of :data:`FAMILIES`.
    seed
        Seed of the random draws: the same family, seed and overrides give the same instance.
    **overrides
        Fields of the family's configuration class (:data:`CONFIGS`), e.g. ``n_users=40``,
        ``deadlines="per_user"``, ``tightness=0.3``, ``precision="int8"``.

    Raises
    ------
    ScenarioError
        Unknown family or parameter, or a value out of range.
    """
    cfg = config(family, **overrides)
    return generate_from(family, cfg, seed)


def generate_from(family: str, cfg: ScenarioConfig, seed: int) -> Instance:
    """Generate one instance of ``family`` from a ready configuration (see :func:`generate`)."""
    if family not in CONFIGS or not isinstance(cfg, CONFIGS[family]):
        raise ScenarioError(f"configuration {type(cfg).__name__} does not belong to family {family!r}")
    return _assemble(family, cfg, seed, lambda rng: _BUILDERS[family](cfg, rng), f"{family}-u{cfg.n_users}")


def generate_with_models(
    blocks: Sequence[Block], models: Sequence[Model], seed: int, family: str = "backbone", **overrides: Any
) -> Instance:
    """An instance whose users request the given models (e.g. derived from checkpoints).

    The users' radio, inputs, weights and deadlines are drawn as in ``family`` (its
    configuration with ``overrides``); its own model builder is not used, so ``n_models`` and
    the size parameters have no effect. Every model's input is the family's ``modality``
    (``"image"`` for families without one).

    Parameters
    ----------
    blocks, models
        The server's blocks and models (:meth:`~partialloading.checkpoints.ModelCatalog.instance_models`).
    seed
        Seed of the users' draws.
    family
        Family whose settings to use.
    **overrides
        Fields of the family's configuration, e.g. ``n_users=30``, ``deadlines="per_user"``.

    Raises
    ------
    ScenarioError
        Unknown family or parameter, a value out of range, or no models.
    """
    cfg = config(family, **overrides)
    if not models:
        raise ScenarioError("no models to request")
    modality = str(getattr(cfg, "modality", "image"))
    built: Built = (list(blocks), list(models), [modality] * len(models))
    return _assemble(family, cfg, seed, lambda rng: built, f"models-{family}-u{cfg.n_users}")


def draw_users(
    family: str,
    cfg: ScenarioConfig,
    seed: int,
    count: int,
    blocks: Sequence[Block] | None = None,
    models: Sequence[Model] | None = None,
) -> tuple[list[Block], list[Model], list[User]]:
    """The server of ``family`` (or the given ``blocks`` and ``models``) and ``count`` users.

    The users are drawn as in :func:`generate_from` (model popularity, radio as for
    ``cfg.n_users`` users sharing the uplink, inputs, weights) with placeholder deadlines of 1 s:
    the requests of a workload, whose deadlines the caller sets.
    """
    if family not in CONFIGS or not isinstance(cfg, CONFIGS[family]):
        raise ScenarioError(f"configuration {type(cfg).__name__} does not belong to family {family!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ScenarioError(f"seed must be a non-negative integer (got {seed!r})")
    model_rng, user_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(2))
    if models is None:
        built_blocks, built_models, modality = _BUILDERS[family](cfg, model_rng)
    else:
        if not models:
            raise ScenarioError("no models to request")
        built_blocks, built_models = list(blocks or ()), list(models)
        modality = [str(getattr(cfg, "modality", "image"))] * len(built_models)
    users = _users(cfg, built_models, modality, user_rng, count) if count else []
    return built_blocks, built_models, users


def _assemble(
    family: str, cfg: ScenarioConfig, seed: int, build: Callable[[np.random.Generator], Built], label: str
) -> Instance:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ScenarioError(f"seed must be a non-negative integer (got {seed!r})")
    # Independent streams: the models of a seed do not change when only the users change.
    model_rng, user_rng, deadline_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(3))
    blocks, models, modality = build(model_rng)
    users = _users(cfg, models, modality, user_rng)
    initial = models[int(model_rng.integers(len(models)))].id if cfg.initial_model else None
    instance = Instance(
        memory_bytes=memory_bytes(cfg, blocks, models),
        blocks=tuple(blocks),
        models=tuple(models),
        users=tuple(users),
        bandwidth_hz=float(cfg.bandwidth_hz),
        load_speed_bytes_per_s=float(cfg.load_speed_bytes_per_s),
        initial_model=initial,
        name=f"{label}-m{len(models)}-s{seed}",
        meta={"generator": "partialloading.scenarios", "family": family, "seed": int(seed), "config": asdict(cfg)},
    )
    return _with_deadlines(instance, cfg, deadline_rng)


# --------------------------------------------------------------------------- users and deadlines
def _users(
    cfg: ScenarioConfig,
    models: Sequence[Model],
    modality: Sequence[str],
    rng: np.random.Generator,
    count: int | None = None,
) -> list[User]:
    """``count`` users (default ``cfg.n_users``); the radio as for ``cfg.n_users`` users sharing the uplink."""
    k = cfg.n_users if count is None else count
    ranks = np.arange(1, len(models) + 1, dtype=float)
    popularity = ranks ** (-cfg.popularity_zipf)
    requested = rng.choice(len(models), size=k, p=popularity / popularity.sum())
    snr = draw_snr_db(cfg, rng, k)
    bpp = rng.uniform(*JPEG_BITS_PER_PIXEL, k)
    weights = rng.integers(1, cfg.max_weight + 1, k) if cfg.weighted else np.ones(k, dtype=np.int64)
    users = []
    for u in range(k):
        m = int(requested[u])
        if modality[m] == "text":
            bits = float(cfg.prompt_tokens * cfg.token_bits)
        elif cfg.image_encoding == "raw":
            bits = float(IMAGE_RAW_BITS)
        else:
            bits = float(round(224 * 224 * bpp[u]))
        users.append(
            User(
                id=f"u{u}",
                model=models[m].id,
                data_bits=bits,
                deadline_s=1.0,  # placeholder, set by _with_deadlines
                snr_db=float(snr[u]),
                weight=int(weights[u]),
            )
        )
    return users


def draw_snr_db(cfg: ScenarioConfig, rng: np.random.Generator, count: int) -> np.ndarray:
    """SNRs (dB, to 0.01) of ``count`` users dropped in ``cfg``'s cell, the noise that of one
    user's share of the uplink among the configuration's ``n_users``."""
    distance = cfg.cell.distances(rng, count)
    shadow = rng.normal(0.0, cfg.cell.shadowing_db, count)
    return np.round(cfg.cell.snr_db(distance, shadow, cfg.bandwidth_hz / cfg.n_users), 2)


def memory_bytes(cfg: ScenarioConfig, blocks: Sequence[Block], models: Sequence[Model]) -> float | None:
    """``server.memory_bytes`` of ``cfg``: ``memory_models`` times the largest model, or ``None``."""
    if not cfg.memory_models:
        return None
    size = {b.id: float(b.size_bytes) for b in blocks}
    return float(cfg.memory_models) * max(sum(size[b] for b in m.blocks) for m in models)


def reference_time(instance: Instance) -> float:
    """Time to serve every user with no reuse of GPU memory: the scale of the deadlines.

    All uploads (optimal split), then every requested model loaded once in full from an empty
    GPU, and every inference: ``Σ_k a_k/B + Σ_{requested i} size_i / v + Σ_k c_{m_k}``.
    """
    used = np.unique(instance.user_models)
    return float(
        instance.upload_times.sum()
        + instance.model_sizes[used].sum() / instance.load_speed_bytes_per_s
        + instance.infer_times[instance.user_models].sum()
    )


def _with_deadlines(instance: Instance, cfg: ScenarioConfig, rng: np.random.Generator) -> Instance:
    scale = cfg.tightness * reference_time(instance)
    k = instance.num_users
    deadlines = np.full(k, scale) if cfg.deadlines == "common" else rng.uniform(0.5, 1.5, k) * scale
    deadlines = np.maximum(np.round(deadlines, 6), 1e-6)
    users = tuple(replace(u, deadline_s=float(d)) for u, d in zip(instance.users, deadlines, strict=True))
    return replace(instance, users=users)


# --------------------------------------------------------------------------- synthetic families
def _log_uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    lo, hi = bounds
    if not 0 < lo <= hi:
        raise ScenarioError(f"size range must satisfy 0 < low <= high (got {bounds})")
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _mb(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(round(_log_uniform(rng, bounds) * 1e6))


def _infer(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    lo, hi = bounds
    if not 0 <= lo <= hi:
        raise ScenarioError(f"inference time range must satisfy 0 <= low <= high (got {bounds})")
    return round(float(rng.uniform(lo, hi)) / 1e3, 6)


Built = tuple[list[Block], list[Model], list[str]]

_Config = typing.TypeVar("_Config", bound="ScenarioConfig")


def _expect(cfg: ScenarioConfig, kind: type[_Config]) -> _Config:
    # Each builder is registered with its own config class; another one is a wiring mistake.
    if not isinstance(cfg, kind):
        raise ScenarioError(f"{kind.__name__} expected, got {type(cfg).__name__}")
    return cfg


def _backbone(cfg: ScenarioConfig, rng: np.random.Generator) -> Built:
    cfg = _expect(cfg, BackboneConfig)
    m = cfg.n_models
    clusters = min(cfg.n_clusters or max(1, round(math.sqrt(m))), m)
    # Every cluster gets at least one model.
    assign = np.concatenate([np.arange(clusters), rng.integers(0, clusters, m - clusters)])
    blocks = [Block(f"bb{c}", _mb(rng, cfg.backbone_mb)) for c in range(clusters)]
    models = []
    for i in range(m):
        head = Block(f"head{i}", _mb(rng, cfg.head_mb))
        blocks.append(head)
        models.append(Model(f"m{i}", (f"bb{int(assign[i])}", head.id), _infer(rng, cfg.infer_ms)))
    return blocks, models, [cfg.modality] * m


def _depths(rng: np.random.Generator, n: int, top: int, nested: int, exclude_top: bool = False) -> list[int]:
    """``n`` freeze depths in ``0..top``; the first ``nested`` ones distinct and positive.

    Three models of one family frozen at distinct positive depths ``k1 < k2 < k3`` make the
    structure general: all three share the bottom layer, but layer ``k1`` is shared by the other
    two only. (With fewer models, or depth 0, the family may collapse into backbone sharing.)
    """
    high = top - 1 if exclude_top else top
    nested = min(nested, n)
    if nested and high >= nested:
        first = [int(k) for k in rng.choice(np.arange(1, high + 1), size=nested, replace=False)]
    else:
        first = []
    return first + [int(k) for k in rng.integers(0, top + 1, n - len(first))]


def _general(cfg: ScenarioConfig, rng: np.random.Generator) -> Built:
    cfg = _expect(cfg, GeneralConfig)
    m = cfg.n_models
    lo, hi = cfg.depth
    if not 1 <= lo <= hi:
        raise ScenarioError(f"depth range must satisfy 1 <= low <= high (got {cfg.depth})")
    if not 0 <= cfg.cross_share <= 1:
        raise ScenarioError(f"cross_share must be in [0, 1] (got {cfg.cross_share})")
    # Round-robin assignment with at most m/3 bases gives every base three models or more.
    n_bases = min(cfg.n_bases or max(1, m // 3), m)
    blocks: list[Block] = []
    trunks = []
    for f in range(n_bases):
        depth = int(rng.integers(lo, hi + 1))
        trunk = [Block(f"base{f}.layer{d}", _mb(rng, cfg.layer_mb)) for d in range(depth)]
        blocks += trunk
        trunks.append(trunk)
    members = [list(range(f, m, n_bases)) for f in range(n_bases)]
    keeps = [_depths(rng, len(members[f]), len(trunks[f]), 3) for f in range(n_bases)]
    keep_of = {i: keeps[f][pos] for f in range(n_bases) for pos, i in enumerate(members[f])}
    common = Block("shared.embedding", _mb(rng, cfg.layer_mb))
    blocks.append(common)
    models = []
    for i in range(m):
        trunk = trunks[i % n_bases]
        keep = keep_of[i]
        own = [Block(f"m{i}.layer{d}", _mb(rng, cfg.layer_mb)) for d in range(keep, len(trunk))]
        head = Block(f"m{i}.head", _mb(rng, cfg.head_mb))
        blocks += [*own, head]
        extra = [common.id] if rng.random() < cfg.cross_share else []
        ids = (*tuple(b.id for b in trunk[:keep] + own), head.id, *extra)
        models.append(Model(f"m{i}", ids, _infer(rng, cfg.infer_ms)))
    used = {b for model in models for b in model.blocks}
    return [b for b in blocks if b.id in used], models, [cfg.modality] * m


# --------------------------------------------------------------------------- zoo families
def _classes(rng: np.random.Generator, arch: zoo.Architecture, n: int) -> list[int]:
    pool = IMAGE_DATASET_CLASSES if arch.modality == "image" else TEXT_DATASET_CLASSES
    return [int(c) for c in rng.choice(pool, size=n)]


def _split(n: int, parts: int) -> list[int]:
    """``n`` items dealt round-robin to ``parts`` piles: the pile sizes."""
    return [len(range(p, n, parts)) for p in range(parts)]


def _zoo_arch(name: str) -> zoo.Architecture:
    try:
        return zoo.load(name)
    except zoo.ZooError as exc:
        raise ScenarioError(str(exc)) from None


def _heads_part(cfg: ZooConfig, arch: zoo.Architecture, n: int, rng: np.random.Generator) -> zoo.Family:
    return zoo.heads_family(arch, _classes(rng, arch, n), precision=cfg.precision, infer_time_s=cfg.infer_time(arch))


def _freeze_part(
    cfg: ZooConfig, arch: zoo.Architecture, n: int, include_base: bool, rng: np.random.Generator
) -> zoo.Family:
    variants = n - 1 if include_base else n
    # The base model counts as frozen at full depth: two nested variants below it suffice.
    depths = _depths(rng, variants, arch.depth, 2 if include_base else 3, exclude_top=include_base)
    return zoo.freeze_family(
        arch,
        depths,
        classes=_classes(rng, arch, variants),
        include_base=include_base,
        precision=cfg.precision,
        infer_time_s=cfg.infer_time(arch),
    )


def _lora_part(
    cfg: ZooConfig, arch: zoo.Architecture, n: int, ranks: Sequence[int], fraction: float, rng: np.random.Generator
) -> zoo.Family:
    if arch.lora_dim is None:
        raise ScenarioError(
            f"{arch.name} is not a transformer: LoRA families need vit_b_16, bert_base_uncased or llama2_7b"
        )
    if not 0 < fraction <= 1:
        raise ScenarioError(f"adapted_fraction must be in (0, 1] (got {fraction})")
    if not ranks or min(ranks) < 1:
        raise ScenarioError(f"ranks must be positive integers (got {ranks})")
    layers = arch.lora_layers[len(arch.lora_layers) - max(1, round(fraction * len(arch.lora_layers))) :]
    # Each adapter draws its own rank, so build them one at a time and rename them into one
    # family around a single copy of the shared base.
    base = zoo.lora_family(arch, 0, layers=layers, precision=cfg.precision, infer_time_s=cfg.infer_time(arch))
    family = base
    for j in range(n):
        r = int(rng.choice(list(ranks)))
        one = zoo.lora_family(
            arch, 1, rank=r, layers=layers, precision=cfg.precision, infer_time_s=cfg.infer_time(arch)
        )
        own = one.blocks[len(base.blocks) :]
        rename = {b.id: b.id.replace(".lora0.", f".lora{j}.") for b in own}
        model = one.models[0]
        family = family + zoo.Family(
            tuple(Block(rename[b.id], b.size_bytes) for b in own),
            (Model(f"{arch.name}.lora{j}.r{r}", tuple(rename.get(b, b) for b in model.blocks), model.infer_time_s),),
        )
    return family


def _done(family: zoo.Family, archs: Sequence[zoo.Architecture]) -> Built:
    by_prefix = {a.name: a for a in archs}
    modality: list[str] = [by_prefix[m.id.split(".", 1)[0]].modality for m in family.models]
    return list(family.blocks), list(family.models), modality


def _zoo_heads(cfg: ScenarioConfig, rng: np.random.Generator) -> Built:
    cfg = _expect(cfg, ZooHeadsConfig)
    if not cfg.architectures:
        raise ScenarioError("architectures must name at least one architecture")
    archs = [_zoo_arch(a) for a in cfg.architectures]
    family = zoo.Family((), ())
    for arch, n in zip(archs, _split(cfg.n_models, len(archs)), strict=True):
        if n:
            family = family + _heads_part(cfg, arch, n, rng)
    return _done(family, archs)


def _zoo_freeze(cfg: ScenarioConfig, rng: np.random.Generator) -> Built:
    cfg = _expect(cfg, ZooFreezeConfig)
    arch = _zoo_arch(cfg.architecture)
    return _done(_freeze_part(cfg, arch, cfg.n_models, cfg.include_base, rng), [arch])


def _zoo_lora(cfg: ScenarioConfig, rng: np.random.Generator) -> Built:
    cfg = _expect(cfg, ZooLoraConfig)
    arch = _zoo_arch(cfg.architecture)
    return _done(_lora_part(cfg, arch, cfg.n_models, cfg.ranks, cfg.adapted_fraction, rng), [arch])


def _zoo_mixed(cfg: ScenarioConfig, rng: np.random.Generator) -> Built:
    cfg = _expect(cfg, ZooMixedConfig)
    names = (cfg.heads_architecture, cfg.freeze_architecture, cfg.lora_architecture)
    if len(set(names)) != 3:
        raise ScenarioError(f"the three families need three different architectures (got {', '.join(names)})")
    heads, freeze, lora = (_zoo_arch(n) for n in names)
    # The freeze family gets at least three models (the base and two variants) so that the mix
    # is general sharing; the heads and LoRA families share the rest.
    n_freeze = min(cfg.n_models, max(3, round(cfg.n_models / 3)))
    n_heads, n_lora = _split(cfg.n_models - n_freeze, 2)
    family = zoo.Family((), ())
    if n_heads:
        family = family + _heads_part(cfg, heads, n_heads, rng)
    if n_freeze:
        family = family + _freeze_part(cfg, freeze, n_freeze, True, rng)
    if n_lora:
        family = family + _lora_part(cfg, lora, n_lora, (8, 16, 32, 64), 1.0, rng)
    used = {b for m in family.models for b in m.blocks}
    family = zoo.Family(tuple(b for b in family.blocks if b.id in used), family.models)
    return _done(family, [heads, freeze, lora])


_BUILDERS = {
    "backbone": _backbone,
    "general": _general,
    "zoo-heads": _zoo_heads,
    "zoo-freeze": _zoo_freeze,
    "zoo-lora": _zoo_lora,
    "adapters": _zoo_lora,
    "zoo-mixed": _zoo_mixed,
}
