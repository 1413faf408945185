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

from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from typing import Any

import numpy as np

from partialloading.batch_tables import with_batch_tables
from partialloading.errors import ScenarioError
from partialloading.instance import Block, Instance, Model, User

from .builders import BUILDERS, Built
from .configs import CONFIGS, IMAGE_RAW_BITS, JPEG_BITS_PER_PIXEL, ScenarioConfig, config


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
    return _assemble(family, cfg, seed, lambda rng: BUILDERS[family](cfg, rng), f"{family}-u{cfg.n_users}")


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
        built_blocks, built_models, modality = BUILDERS[family](cfg, model_rng)
        built_models = with_batch_tables(built_models, cfg.max_batch, cfg.batch_table)
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
    # Deadlines are drawn against the unbatched times (the reference time), so batching shows.
    models = with_batch_tables(models, cfg.max_batch, cfg.batch_table)
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
        meta={
            "generator": "partialloading.scenarios",
            "family": family,
            "seed": int(seed),
            "config": _config_meta(cfg),
        },
    )
    return _with_deadlines(instance, cfg, deadline_rng)


def _config_meta(cfg: ScenarioConfig) -> dict[str, Any]:
    """The configuration written into an instance's ``meta`` (the batch settings only when
    batching is on, so files without batching read as before)."""
    meta = asdict(cfg)
    if cfg.max_batch == 1:
        meta.pop("max_batch")
        meta.pop("batch_table")
    return meta


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
