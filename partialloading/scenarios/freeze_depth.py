"""The ``zoo-freeze-depth`` family: ``zoo-freeze`` with one freeze depth for every variant."""

from __future__ import annotations

import dataclasses
from typing import Any

from partialloading import zoo
from partialloading.errors import ScenarioError
from partialloading.instance import Instance

from .configs import ZooFreezeConfig, config
from .configured import generate

FREEZE_DEPTH_FAMILY = "zoo-freeze-depth"
"""The ``zoo-freeze`` family with one freeze depth for every variant: parameter ``frozen_fraction``.

``zoo-freeze`` draws each variant's depth at random; this family sets it, so that a sweep over
``frozen_fraction`` (0: fully fine-tuned copies share nothing; 1: only the heads differ) measures
throughput against the depth of sharing. Everything else (users, inputs, radio, deadlines) is
the ``zoo-freeze`` instance of the same seed and parameters."""


def freeze_depth(seed: int, **params: Any) -> Instance:
    """The ``zoo-freeze`` instance of ``seed`` with every variant frozen at ``frozen_fraction`` of its depth."""

    fraction = params.pop("frozen_fraction", None)
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 <= fraction <= 1:
        raise ScenarioError(f"{FREEZE_DEPTH_FAMILY} needs frozen_fraction in [0, 1] (got {fraction!r})")
    try:
        cfg = config("zoo-freeze", **params)
        base = generate("zoo-freeze", seed, **params)
    except ScenarioError as exc:
        raise ScenarioError(f"family {FREEZE_DEPTH_FAMILY!r}: {exc}") from None
    if not isinstance(cfg, ZooFreezeConfig):
        raise ScenarioError(f"family {FREEZE_DEPTH_FAMILY!r}: zoo-freeze built a {type(cfg).__name__}")
    arch = zoo.load(cfg.architecture)
    depth = round(fraction * arch.depth)
    variants = base.num_models - 1 if cfg.include_base else base.num_models
    family = zoo.freeze_family(
        arch,
        [depth] * variants,
        include_base=cfg.include_base,
        precision=cfg.precision,
        infer_time_s=base.models[0].infer_time_s,
    )
    # Same model positions as zoo-freeze (base first, then the variants): users keep their request.
    rename = {old.id: new.id for old, new in zip(base.models, family.models, strict=True)}
    used = {b for m in family.models for b in m.blocks}
    return dataclasses.replace(
        base,
        blocks=tuple(b for b in family.blocks if b.id in used),
        models=family.models,
        users=tuple(dataclasses.replace(u, model=rename[u.model]) for u in base.users),
        initial_model=None if base.initial_model is None else rename[base.initial_model],
        name=f"{base.name}-frozen{depth}",
        meta={**dict(base.meta), "frozen_depth": depth},
    )
