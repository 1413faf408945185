"""Immutable data model: parameter blocks, models, users and the instance that ties them.

Each class checks its own fields when it is created (raising :class:`FieldError` with the
field's name); :class:`Instance` checks the references between objects once (unique ids,
known blocks and models) and raises :class:`InstanceError` with the JSON path of the culprit.
Derived quantities that every solver needs (``a_k``, the loading sizes, ...) are computed once,
lazily, and cached as read-only numpy arrays. The instance stores the names of its timing and
memory models and knows none of them: the registries (:func:`partialloading.timing.timing_of`,
:func:`partialloading.memory.memory_of`) resolve and check the names, and keep what they derive
from an instance in :meth:`Instance.derived`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from .arrays import FloatArray, IntArray
from .batch_tables import least_shares
from .components import (
    Block,
    Link,
    Model,
    Server,
    User,
    check_catalog,
    check_identifier,
    check_number,
    spectral_efficiencies,
    unique_ids,
)
from .errors import FieldError, InstanceError
from .tolerance import round_to_unit, weight_unit

__all__ = [
    "Block",
    "FloatArray",
    "Instance",
    "IntArray",
    "Link",
    "Model",
    "Server",
    "User",
    "as_tuple",
    "check_catalog",
    "check_identifier",
    "check_number",
    "round_to_unit",
    "spectral_efficiencies",
    "unique_ids",
]

T = TypeVar("T")


def _frozen(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


def _readonly(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    array.setflags(write=False)
    return array


def as_tuple(name: str, value: object, kind: type) -> tuple[Any, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise InstanceError(name, f"must be a list (got {type(value).__name__})")
    for pos, item in enumerate(value):
        if not isinstance(item, kind):
            raise InstanceError(f"{name}[{pos}]", f"must be a {kind.__name__}")
    return tuple(value)


@dataclass(frozen=True, eq=False)
class Instance:
    """A problem instance: blocks, models, users, the uplink and the GPU server.

    Parameters
    ----------
    blocks, models, users
        The parameter blocks, models and users. Ids are unique within each list; every block a
        model names and every model a user requests must exist.
    bandwidth_hz
        Total uplink bandwidth ``B`` in Hz, shared by FDMA.
    load_speed_bytes_per_s
        GPU loading speed ``v`` in bytes per second.
    initial_model
        Id of the model held in GPU memory at time 0, or ``None`` for an empty GPU (or the
        blocks of :attr:`initial_blocks`).
    name
        Name of the instance (written into solutions).
    timing
        Name of the timing model (``"frame"``: the server starts when the last upload has
        arrived). The registry :func:`partialloading.timing.timing_of` resolves and checks it.
    memory
        Name of the GPU memory model (``server.memory`` in files), or ``None``: the one the
        server fields imply (a capacity memory with :attr:`memory_bytes`, else the GPU holds
        the blocks of the model it loaded last). The registry
        :func:`partialloading.memory.memory_of` resolves and checks it.
    memory_bytes
        GPU memory capacity in bytes (``server.memory_bytes``), or ``None``: one model at a time.
        Every model a user requests must fit.
    initial_blocks
        Ids of the blocks in GPU memory at time 0, least recently used first
        (``server.initial_blocks``; only with :attr:`memory_bytes`, and not with
        :attr:`initial_model`); they must fit.
    meta
        Free-form, JSON-serializable provenance (generator family, seed, ...).
    """

    blocks: tuple[Block, ...]
    models: tuple[Model, ...]
    users: tuple[User, ...]
    bandwidth_hz: float
    load_speed_bytes_per_s: float
    initial_model: str | None = None
    name: str = "instance"
    timing: str = "frame"
    memory: str | None = None
    memory_bytes: float | None = None
    initial_blocks: tuple[str, ...] | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _frozen(self, "blocks", as_tuple("blocks", self.blocks, Block))
        _frozen(self, "models", as_tuple("models", self.models, Model))
        _frozen(self, "users", as_tuple("users", self.users, User))
        _frozen(self, "meta", MappingProxyType(dict(self.meta)))
        for name, where in (
            ("bandwidth_hz", "uplink.bandwidth_hz"),
            ("load_speed_bytes_per_s", "server.load_speed_bytes_per_s"),
        ):
            try:
                check_number(name, getattr(self, name))
            except FieldError as exc:
                raise InstanceError(where, exc.problem) from None
        if not isinstance(self.name, str):
            raise InstanceError("name", f"must be a string (got {self.name!r})")
        if not isinstance(self.timing, str):
            raise InstanceError("timing", f"must be a string (got {self.timing!r})")
        if self.memory is not None and not isinstance(self.memory, str):
            raise InstanceError("server.memory", f"must be a string (got {self.memory!r})")
        block_ids, model_ids = check_catalog(self.blocks, self.models, self.users)
        for u, user in enumerate(self.users):
            if user.links is not None:
                raise InstanceError(f"users[{u}].links", "links name servers: only an instance with servers has them")
        if self.initial_model is not None and self.initial_model not in model_ids:
            raise InstanceError("server.initial_model", f"unknown model {self.initial_model!r}")
        self._check_capacity(block_ids)

    def _check_capacity(self, block_ids: Mapping[str, int]) -> None:
        """The rules of ``memory_bytes`` and ``initial_blocks`` (each error names its field)."""
        if self.initial_blocks is not None:
            _frozen(self, "initial_blocks", as_tuple("server.initial_blocks", self.initial_blocks, str))
        if self.memory_bytes is None:
            if self.initial_blocks is not None:
                raise InstanceError("server.initial_blocks", "needs server.memory_bytes (a memory that keeps blocks)")
            return
        try:
            capacity = check_number("memory_bytes", self.memory_bytes)
        except FieldError as exc:
            raise InstanceError("server.memory_bytes", exc.problem) from None
        sizes = {b.id: float(b.size_bytes) for b in self.blocks}
        if self.initial_blocks is not None:
            if self.initial_model is not None:
                raise InstanceError(
                    "server.initial_blocks", "give server.initial_model or server.initial_blocks, not both"
                )
            seen: set[str] = set()
            for pos, block in enumerate(self.initial_blocks):
                if block not in block_ids:
                    raise InstanceError(f"server.initial_blocks[{pos}]", f"unknown block {block!r}")
                if block in seen:
                    raise InstanceError(f"server.initial_blocks[{pos}]", f"block {block!r} is listed twice")
                seen.add(block)
            total = sum(sizes[b] for b in self.initial_blocks)
            if total > capacity:
                raise InstanceError(
                    "server.initial_blocks",
                    f"the initial blocks take {total:g} bytes, more than memory_bytes {capacity:g}",
                )
        requested = {u.model for u in self.users}
        for m, model in enumerate(self.models):
            size = sum(sizes[b] for b in model.blocks)
            needed = model.id in requested or model.id == self.initial_model
            if needed and size > capacity:
                raise InstanceError(
                    "server.memory_bytes",
                    f"model {model.id!r} (models[{m}], {size:g} bytes) does not fit in memory_bytes {capacity:g}",
                )

    # ----------------------------------------------------------------- indices and sizes
    @property
    def num_users(self) -> int:
        """Number of users ``|K|``."""
        return len(self.users)

    @property
    def num_models(self) -> int:
        """Number of models ``|I|``."""
        return len(self.models)

    @cached_property
    def block_index(self) -> Mapping[str, int]:
        """Position of each block id in :attr:`blocks`."""
        return MappingProxyType({b.id: i for i, b in enumerate(self.blocks)})

    @cached_property
    def model_index(self) -> Mapping[str, int]:
        """Position of each model id in :attr:`models`."""
        return MappingProxyType({m.id: i for i, m in enumerate(self.models)})

    @cached_property
    def user_index(self) -> Mapping[str, int]:
        """Position of each user id in :attr:`users`."""
        return MappingProxyType({u.id: i for i, u in enumerate(self.users)})

    @cached_property
    def initial_model_index(self) -> int | None:
        """Index of the initial model, or ``None`` for an empty GPU."""
        return None if self.initial_model is None else self.model_index[self.initial_model]

    @cached_property
    def membership(self) -> npt.NDArray[np.bool_]:
        """Boolean matrix ``(models × blocks)``: ``True`` where the block belongs to the model."""
        mat = np.zeros((self.num_models, len(self.blocks)), dtype=bool)
        for m, model in enumerate(self.models):
            mat[m, [self.block_index[b] for b in model.blocks]] = True
        return _readonly(mat)

    @cached_property
    def block_sizes(self) -> FloatArray:
        """Block sizes ``s_j`` in bytes."""
        return _readonly(np.array([float(b.size_bytes) for b in self.blocks], dtype=float))

    @cached_property
    def model_sizes(self) -> FloatArray:
        """Total size of each model in bytes, ``Σ_{j∈P_i} s_j``."""
        return _readonly(self.membership.astype(float) @ self.block_sizes)

    @cached_property
    def infer_times(self) -> FloatArray:
        """Inference time ``c_i`` of each model in seconds."""
        return _readonly(np.array([float(m.infer_time_s) for m in self.models], dtype=float))

    @cached_property
    def batch_scales(self) -> FloatArray:
        """Row ``i``: ``t_i(b) / t_i(1)`` for ``b = 1 … B_i`` (then ``inf``: no such batch). A batch of
        ``b`` requests whose longest member takes ``c`` alone takes ``c · t_i(b) / t_i(1)`` (exactly
        ``c`` for ``b = 1``); a model without a batch table has the row ``[1, inf, …]``."""
        width = int(max((m.max_batch for m in self.models), default=1))
        scales = np.full((len(self.models), width), np.inf)
        scales[:, 0] = 1.0
        for i, m in enumerate(self.models):
            table = m.batch_infer_time_s
            if table is not None and len(table) > 1:
                scales[i, 1 : len(table)] = np.asarray(table[1:], dtype=float) / float(table[0])
        return _readonly(scales)

    @cached_property
    def amortized_infer_times(self) -> FloatArray:
        """Each user's least share of a batch's time: ``c_k · min_b t_i(b) / (b · t_i(1))``.

        A batch's time ``c_max · t_i(b)/t_i(1)`` is at least the sum of these over its members,
        so relaxations that charge each served user this much stay valid bounds with batching
        (exactly ``c_k`` for a model without a batch table).
        """
        least = least_shares(self.batch_scales)
        if not self.users:
            return _readonly(np.zeros(0))
        return _readonly(self.user_infer_times * least[self.user_models])

    @cached_property
    def max_batch(self) -> IntArray:
        """The largest batch of each model (``B_i``; 1 without a batch table)."""
        return _readonly(np.array([m.max_batch for m in self.models], dtype=np.int64))

    @cached_property
    def batching(self) -> bool:
        """Whether some model serves batches of more than one request (a batch table longer than 1)."""
        return bool(np.any(self.max_batch > 1))

    # ----------------------------------------------------------------- per-user arrays
    @cached_property
    def user_infer_times(self) -> FloatArray:
        """Inference time ``c_k`` of each user's request in seconds: its own ``infer_time_s``,
        else its model's."""
        own = [u.infer_time_s for u in self.users]
        model = self.infer_times[self.user_models] if self.users else np.zeros(0)
        return _readonly(np.array([m if t is None else float(t) for t, m in zip(own, model, strict=True)], dtype=float))

    @cached_property
    def per_user_times(self) -> bool:
        """Whether some user's inference time differs from its model's (then the methods built
        on per-model times, which serve a model's users in deadline order, do not apply)."""
        times = self.user_infer_times
        if not times.size:
            return False
        return bool(np.any(times != self.infer_times[self.user_models]))

    @cached_property
    def user_models(self) -> IntArray:
        """Index of the model each user requests (``m_k``)."""
        return _readonly(np.array([self.model_index[u.model] for u in self.users], dtype=np.int64))

    @cached_property
    def upload_work(self) -> FloatArray:
        """``a_k = D_k / η_k`` in Hz·s for each user."""
        return _readonly(np.array([u.upload_work for u in self.users], dtype=float))

    @cached_property
    def upload_times(self) -> FloatArray:
        """``a_k / B``: each user's contribution to the upload phase under the optimal split."""
        return _readonly(self.upload_work / float(self.bandwidth_hz))

    @cached_property
    def deadlines(self) -> FloatArray:
        """Deadline ``T_k`` of each user in seconds."""
        return _readonly(np.array([float(u.deadline_s) for u in self.users], dtype=float))

    @cached_property
    def weights(self) -> FloatArray:
        """Weight ``w_k`` of each user."""
        return _readonly(np.array([float(u.weight) for u in self.users], dtype=float))

    @cached_property
    def weight_unit(self) -> float:
        """The largest ``g > 0`` of which every weight is a whole multiple, ``0.0`` when the
        weights are not all integers (or too large to hold exactly in a float).

        Every served weight is then a multiple of ``g``, so an upper bound ``B`` on it can be
        rounded down to ``g · ⌊B / g⌋``, and a schedule that beats ``W`` weighs at least ``W + g``.
        """
        return weight_unit(float(u.weight) for u in self.users)

    def round_bound(self, bound: float) -> float:
        """``bound`` rounded down to a whole multiple of :attr:`weight_unit` (unchanged without one).

        A bound within ``10^-6`` (relative) of a multiple counts as that multiple: the solvers'
        bounds carry float rounding (and an LP solver's tolerances) and must not lose a whole
        unit to it.
        """
        return round_to_unit(bound, self.weight_unit)

    # ----------------------------------------------------------------- GPU memory
    @cached_property
    def initial_resident(self) -> tuple[int, ...]:
        """Indices of the blocks in GPU memory at time 0, least recently used first (the initial
        model's blocks, in its order, or :attr:`initial_blocks`)."""
        if self.initial_blocks is not None:
            return tuple(self.block_index[b] for b in self.initial_blocks)
        if self.initial_model is None:
            return ()
        return tuple(self.block_index[b] for b in self.models[self.model_index[self.initial_model]].blocks)

    @cached_property
    def shares_blocks(self) -> bool:
        """Whether some block belongs to two or more models."""
        return bool(self.membership.sum(axis=0).max(initial=0) > 1)

    def unbatched(self) -> Instance:
        """This instance with batches of one request (no model keeps a batch table): every
        schedule of it is a schedule of this instance with the same times."""
        return self._unbatched

    @cached_property
    def _unbatched(self) -> Instance:
        if not any(m.batch_infer_time_s is not None for m in self.models):
            return self
        models = tuple(dataclasses.replace(m, batch_infer_time_s=None) for m in self.models)
        return dataclasses.replace(self, models=models)

    def unshared(self) -> Instance:
        """This instance without parameter sharing: every model owns private copies of its blocks.

        Each change of model then loads the whole model (the baseline of the seed paper); what
        a memory keeps resident is kept per model. The copies of block ``b`` of model ``m`` are
        named ``m/b`` (with a ``#n`` suffix if that name is taken). An instance in which no
        block is shared is returned as it is. Initial blocks (:attr:`initial_blocks`) become
        the copies of the models they hold whole, the most recently used first while they fit:
        a whole-model cache starts from whole models.
        """
        return self._unshared

    @cached_property
    def _unshared(self) -> Instance:
        if not self.shares_blocks:
            return self
        sizes = {b.id: b.size_bytes for b in self.blocks}
        taken = set(sizes)
        blocks: list[Block] = []
        models: list[Model] = []
        copies: dict[tuple[str, str], str] = {}
        for model in self.models:
            names = []
            for block in model.blocks:
                name, n = f"{model.id}/{block}", 1
                while name in taken:
                    name, n = f"{model.id}/{block}#{n}", n + 1
                taken.add(name)
                names.append(name)
                copies[model.id, block] = name
                blocks.append(Block(name, sizes[block]))
            models.append(dataclasses.replace(model, blocks=tuple(names)))
        initial = None if self.initial_blocks is None else self._unshared_initial(copies)
        return dataclasses.replace(self, blocks=tuple(blocks), models=tuple(models), initial_blocks=initial)

    def _unshared_initial(self, copies: Mapping[tuple[str, str], str]) -> tuple[str, ...]:
        """The initial blocks of :meth:`unshared`: copies of the models held whole, most
        recently used first while they fit, least recently used first in the result."""
        initial = self.initial_blocks or ()
        position = {b: i for i, b in enumerate(initial)}
        sizes = {b.id: float(b.size_bytes) for b in self.blocks}
        whole = [m for m in self.models if all(b in position for b in m.blocks)]
        whole.sort(key=lambda m: (max(position[b] for b in m.blocks), m.id), reverse=True)
        kept: list[tuple[int, str]] = []
        room = float(self.memory_bytes or 0.0)
        for model in whole:
            size = sum(sizes[b] for b in model.blocks)
            if size <= room:
                room -= size
                kept.extend((position[b], copies[model.id, b]) for b in model.blocks)
        return tuple(name for _, name in sorted(kept))

    def derived(self, key: str, build: Callable[[Instance], T]) -> T:
        """``build(self)``, computed once per instance and kept under ``key``.

        The plug-ins (the timing and memory models, whose names the instance only stores) keep
        their view of an instance here, so the data model needs to know none of them.
        """
        cache: dict[str, Any] = self.__dict__.setdefault("_derived", {})
        if key not in cache:
            cache[key] = build(self)
        value: T = cache[key]
        return value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Instance):
            return NotImplemented
        return (
            self.blocks == other.blocks
            and self.models == other.models
            and self.users == other.users
            and self.bandwidth_hz == other.bandwidth_hz
            and self.load_speed_bytes_per_s == other.load_speed_bytes_per_s
            and self.initial_model == other.initial_model
            and self.name == other.name
            and self.timing == other.timing
            and self.memory == other.memory
            and self.memory_bytes == other.memory_bytes
            and self.initial_blocks == other.initial_blocks
            and dict(self.meta) == dict(other.meta)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Instance(name={self.name!r}, blocks={len(self.blocks)}, models={self.num_models}, users={self.num_users})"
        )
