"""The second seam: GPU memory, i.e. *what* must be loaded before each request.

The timing models (:mod:`partialloading.timing`) say *when* things happen; they ask the
instance's memory model how long each request's load takes, and nothing else. Which memory
model applies is the instance's ``memory`` field (as ``timing`` picks the timing model).

Adding a memory model: write a module with a class that satisfies :class:`Memory`, add it to
:data:`MEMORY_MODELS` (or call :func:`register`), and declare in the method registry
(:mod:`partialloading.backend`) which structure each method needs (``memory_needs``); methods
that need a structure the memory lacks are refused with a clear message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import BOUNDED, PAIRWISE, Memory, MemoryPlan, loaded_reused
from .capacity import CapacityMemory, LruMemory
from .single import SingleModelMemory

if TYPE_CHECKING:
    from partialloading.instance import Instance

MEMORY_MODELS: dict[str, type[Memory]] = {m.name: m for m in (SingleModelMemory, CapacityMemory, LruMemory)}
"""Every memory model, by name."""

DEFAULT_MEMORY = SingleModelMemory.name
"""The memory model of an instance that names none (the seed's one-model memory)."""


def register(model: type[Memory]) -> type[Memory]:
    """Add a memory model to :data:`MEMORY_MODELS` (usable as a class decorator)."""
    MEMORY_MODELS[model.name] = model
    return model


def memory_of(instance: Instance) -> Memory:
    """The memory of ``instance`` (built once per instance)."""
    return instance.gpu_memory


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
    "memory_of",
    "register",
]
