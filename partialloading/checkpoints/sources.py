"""Where a model's tensors are: a file, a Hugging Face folder, a sharded folder, a PEFT adapter.

:func:`resolve` turns the paths of a command line into :class:`ModelSource` objects, each a list
of ``(file, tensor names)`` parts, and checks everything that can be checked without reading the
tensor bytes: the files exist, the shard index names files that exist, each adapter's base is
found, no model id is given twice.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import CheckpointError

SINGLE_FILE = "model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
INDEX_SUFFIX = ".safetensors.index.json"


@dataclass(frozen=True)
class FilePart:
    """One safetensors file of a model and the tensors taken from it (``None``: all)."""

    path: str
    tensors: frozenset[str] | None = None


@dataclass(frozen=True)
class ModelSource:
    """The checkpoint of one model.

    Parameters
    ----------
    id
        Model id (the file or folder name, or the one given with ``--name``).
    path
        The path as given.
    kind
        ``"file"``, ``"folder"``, ``"sharded"`` or ``"adapter"``.
    parts
        The safetensors files holding its tensors; an adapter's are its base's, then its own.
    base
        An adapter's base: the id of another model, or the folder it was found in.
    """

    id: str
    path: str
    kind: str
    parts: tuple[FilePart, ...]
    base: str | None = None


def _model_id(path: Path) -> str:
    name = path.name if path.is_dir() else path.name.removesuffix(".safetensors")
    return name or path.resolve().name


def _read_json(path: Path, what: str) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CheckpointError(str(path), "", f"cannot read the {what} ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(str(path), "", f"the {what} is not valid JSON ({exc})") from None


def _sharded(index: Path) -> tuple[FilePart, ...]:
    doc = _read_json(index, "shard index")
    weight_map = doc.get("weight_map") if isinstance(doc, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise CheckpointError(str(index), "weight_map", "missing or empty (expected tensor name -> shard file)")
    by_file: dict[str, set[str]] = {}
    for name, shard in weight_map.items():
        if not isinstance(shard, str) or not shard or Path(shard).is_absolute() or ".." in Path(shard).parts:
            raise CheckpointError(
                str(index), f"weight_map[{name!r}]", f"must be a file name in the folder (got {shard!r})"
            )
        by_file.setdefault(shard, set()).add(name)
    parts = []
    for shard in sorted(by_file):
        file = index.parent / shard
        if not file.is_file():
            raise CheckpointError(str(index), f"weight_map names {shard!r}", f"no such file {file}")
        parts.append(FilePart(str(file), frozenset(by_file[shard])))
    return tuple(parts)


def _folder_parts(folder: Path) -> tuple[str, tuple[FilePart, ...]]:
    if (folder / SINGLE_FILE).is_file():
        return "folder", (FilePart(str(folder / SINGLE_FILE)),)
    indexes = sorted(p for p in folder.iterdir() if p.name.endswith(INDEX_SUFFIX))
    if len(indexes) > 1:
        raise CheckpointError(
            str(folder), "", f"{len(indexes)} shard indexes ({', '.join(p.name for p in indexes)}); expected one"
        )
    if indexes:
        return "sharded", _sharded(indexes[0])
    files = sorted(p for p in folder.iterdir() if p.suffix == ".safetensors" and p.is_file())
    if len(files) == 1:
        return "folder", (FilePart(str(files[0])),)
    raise CheckpointError(
        str(folder),
        "",
        f"no {SINGLE_FILE}, *{INDEX_SUFFIX} or {ADAPTER_CONFIG} here"
        + (f" ({len(files)} .safetensors files and no index)" if files else ""),
    )


@dataclass(frozen=True)
class _Pending:
    id: str
    path: str
    folder: Path
    base_name: str


def _base_name(folder: Path) -> str:
    config = folder / ADAPTER_CONFIG
    doc = _read_json(config, "adapter configuration")
    base = doc.get("base_model_name_or_path") if isinstance(doc, dict) else None
    if not isinstance(base, str) or not base:
        raise CheckpointError(str(config), "base_model_name_or_path", "missing: the adapter must name its base model")
    if not (folder / ADAPTER_WEIGHTS).is_file():
        raise CheckpointError(str(folder), "", f"adapter without {ADAPTER_WEIGHTS}")
    return base


def resolve(paths: Sequence[str | os.PathLike[str]], names: Sequence[str] | None = None) -> list[ModelSource]:
    """The checkpoints behind ``paths``, one model each, in the order given.

    Parameters
    ----------
    paths
        ``.safetensors`` files; folders with ``model.safetensors``, with a
        ``*.safetensors.index.json`` shard index, or with a single ``.safetensors`` file; PEFT
        adapter folders (``adapter_config.json`` + ``adapter_model.safetensors``).
    names
        Model ids to use instead of the file and folder names (one per path).

    Raises
    ------
    CheckpointError
        A path is missing or of no known layout, a shard is missing, an adapter's base is not
        found, or two models get the same id.
    """
    if not paths:
        raise CheckpointError("", "", "no checkpoint given")
    if names is not None and len(names) != len(paths):
        raise CheckpointError(
            "", "--name", f"given {len(names)} times for {len(paths)} checkpoints (one per checkpoint)"
        )
    done: dict[str, ModelSource] = {}
    pending: list[_Pending] = []
    given: dict[str, str] = {}
    for pos, raw in enumerate(paths):
        path = Path(raw)
        model_id = names[pos] if names is not None else _model_id(path)
        if not model_id.strip():
            raise CheckpointError(str(raw), "", "empty model id (use --name)")
        if model_id in given:
            raise CheckpointError(
                str(raw), "", f"model id {model_id!r} is already used by {given[model_id]} (use --name to rename one)"
            )
        given[model_id] = str(raw)
        if path.is_file():
            done[model_id] = ModelSource(model_id, str(raw), "file", (FilePart(str(path)),))
        elif path.is_dir():
            if (path / ADAPTER_CONFIG).is_file():
                pending.append(_Pending(model_id, str(raw), path, _base_name(path)))
            else:
                kind, parts = _folder_parts(path)
                done[model_id] = ModelSource(model_id, str(raw), kind, parts)
        elif path.exists():
            raise CheckpointError(str(raw), "", "not a regular file or a folder (a device or a pipe?)")
        else:
            raise CheckpointError(str(raw), "", "no such file or folder")
    by_path = {os.path.realpath(s.path): s for s in done.values()}
    for item in pending:
        base = _find_base(item, done, by_path)
        adapter = FilePart(str(item.folder / ADAPTER_WEIGHTS))
        done[item.id] = ModelSource(item.id, item.path, "adapter", (*base.parts, adapter), base=base.id)
    return [done[model_id] for model_id in given]


def _find_base(item: _Pending, done: dict[str, ModelSource], by_path: dict[str, ModelSource]) -> ModelSource:
    """The base of an adapter: a model of the command line (by id, path or last path part), else a folder."""
    name = item.base_name
    if name in done:
        return done[name]
    candidates = (
        [Path(name)] if Path(name).is_absolute() else [Path(name), item.folder / name, item.folder.parent / name]
    )
    for candidate in candidates:
        real = os.path.realpath(candidate)
        if real in by_path:
            return by_path[real]
    tail = Path(name).name
    if tail in done:
        return done[tail]
    for candidate in candidates:
        if candidate.is_dir():
            if (candidate / ADAPTER_CONFIG).is_file():
                raise CheckpointError(item.path, "base_model_name_or_path", f"{name!r} is itself an adapter")
            kind, parts = _folder_parts(candidate)
            return ModelSource(str(candidate), str(candidate), kind, parts)
    known = ", ".join(sorted(done)) or "none"
    raise CheckpointError(
        str(item.folder / ADAPTER_CONFIG),
        "base_model_name_or_path",
        f"base model {name!r} is neither a model on the command line ({known}) nor a local folder",
    )
