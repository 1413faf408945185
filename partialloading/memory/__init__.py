"""The second seam: GPU memory, i.e. *what* must be loaded before each request.

The timing models (:mod:`partialloading.timing`) say *when* things happen; they ask the
instance's memory model how long each request's load takes, and nothing else. Which memory
model applies is the instance's ``memory`` field (``server.memory`` in files), or, when it names
none, the one its server fields imply (:attr:`Memory.implied_by`): a capacity memory with
``memory_bytes``, else the one-model memory.

This registry is the only place that turns a name into a memory model: the data model
(:mod:`partialloading.instance`) stores the name and knows none of them, and the reader calls
:func:`memory_class` so that a bad name still fails at read time with its JSON path.

Adding a memory model: write a module with a class that satisfies :class:`Memory` (its
``needs``, ``implied_by`` and ``evictions_in_files`` say which server fields it uses and how
files carry it), add it to :data:`MEMORY_MODELS` (or call :func:`register`), and declare in the
method registry (:mod:`partialloading.methods`) which structure each method needs
(``memory_needs``); methods that need a structure the memory lacks are refused with a clear
message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from partialloading.errors import InstanceError

from .base import BOUNDED, PAIRWISE, Memory, MemoryPlan, loaded_reused
from .capacity import CapacityMemory, LruMemory
from .single import SingleModelMemory

if TYPE_CHECKING:
    from partialloading.instance import Instance

MEMORY_MODELS: dict[str, type[Memory]] = {m.name: m for m in (SingleModelMemory, CapacityMemory, LruMemory)}
"""Every memory model, by name."""

DEFAULT_MEMORY = SingleModelMemory.name
"""The memory model of an instance that names none and sets none of the fields that imply one
(the seed's one-model memory)."""


def register(model: type[Memory]) -> type[Memory]:
    """Add a memory model to :data:`MEMORY_MODELS` (usable as a class decorator)."""
    MEMORY_MODELS[model.name] = model
    return model


def _implied(instance: Instance) -> str:
    for name, model in MEMORY_MODELS.items():
        if model.implied_by is not None and getattr(instance, model.implied_by, None) is not None:
            return name
    return DEFAULT_MEMORY


def memory_class(instance: Instance) -> type[Memory]:
    """The memory model of ``instance``, checked: a known name, and the server fields it needs set.

    Raises
    ------
    InstanceError
        At ``server.memory``: an unknown memory model, or one whose fields are missing.
    """
    name = instance.memory if instance.memory is not None else _implied(instance)
    model = MEMORY_MODELS.get(name) if isinstance(name, str) else None
    if model is None:
        raise InstanceError("server.memory", f"unknown memory model {name!r} (known: {', '.join(MEMORY_MODELS)})")
    for needed in model.needs:
        if getattr(instance, needed, None) is None:
            raise InstanceError("server.memory", f"the {name} memory needs server.{needed}")
    return model


def memory_of(instance: Instance) -> Memory:
    """The memory of ``instance`` (built once per instance; its ``name`` is the memory model's).

    Raises
    ------
    InstanceError
        As :func:`memory_class`.
    """
    return instance.derived("memory", lambda inst: memory_class(inst).of(inst))


def memory_in_file(instance: Instance) -> str | None:
    """What an instance file writes as ``server.memory``: the memory model's name, or ``None``
    when the server fields imply it (so files of the implied memories read as before)."""
    name = memory_class(instance).name
    return None if name == _implied(instance) else name


__all__ = [
    "BOUNDED",
    "DEFAULT_MEMORY",
    "MEMORY_MODELS",
    "PAIRWISE",
    "CapacityMemory",
    "LruMemory",
    "Memory",
    "MemoryPlan",
    "SingleModelMemory",
    "loaded_reused",
    "memory_class",
    "memory_in_file",
    "memory_of",
    "register",
]
