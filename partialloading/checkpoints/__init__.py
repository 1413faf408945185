"""Block structures from real checkpoints, and the loading speed of the machine that serves.

Entry points::

    from partialloading import checkpoints

    catalog = checkpoints.derive(["base/", "birds-head.safetensors", "lora-a/"])
    checkpoints.write_models(catalog, "models.json")
    speed = checkpoints.calibrate(["base/"]).load_speed_bytes_per_s

:func:`derive` hashes every tensor's bytes (streamed through one buffer) and returns the
coarsest blocks that lose no sharing (:mod:`~partialloading.checkpoints.partition`); the
catalog (:class:`ModelCatalog`) is the ``blocks``/``models`` part of an instance, which
:func:`partialloading.scenarios.generate_with_models` completes with users.
"""

from __future__ import annotations

from .calibrate import Calibration, calibrate
from .catalog import (
    MODELS_FORMAT,
    CatalogBlock,
    CatalogModel,
    ModelCatalog,
    catalog_from_dict,
    catalog_to_dict,
    parse_infer_times,
    read_models,
    write_models,
)
from .errors import CheckpointError
from .partition import ModelTensors, derive, digest_models, partition, total_bytes
from .safetensors_file import TensorDigest, digest_tensors, read_checked_header
from .sources import FilePart, ModelSource, resolve

__all__ = [
    "MODELS_FORMAT",
    "Calibration",
    "CatalogBlock",
    "CatalogModel",
    "CheckpointError",
    "FilePart",
    "ModelCatalog",
    "ModelSource",
    "ModelTensors",
    "TensorDigest",
    "calibrate",
    "catalog_from_dict",
    "catalog_to_dict",
    "derive",
    "digest_models",
    "digest_tensors",
    "parse_infer_times",
    "partition",
    "read_checked_header",
    "read_models",
    "resolve",
    "total_bytes",
    "write_models",
]
