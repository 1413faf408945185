"""The family builders: the blocks and models of each configured family (synthetic backbone
and general sharing, and the model-zoo families), drawn from one random stream."""

from __future__ import annotations

import math
import typing
from collections.abc import Sequence

import numpy as np

from partialloading import zoo
from partialloading.errors import ScenarioError
from partialloading.instance import Block, Model

from .configs import (
    IMAGE_DATASET_CLASSES,
    TEXT_DATASET_CLASSES,
    BackboneConfig,
    GeneralConfig,
    ScenarioConfig,
    ZooConfig,
    ZooFreezeConfig,
    ZooHeadsConfig,
    ZooLoraConfig,
    ZooMixedConfig,
)

Built = tuple[list[Block], list[Model], list[str]]


_Config = typing.TypeVar("_Config", bound="ScenarioConfig")


def _expect(cfg: ScenarioConfig, kind: type[_Config]) -> _Config:
    # Each builder is registered with its own config class; another one is a wiring mistake.
    if not isinstance(cfg, kind):
        raise ScenarioError(f"{kind.__name__} expected, got {type(cfg).__name__}")
    return cfg


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


BUILDERS = {
    "backbone": _backbone,
    "general": _general,
    "zoo-heads": _zoo_heads,
    "zoo-freeze": _zoo_freeze,
    "zoo-lora": _zoo_lora,
    "adapters": _zoo_lora,
    "zoo-mixed": _zoo_mixed,
}
