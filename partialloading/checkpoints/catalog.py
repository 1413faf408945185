"""A model catalog: the ``blocks`` and ``models`` of an instance without its users.

:func:`derive` builds one from checkpoints; :func:`read_models` and :func:`write_models` keep it
in a JSON file (format ``partialloading/models``, version 1) that ``generate --models`` turns
into instances. A catalog model may lack an inference time (the checkpoint does not say); an
instance needs one, so :meth:`ModelCatalog.instance_models` asks for it.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from partialloading.errors import FieldError, InstanceError
from partialloading.instance import Block, Model, check_number
from partialloading.io import build_checked, check_schema, read_json_file, write_text_atomic

MODELS_FORMAT = "partialloading/models"


@dataclass(frozen=True)
class CatalogBlock:
    """A block of a catalog: an instance :class:`~partialloading.Block` plus its tensor count."""

    id: str
    size_bytes: float
    tensors: int | None = None

    def __post_init__(self) -> None:
        Block(self.id, self.size_bytes)  # the instance's own field checks
        if self.tensors is not None and (
            isinstance(self.tensors, bool) or not isinstance(self.tensors, int) or self.tensors < 0
        ):
            raise FieldError("tensors", f"must be a non-negative integer (got {self.tensors!r})")


LATENCY_FIELDS = ("overhead_s", "prefill_s_per_token", "decode_s_per_token")
"""The per-model latency table of a catalog (optional fields of every model)."""


@dataclass(frozen=True)
class CatalogModel:
    """A model of a catalog: its blocks, and its inference time when known.

    Parameters
    ----------
    id, blocks
        As in :class:`~partialloading.Model`.
    infer_time_s
        Inference time of one request (``None``: not known yet).
    source
        The checkpoint it was derived from, if any.
    overhead_s, prefill_s_per_token, decode_s_per_token
        The model's latency model for requests with tokens (a replayed LLM trace): a request of
        ``p`` prompt tokens that generates ``g`` tokens takes ``overhead_s + p·prefill_s_per_token
        + g·decode_s_per_token`` (``None``: the defaults of :mod:`partialloading.online.traces`).
    batch_infer_time_s
        Its batch table, as in :class:`~partialloading.Model` (its first entry ``infer_time_s``,
        which it needs), or ``None``.
    """

    id: str
    blocks: tuple[str, ...]
    infer_time_s: float | None = None
    source: str | None = None
    overhead_s: float | None = None
    prefill_s_per_token: float | None = None
    decode_s_per_token: float | None = None
    batch_infer_time_s: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.batch_infer_time_s is not None and self.infer_time_s is None:
            raise FieldError("batch_infer_time_s", "a batch table needs the model's infer_time_s (its first entry)")
        time = 0.0 if self.infer_time_s is None else self.infer_time_s
        checked = Model(self.id, self.blocks, time, self.batch_infer_time_s)
        object.__setattr__(self, "batch_infer_time_s", checked.batch_infer_time_s)
        object.__setattr__(self, "blocks", tuple(self.blocks))
        for name in LATENCY_FIELDS:
            value = getattr(self, name)
            if value is not None:
                check_number(name, value, allow_zero=True)


@dataclass(frozen=True)
class ModelCatalog:
    """Blocks and the models made of them; every reference checked once, here.

    Parameters
    ----------
    blocks, models
        As in an instance: unique ids, every model's blocks exist.
    meta
        Free-form provenance (the checkpoints, the hash).
    """

    blocks: tuple[CatalogBlock, ...]
    models: tuple[CatalogModel, ...]
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocks", tuple(self.blocks))
        object.__setattr__(self, "models", tuple(self.models))
        seen: set[str] = set()
        for pos, block in enumerate(self.blocks):
            if block.id in seen:
                raise InstanceError(f"blocks[{pos}].id", f"duplicate block id {block.id!r}")
            seen.add(block.id)
        names: set[str] = set()
        for pos, model in enumerate(self.models):
            if model.id in names:
                raise InstanceError(f"models[{pos}].id", f"duplicate model id {model.id!r}")
            names.add(model.id)
            for j, block_id in enumerate(model.blocks):
                if block_id not in seen:
                    raise InstanceError(f"models[{pos}].blocks[{j}]", f"unknown block {block_id!r}")
        if not self.models:
            raise InstanceError("models", "the catalog has no models")

    @property
    def block_sizes(self) -> npt.NDArray[np.float64]:
        """Size of each block in bytes, in block order."""
        return np.array([b.size_bytes for b in self.blocks], dtype=float)

    @property
    def membership(self) -> npt.NDArray[np.bool_]:
        """``membership[m, b]``: model ``m`` holds block ``b``."""
        index = {b.id: i for i, b in enumerate(self.blocks)}
        out = np.zeros((len(self.models), len(self.blocks)), dtype=bool)
        for m, model in enumerate(self.models):
            out[m, [index[b] for b in model.blocks]] = True
        return out

    @property
    def model_sizes(self) -> npt.NDArray[np.float64]:
        """Size of each model in bytes."""
        return self.membership.astype(float) @ self.block_sizes

    def shared_bytes(self) -> npt.NDArray[np.float64]:
        """``shared[m, n]``: bytes models ``m`` and ``n`` have in common (the diagonal: sizes)."""
        member = self.membership.astype(float)
        return (member * self.block_sizes) @ member.T

    def with_infer_times(self, times: Mapping[str, float]) -> ModelCatalog:
        """The same catalog with the inference times in ``times`` (model id -> seconds) set."""
        unknown = sorted(set(times) - {m.id for m in self.models})
        if unknown:
            raise InstanceError("", f"no model {unknown[0]!r} (models: {', '.join(m.id for m in self.models)})")
        models = tuple(dataclasses.replace(m, infer_time_s=times.get(m.id, m.infer_time_s)) for m in self.models)
        return ModelCatalog(self.blocks, models, self.meta)

    def instance_blocks(self) -> tuple[Block, ...]:
        """The blocks as instance blocks."""
        return tuple(Block(b.id, b.size_bytes) for b in self.blocks)

    def instance_models(self, source: str | None = None) -> tuple[Model, ...]:
        """The models as instance models; each needs its inference time.

        Raises
        ------
        InstanceError
            A model has no ``infer_time_s``.
        """
        out = []
        for pos, m in enumerate(self.models):
            if m.infer_time_s is None:
                raise InstanceError(
                    f"models[{pos}].infer_time_s",
                    f"model {m.id!r} has no inference time (derive the blocks with --infer-time, or add it)",
                    source,
                )
            out.append(Model(m.id, m.blocks, m.infer_time_s, m.batch_infer_time_s))
        return tuple(out)


def catalog_to_dict(catalog: ModelCatalog) -> dict[str, Any]:
    """The catalog as the JSON document of :func:`write_models` (every key, fixed order)."""
    blocks = []
    for b in catalog.blocks:
        entry: dict[str, Any] = {"id": b.id, "size_bytes": b.size_bytes}
        if b.tensors is not None:
            entry["tensors"] = b.tensors
        blocks.append(entry)
    models = []
    for m in catalog.models:
        doc: dict[str, Any] = {"id": m.id, "blocks": list(m.blocks)}
        if m.infer_time_s is not None:
            doc["infer_time_s"] = m.infer_time_s
        if m.batch_infer_time_s is not None:
            doc["batch_infer_time_s"] = list(m.batch_infer_time_s)
        if m.source is not None:
            doc["source"] = m.source
        for name in LATENCY_FIELDS:
            if getattr(m, name) is not None:
                doc[name] = getattr(m, name)
        models.append(doc)
    return {"format": MODELS_FORMAT, "version": 1, "meta": dict(catalog.meta), "blocks": blocks, "models": models}


def catalog_from_dict(data: Any, source: str | None = None) -> ModelCatalog:
    """Build a catalog from parsed JSON; the first problem is an :class:`InstanceError` with its path."""
    try:
        check_schema(data, "models-v1")
        blocks = [
            build_checked(
                f"blocks[{i}]", CatalogBlock, id=b["id"], size_bytes=b["size_bytes"], tensors=b.get("tensors")
            )
            for i, b in enumerate(data["blocks"])
        ]
        models = [
            build_checked(
                f"models[{i}]",
                CatalogModel,
                id=m["id"],
                blocks=tuple(m["blocks"]),
                infer_time_s=m.get("infer_time_s"),
                source=m.get("source"),
                batch_infer_time_s=m.get("batch_infer_time_s"),
                **{name: m.get(name) for name in LATENCY_FIELDS},
            )
            for i, m in enumerate(data["models"])
        ]
        return ModelCatalog(tuple(blocks), tuple(models), data.get("meta", {}))
    except InstanceError as exc:
        raise exc.with_source(source) if source else exc from None


def read_models(path: str | os.PathLike[str]) -> ModelCatalog:
    """Read a model catalog file (the output of ``partialloading blocks``)."""
    return catalog_from_dict(read_json_file(path), str(path))


def write_models(catalog: ModelCatalog, path: str | os.PathLike[str]) -> None:
    """Write ``catalog`` to ``path`` (atomically)."""
    write_text_atomic(path, json.dumps(catalog_to_dict(catalog), indent=2) + "\n")


def parse_infer_times(specs: Sequence[str], model_ids: Sequence[str]) -> dict[str, float]:
    """``--infer-time`` values: ``SECONDS`` (every model) or ``MODEL=SECONDS``, later ones win.

    Raises
    ------
    InstanceError
        A value is not a non-negative finite number, or names no model.
    """
    out: dict[str, float] = {}
    for spec in specs:
        name, sep, text = spec.rpartition("=")
        targets = [name] if sep else list(model_ids)
        if sep and name not in model_ids:
            raise InstanceError("--infer-time", f"no model {name!r} (models: {', '.join(model_ids)})")
        try:
            value = float(text)
            check_number("--infer-time", value, allow_zero=True)
        except (ValueError, FieldError):
            raise InstanceError(
                "--infer-time", f"expects SECONDS or MODEL=SECONDS, a non-negative number (got {spec!r})"
            ) from None
        for target in targets:
            out[target] = value
    return out
