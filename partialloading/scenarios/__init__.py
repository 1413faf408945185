"""Instance families: one registry for the synthetic, random and real-architecture generators.

Entry point::

    from partialloading import scenarios

    instance = scenarios.generate("zoo-lora", seed=3, n_users=30, tightness=0.3)
    scenarios.FAMILIES  # every family name

Three kinds of family share the registry:

* the *configured* families (:mod:`~partialloading.scenarios.configured`: ``backbone``,
  ``general`` and the model-zoo families), each with an immutable configuration dataclass
  (:data:`CONFIGS`, :mod:`~partialloading.scenarios.configs`; the radio cell in
  :mod:`~partialloading.scenarios.cell`, the blocks and models drawn by
  :mod:`~partialloading.scenarios.builders`) whose fields are the parameters ``generate`` accepts, a physical uplink and
  calibrated deadlines;
* the ``random-*`` families (:mod:`~partialloading.scenarios.synthetic`): quick random draws of
  a chosen sharing structure (:func:`random_instance`), used by the tests and benchmarks;
* ``zoo-freeze-depth`` (:mod:`~partialloading.scenarios.freeze_depth`): ``zoo-freeze`` with one
  freeze depth for every variant.

:func:`generate_with_models` draws the users of a configured family for models given from
outside (a catalog derived from checkpoints by :mod:`partialloading.checkpoints`).

The same family, seed and parameters give the same instance. Every failure is a
:class:`ScenarioError` naming the family and the parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from partialloading.errors import ScenarioError
from partialloading.instance import Instance
from partialloading.network import Network

from . import configs
from .builders import Built
from .cell import Cell
from .cells import CELLS_FAMILY, cells
from .configs import (
    CONFIGS,
    IMAGE_DATASET_CLASSES,
    IMAGE_RAW_BITS,
    LOAD_SPEEDS,
    TEXT_DATASET_CLASSES,
    BackboneConfig,
    GeneralConfig,
    ScenarioConfig,
    ZooConfig,
    ZooFreezeConfig,
    ZooHeadsConfig,
    ZooLoraConfig,
    ZooMixedConfig,
    config,
)
from .configured import generate as generate_configured
from .configured import generate_from, generate_with_models, reference_time
from .freeze_depth import FREEZE_DEPTH_FAMILY, freeze_depth
from .synthetic import Deadlines, Structure, random_batched_instance, random_instance, with_own_times

RANDOM_FAMILIES: Mapping[str, Structure] = {
    "random-backbone": "backbone",
    "random-general": "general",
    "random-none": "none",
}
"""Families built on :func:`random_instance`, by sharing structure."""

FAMILIES: tuple[str, ...] = (*RANDOM_FAMILIES, *configs.FAMILIES, FREEZE_DEPTH_FAMILY)
"""Names of every instance family :func:`generate` knows."""

NETWORK_FAMILIES: tuple[str, ...] = (CELLS_FAMILY,)
"""Names of the families of several servers (:func:`generate_network`)."""


def generate_network(family: str, seed: int, **params: Any) -> Network:
    """Generate one instance of a family of several servers (:data:`NETWORK_FAMILIES`):
    ``cells`` takes ``n_servers``, ``n_users``, ``isd_m``, ``coverage_m``, ``base`` and the base
    family's fields (:func:`~partialloading.scenarios.cells.cells`)."""
    if family != CELLS_FAMILY:
        raise ScenarioError(f"unknown family of several servers {family!r} (choose from {', '.join(NETWORK_FAMILIES)})")
    renamed = {"servers": "n_servers", "users": "n_users"}
    params = {renamed.get(k, k): v for k, v in params.items()}
    try:
        return cells(seed, **params)
    except TypeError as exc:
        raise ScenarioError(f"cells: {exc}") from None


def generate(family: str, seed: int, **params: Any) -> Instance:
    """Generate one instance of ``family`` with seed ``seed``.

    Parameters
    ----------
    family
        One of :data:`FAMILIES`.
    seed
        Seed of the random draws: the same family, seed and parameters give the same instance.
    **params
        The family's parameters: the fields of its configuration class (:data:`CONFIGS`), the
        keyword arguments of :func:`random_instance` (but ``structure``), or ``frozen_fraction``
        plus the ``zoo-freeze`` fields.

    Raises
    ------
    ScenarioError
        Unknown family or parameter, or a value out of range.
    """
    if family in NETWORK_FAMILIES:
        raise ScenarioError(f"{family} is a family of several servers: generate it with generate_network")
    if family in RANDOM_FAMILIES:
        if "structure" in params:
            raise ScenarioError(f"family {family!r}: the structure is fixed by the family")
        try:
            return random_instance(seed, structure=RANDOM_FAMILIES[family], **params)
        except TypeError as exc:  # an unknown keyword
            raise ScenarioError(f"family {family!r}: {exc}") from None
    if family == FREEZE_DEPTH_FAMILY:
        return freeze_depth(seed, **params)
    if family not in configs.FAMILIES:
        raise ScenarioError(f"unknown family {family!r} (choose from {', '.join(FAMILIES)})")
    return generate_configured(family, seed, **params)


__all__ = [
    "CELLS_FAMILY",
    "CONFIGS",
    "FAMILIES",
    "FREEZE_DEPTH_FAMILY",
    "IMAGE_DATASET_CLASSES",
    "IMAGE_RAW_BITS",
    "LOAD_SPEEDS",
    "NETWORK_FAMILIES",
    "RANDOM_FAMILIES",
    "TEXT_DATASET_CLASSES",
    "BackboneConfig",
    "Built",
    "Cell",
    "Deadlines",
    "GeneralConfig",
    "ScenarioConfig",
    "ScenarioError",
    "Structure",
    "ZooConfig",
    "ZooFreezeConfig",
    "ZooHeadsConfig",
    "ZooLoraConfig",
    "ZooMixedConfig",
    "cells",
    "config",
    "generate",
    "generate_from",
    "generate_network",
    "generate_with_models",
    "random_batched_instance",
    "random_instance",
    "reference_time",
    "with_own_times",
]
