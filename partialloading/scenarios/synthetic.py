"""Random synthetic instances for tests, checks and studies.

``random_instance`` draws small to large instances with a chosen sharing structure:

* ``"backbone"`` — models grouped in clusters; each cluster has a backbone of one or more
  blocks shared by all its models, and each model owns a head block (the exact case of the DP);
* ``"general"`` — arbitrary sharing: blocks in layers, each model takes the bottom layers of a
  random "parent" up to a random depth and owns the rest (fine-tunes frozen at varying depth),
  plus occasional blocks shared across families;
* ``"none"`` — no block is shared.

Numbers are drawn on realistic scales (blocks of 1–200 MB loaded at 2–10 GB/s, inputs of
0.2–2 Mbit over a 10–40 MHz uplink), and deadlines are calibrated against the time to serve
everyone so that a varying fraction of the users fits.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np

from partialloading.batch_tables import random_tables
from partialloading.errors import ScenarioError
from partialloading.instance import Block, Instance, Model, User

from .configs import MAX_USERS

Structure = Literal["backbone", "general", "none"]
Deadlines = Literal["common", "per_user"]


def random_instance(
    seed: int,
    n_users: int = 6,
    n_models: int = 3,
    *,
    structure: Structure = "backbone",
    deadlines: Deadlines = "common",
    n_clusters: int | None = None,
    weighted: bool = False,
    initial_model: bool = False,
    tightness: float | None = None,
    name: str | None = None,
) -> Instance:
    """Draw a random instance.

    Parameters
    ----------
    seed
        Seed of the random generator; the same arguments give the same instance.
    n_users, n_models
        Numbers of users and models (every model may be requested; some may not be).
    structure
        Sharing structure, see the module documentation.
    deadlines
        One deadline for everyone, or a deadline per user.
    n_clusters
        Number of clusters for ``"backbone"`` (default: about ``sqrt(n_models)``).
    weighted
        Draw integer weights 1–5 instead of unit weights.
    initial_model
        Start with a random model in GPU memory instead of an empty GPU.
    tightness
        Deadline as a fraction of the time to serve everyone (default: uniform in 0.2–1.1).
    name
        Instance name (default derived from the arguments).
    """
    if n_users < 0 or n_models < 1:
        raise ScenarioError("need n_users >= 0 and n_models >= 1")
    if n_users > MAX_USERS:
        raise ScenarioError(f"n_users must be at most {MAX_USERS:,} (an instance file is read whole)")
    rng = np.random.default_rng(seed)
    v = float(rng.choice([2e9, 4e9, 1e10]))
    draw = _BlockDraw(rng)
    if structure == "backbone":
        model_blocks = draw.backbone(n_models, n_clusters)
    elif structure == "general":
        model_blocks = draw.general(n_models)
    elif structure == "none":
        model_blocks = [[draw.block("blk", 10, 200) for _ in range(int(rng.integers(1, 3)))] for _ in range(n_models)]
    else:
        raise ScenarioError(f"unknown structure {structure!r}")
    blocks = draw.blocks

    models = tuple(
        Model(f"m{i}", tuple(bl), float(np.round(rng.uniform(0.002, 0.03), 6))) for i, bl in enumerate(model_blocks)
    )
    bandwidth = float(rng.choice([1e7, 2e7, 4e7]))
    requested = rng.integers(0, n_models, n_users)
    data = np.round(rng.uniform(2e5, 2e6, n_users))
    eta = np.round(rng.uniform(1.0, 8.0, n_users), 3)
    # Time to serve everyone, grouped by model, from an empty GPU: the scale of the deadlines.
    sizes = np.array([sum(b.size_bytes for b in blocks if b.id in set(bl)) for bl in model_blocks])
    infer = sum(models[m].infer_time_s for m in requested)
    full = float((data / eta).sum() / bandwidth + sizes[np.unique(requested)].sum() / v + infer)
    user_deadlines = _deadlines(rng, deadlines, tightness, max(full, 1e-3), n_users)
    weights = rng.integers(1, 6, n_users) if weighted else np.ones(n_users, dtype=int)
    users = tuple(
        User(f"u{k}", f"m{int(m)}", float(d), float(t), spectral_efficiency=float(e), weight=int(w))
        for k, (m, d, t, e, w) in enumerate(zip(requested, data, user_deadlines, eta, weights, strict=True))
    )
    init = f"m{int(rng.integers(n_models))}" if initial_model else None
    label = name or f"{structure}-{deadlines}-u{n_users}-m{n_models}-s{seed}"
    meta = dict(generator="random_instance", seed=seed, structure=structure, deadlines=deadlines, weighted=weighted)
    return Instance(tuple(blocks), models, users, bandwidth, v, initial_model=init, name=label, meta=meta)


class _BlockDraw:
    """The blocks of a random instance, drawn one after another from ``rng`` (ids numbered in
    drawing order), and the block lists of its models by sharing structure."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.blocks: list[Block] = []

    def block(self, prefix: str, low_mb: float, high_mb: float) -> str:
        bid = f"{prefix}{len(self.blocks)}"
        self.blocks.append(Block(bid, float(np.round(self.rng.uniform(low_mb, high_mb) * 1e6))))
        return bid

    def backbone(self, n_models: int, n_clusters: int | None) -> list[list[str]]:
        """Clusters of models on one backbone (one or two blocks), one head each."""
        rng = self.rng
        clusters = n_clusters or max(1, round(np.sqrt(n_models)))
        clusters = min(clusters, n_models)
        # Every cluster gets at least one model.
        assign = np.concatenate([np.arange(clusters), rng.integers(0, clusters, n_models - clusters)])
        backbones = [[self.block("bb", 20, 200) for _ in range(int(rng.integers(1, 3)))] for _ in range(clusters)]
        return [[*backbones[int(assign[i])], self.block("head", 1, 30)] for i in range(n_models)]

    def general(self, n_models: int) -> list[list[str]]:
        """Families of layered models fine-tuned from varying depths, some sharing common blocks."""
        rng = self.rng
        depth = int(rng.integers(3, 7))
        n_families = max(1, n_models // 3)
        trunks = [[self.block("layer", 5, 60) for _ in range(depth)] for _ in range(n_families)]
        common = [self.block("shared", 1, 20) for _ in range(2)]
        out = []
        for _ in range(n_models):
            fam = int(rng.integers(n_families))
            keep = int(rng.integers(0, depth + 1))
            own = [self.block("own", 5, 60) for _ in range(depth - keep)]
            extra = [b for b in common if rng.random() < 0.3]
            chosen = trunks[fam][:keep] + own + extra
            out.append(chosen or [self.block("own", 5, 60)])
        return out


def _deadlines(
    rng: np.random.Generator, deadlines: Deadlines, tightness: float | None, full: float, n_users: int
) -> np.ndarray:
    """Deadlines as a fraction of ``full``, the time to serve everyone: one for all, or one each."""
    if deadlines == "common":
        frac = tightness if tightness is not None else float(rng.uniform(0.2, 1.1))
        user_deadlines = np.full(n_users, np.round(frac * full, 6))
    else:
        hi = tightness if tightness is not None else float(rng.uniform(0.4, 1.2))
        user_deadlines = np.round(rng.uniform(0.1, 1.0, n_users) * hi * full, 6)
    return np.maximum(user_deadlines, 1e-4)


def random_batched_instance(seed: int, n_users: int, timing: str = "frame") -> Instance:
    """A batched instance of the exact methods' benchmarks (``benchmarks/batching_exact.py``):
    :func:`random_instance` with ``general`` sharing over 4–6 models (``4 + seed % 3``), per-user
    deadlines, weights 1–3 on odd seeds, and a random batch table of 2–8 entries per model
    (:func:`~partialloading.batch_tables.random_tables`)."""
    inst = random_instance(
        seed, n_users, 4 + seed % 3, structure="general", deadlines="per_user", weighted=seed % 2 == 1
    )
    models = tuple(random_tables(inst.models, seed))
    return dataclasses.replace(inst, timing=timing, models=models)


def with_own_times(instance: Instance, seed: int, spread: float = 0.5) -> Instance:
    """``instance`` with each user's inference time drawn uniformly within ``±spread`` of its
    model's (seeded): the per-request times of SPEC §10 on a generated instance."""
    rng = np.random.default_rng(5000 + seed)
    base = instance.infer_times[instance.user_models] if instance.users else np.zeros(0)
    factor = rng.uniform(1 - spread, 1 + spread, instance.num_users)
    users = tuple(
        dataclasses.replace(u, infer_time_s=float(t * f)) for u, t, f in zip(instance.users, base, factor, strict=True)
    )
    return dataclasses.replace(instance, users=users)
