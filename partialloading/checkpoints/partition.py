"""The coarsest block partition of a set of checkpoints.

Two tensors are the same parameters when their dtype, shape and bytes agree (the bytes compared
by their XXH3-128 digest). A model holding the same parameters twice holds two copies (the
first and second *occurrence*), so a model's size is always the sum of its tensors' bytes. Each
occurrence belongs to a set of models; one block per set, holding every occurrence of that set:
the coarsest partition that loses no sharing, since merging two blocks with different model
sets would make one of those models load bytes it does not hold, and splitting one gains
nothing, as every model holds all of it or none of it.

Block ids are made to be read: ``OWNERS/PREFIX[N]`` with ``OWNERS`` the model holding the block,
``shared`` when every model does, or the models joined by ``+``; ``PREFIX`` the longest common
dotted prefix of the tensor names (or their distinct first parts); ``N`` the number of tensors.
They depend only on the checkpoints and the order of the models, so a second run gives the same
ids. Blocks are listed from the most widely shared to the least, then in the order their first
tensor appears (the models in the order given, each model's tensors in file order).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .catalog import CatalogBlock, CatalogModel, ModelCatalog
from .errors import CheckpointError
from .safetensors_file import CHUNK_BYTES, TensorDigest, digest_tensors, read_header
from .sources import ModelSource, resolve

Content = tuple[str, tuple[int, ...], int, str]
"""What identifies parameters: dtype, shape, size and digest (:attr:`TensorDigest.content`)."""


@dataclass(frozen=True)
class ModelTensors:
    """The digested tensors of one model, in file order (an adapter: its base's, then its own)."""

    source: ModelSource
    tensors: tuple[TensorDigest, ...]


def total_bytes(sources: Sequence[ModelSource]) -> int:
    """Bytes to read to digest ``sources`` (each file once per model that holds it)."""
    total = 0
    for source in sources:
        for part in source.parts:
            # The header alone: digesting checks the file with the safetensors package anyway.
            entries, _, _ = read_header(part.path)
            total += sum(e.end - e.start for e in entries if part.tensors is None or e.name in part.tensors)
    return total


def digest_models(
    sources: Sequence[ModelSource], progress: Callable[[int], object] | None = None
) -> list[ModelTensors]:
    """Digest every tensor of every model (files shared by several models are read once)."""
    buffer = bytearray(CHUNK_BYTES)
    cache: dict[tuple[str, frozenset[str] | None], list[TensorDigest]] = {}
    out = []
    for source in sources:
        tensors: list[TensorDigest] = []
        for part in source.parts:
            key = (os.path.realpath(part.path), part.tensors)
            if key not in cache:
                cache[key] = digest_tensors(
                    part.path, set(part.tensors) if part.tensors is not None else None, buffer, progress
                )
            tensors.extend(cache[key])
        if not tensors:
            raise CheckpointError(source.path, "", "holds no tensors")
        out.append(ModelTensors(source, tuple(tensors)))
    return out


def _prefix(names: Sequence[str]) -> str:
    split = [n.split(".") for n in names]
    common: list[str] = []
    for parts in zip(*split, strict=False):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    if len(common) == min(len(s) for s in split) and len(names) > 1:
        common = common[:-1]  # one of the names would otherwise be the prefix of the rest
    if common:
        return ".".join(common)
    firsts = list(dict.fromkeys(s[0] for s in split))
    return "+".join(firsts) if len(firsts) <= 3 else f"{'+'.join(firsts[:2])}+{len(firsts) - 2}more"


def _owners(members: Sequence[str], every: int) -> str:
    if len(members) == every and every > 1:
        return "shared"
    if len(members) <= 3:
        return "+".join(members)
    return f"{members[0]}+{len(members) - 1}others"


def partition(models: Sequence[ModelTensors]) -> ModelCatalog:
    """The coarsest blocks of ``models`` (see the module docstring), as a catalog."""
    ids = [m.source.id for m in models]
    # occurrence -> (models holding it, its name in the first of them, its size, first position)
    holders: dict[tuple[Content, int], list[int]] = {}
    first_seen: dict[tuple[Content, int], tuple[int, int, str, int]] = {}
    for m, model in enumerate(models):
        count: dict[Content, int] = {}
        for pos, tensor in enumerate(model.tensors):
            k = count.get(tensor.content, 0)
            count[tensor.content] = k + 1
            key = (tensor.content, k)
            holders.setdefault(key, []).append(m)
            first_seen.setdefault(key, (m, pos, tensor.name, tensor.nbytes))
    groups: dict[tuple[int, ...], list[tuple[Content, int]]] = {}
    for key in sorted(first_seen, key=lambda k: first_seen[k][:2]):
        groups.setdefault(tuple(holders[key]), []).append(key)
    blocks: list[CatalogBlock] = []
    members_of: list[tuple[int, ...]] = []
    used: dict[str, int] = {}
    # The most widely shared blocks first, then in the order their tensors first appear.
    for members, keys in sorted(groups.items(), key=lambda item: (-len(item[0]), first_seen[item[1][0]][:2])):
        names = [first_seen[k][2] for k in keys]
        base = f"{_owners([ids[m] for m in members], len(ids))}/{_prefix(names)}[{len(keys)}]"
        used[base] = used.get(base, 0) + 1
        block_id = base if used[base] == 1 else f"{base}#{used[base]}"
        blocks.append(CatalogBlock(block_id, float(sum(first_seen[k][3] for k in keys)), len(keys)))
        members_of.append(members)
    catalog_models = []
    for m, model in enumerate(models):
        owned = tuple(b.id for b, members in zip(blocks, members_of, strict=True) if m in members)
        catalog_models.append(CatalogModel(model.source.id, owned, None, model.source.path))
    meta = {"derived_from": "safetensors checkpoints", "tensor_identity": "dtype, shape and XXH3-128 of the bytes"}
    return ModelCatalog(tuple(blocks), tuple(catalog_models), meta)


def derive(
    paths: Sequence[str | os.PathLike[str]],
    names: Sequence[str] | None = None,
    progress: Callable[[int], object] | None = None,
) -> ModelCatalog:
    """The block structure of the checkpoints at ``paths`` (see :func:`~.sources.resolve`).

    Parameters
    ----------
    paths
        One checkpoint per model.
    names
        Model ids instead of the file and folder names.
    progress
        Called with the bytes read after each read (for a progress bar).

    Raises
    ------
    CheckpointError
        Anything wrong with a file, folder, index or adapter, naming it.
    """
    return partition(digest_models(resolve(paths, names), progress))
