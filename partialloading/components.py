"""The parts of an instance: parameter blocks, models and users, each checking its own fields.

Each class checks its fields when it is created and raises :class:`FieldError` with the field's
name; the references between them (a model's blocks, a user's model) are the instance's to check
(:mod:`partialloading.instance`), once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .arrays import FloatArray
from .errors import FieldError, InstanceError

__all__ = [
    "MAX_BATCH",
    "Block",
    "Link",
    "Model",
    "Server",
    "User",
    "check_catalog",
    "check_identifier",
    "check_number",
    "spectral_efficiencies",
    "unique_ids",
]

MAX_BATCH = 4096
"""The longest batch table a model may carry (``batch_infer_time_s``)."""


def check_number(name: str, value: object, *, allow_zero: bool = False) -> float:
    """``value`` as a finite positive float (zero allowed with ``allow_zero``), else a
    :class:`FieldError` naming the field ``name``."""
    # The common case first (a positive finite float, as in most files), without any call:
    # instances of 10^5 users check 4·10^5 numbers. NaN fails both comparisons.
    if type(value) is float and (0.0 < value < math.inf or (allow_zero and value == 0.0)):
        return value
    # bool is an int subclass, but `true` where a number belongs is a user mistake.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FieldError(name, f"must be a number (got {value!r})")
    try:
        finite = math.isfinite(value)
    except OverflowError:  # a JSON integer too large for a float
        raise FieldError(name, "is too large") from None
    if not finite:
        raise FieldError(name, f"must be finite (got {value!r})")
    if value < 0 or (value == 0 and not allow_zero):
        kind = "non-negative" if allow_zero else "positive"
        raise FieldError(name, f"must be {kind} (got {value!r})")
    return value


def check_identifier(name: str, value: object) -> str:
    """``value`` as a non-empty string id, else a :class:`FieldError` naming the field ``name``."""
    if not isinstance(value, str) or not value:
        raise FieldError(name, f"must be a non-empty string (got {value!r})")
    return value


@dataclass(frozen=True)
class Block:
    """A parameter block: a unit of GPU memory that models can share.

    Parameters
    ----------
    id
        Unique identifier of the block.
    size_bytes
        Size in bytes (zero allowed, e.g. for a placeholder).
    """

    id: str
    size_bytes: float

    def __post_init__(self) -> None:
        check_identifier("id", self.id)
        check_number("size_bytes", self.size_bytes, allow_zero=True)


@dataclass(frozen=True)
class Model:
    """An AI model: a set of parameter blocks and an inference time per request.

    Parameters
    ----------
    id
        Unique identifier of the model.
    blocks
        Ids of the blocks the model consists of (at least one, no repeats).
    infer_time_s
        Inference time of one request in seconds (zero allowed).
    batch_infer_time_s
        The time of one inference over a batch of 1, 2, …, B requests of the model:
        nondecreasing (a larger batch is never faster), positive, its first entry
        ``infer_time_s``, at most :data:`MAX_BATCH` entries; ``None``: batches of one request.
    """

    id: str
    blocks: tuple[str, ...]
    infer_time_s: float
    batch_infer_time_s: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        check_identifier("id", self.id)
        if isinstance(self.blocks, str) or not isinstance(self.blocks, Sequence):
            raise FieldError("blocks", f"must be a list of block ids (got {self.blocks!r})")
        object.__setattr__(self, "blocks", tuple(self.blocks))
        if not self.blocks:
            raise FieldError("blocks", "a model needs at least one block")
        seen: set[str] = set()
        for pos, block in enumerate(self.blocks):
            check_identifier(f"blocks[{pos}]", block)
            if block in seen:
                raise FieldError(f"blocks[{pos}]", f"block {block!r} is listed twice")
            seen.add(block)
        check_number("infer_time_s", self.infer_time_s, allow_zero=True)
        if self.batch_infer_time_s is not None:
            object.__setattr__(self, "batch_infer_time_s", self._checked_table(self.batch_infer_time_s))

    def _checked_table(self, table: object) -> tuple[float, ...]:
        name = "batch_infer_time_s"
        if isinstance(table, str) or not isinstance(table, Sequence):
            raise FieldError(name, f"must be a list of batch times in seconds (got {table!r})")
        if not 1 <= len(table) <= MAX_BATCH:
            raise FieldError(name, f"must have 1 to {MAX_BATCH} entries (got {len(table)})")
        times = tuple(float(check_number(f"{name}[{b}]", t)) for b, t in enumerate(table))
        if times[0] != float(self.infer_time_s):
            raise FieldError(f"{name}[0]", f"must equal infer_time_s = {self.infer_time_s!r} (got {times[0]!r})")
        for b in range(1, len(times)):
            if times[b] < times[b - 1]:
                raise FieldError(
                    f"{name}[{b}]", f"a batch of {b + 1} is faster than one of {b} ({times[b]!r} < {times[b - 1]!r})"
                )
        return times

    @property
    def max_batch(self) -> int:
        """The largest batch the model serves (1 without a table)."""
        return 1 if self.batch_infer_time_s is None else len(self.batch_infer_time_s)


def _check_radio(spectral_efficiency: float | None, snr_db: float | None) -> None:
    """Exactly one of ``spectral_efficiency`` and ``snr_db``, each valid, else a :class:`FieldError`."""
    if (spectral_efficiency is None) == (snr_db is None):
        what = "neither" if spectral_efficiency is None else "both"
        raise FieldError("spectral_efficiency", f"give exactly one of spectral_efficiency and snr_db ({what} given)")
    if spectral_efficiency is not None:
        check_number("spectral_efficiency", spectral_efficiency)
        return
    if isinstance(snr_db, bool) or not isinstance(snr_db, int | float) or not math.isfinite(snr_db):
        raise FieldError("snr_db", f"must be a finite number (got {snr_db!r})")
    if _eta(None, snr_db) <= 0.0:
        # Extremely negative SNR underflows log2(1 + x) to 0: the upload would never end.
        raise FieldError("snr_db", f"is too low to carry any data (got {snr_db!r})")


def _eta(spectral_efficiency: float | None, snr_db: float | None) -> float:
    if spectral_efficiency is not None:
        return float(spectral_efficiency)
    decibels = float(snr_db or 0.0) / 10.0
    if decibels > 300:  # 10**x overflows a float; log2(1 + 10**x) = x·log2(10) to within 1e-300
        return decibels * math.log2(10.0)
    return math.log2(1.0 + 10.0**decibels)


@dataclass(frozen=True)
class Link:
    """A user's radio link to one edge server (instances with several servers).

    Parameters
    ----------
    server
        Id of the server the user reaches.
    spectral_efficiency, snr_db
        The link's quality, exactly one of the two (as :class:`User`'s).
    """

    server: str
    spectral_efficiency: float | None = None
    snr_db: float | None = None

    def __post_init__(self) -> None:
        check_identifier("server", self.server)
        _check_radio(self.spectral_efficiency, self.snr_db)

    @property
    def eta(self) -> float:
        """Spectral efficiency η of the link in bit/s/Hz."""
        return _eta(self.spectral_efficiency, self.snr_db)


@dataclass(frozen=True)
class Server:
    """An edge server: a GPU with its loading speed and memory, and its own uplink band.

    Parameters
    ----------
    id
        Unique identifier of the server.
    bandwidth_hz
        The server's uplink bandwidth in Hz, shared by FDMA among the users it serves.
    load_speed_bytes_per_s
        Its GPU loading speed in bytes per second.
    initial_model
        Id of the model in its GPU memory at time 0, or ``None``.
    memory
        Name of its GPU memory model, or ``None`` for the one the fields imply (as an
        instance's ``server.memory``).
    memory_bytes
        Its GPU memory capacity in bytes, or ``None``: one model at a time.
    initial_blocks
        Ids of the blocks in its GPU memory at time 0, least recently used first (only with
        ``memory_bytes``).
    """

    id: str
    bandwidth_hz: float
    load_speed_bytes_per_s: float
    initial_model: str | None = None
    memory: str | None = None
    memory_bytes: float | None = None
    initial_blocks: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        check_identifier("id", self.id)
        check_number("bandwidth_hz", self.bandwidth_hz)
        check_number("load_speed_bytes_per_s", self.load_speed_bytes_per_s)
        if self.initial_blocks is not None and not isinstance(self.initial_blocks, str | bytes):
            object.__setattr__(self, "initial_blocks", tuple(self.initial_blocks))


@dataclass(frozen=True)
class User:
    """A user with one inference request.

    Exactly one of ``spectral_efficiency`` (bit/s/Hz) and ``snr_db`` is given; the other is
    derived (``η = log2(1 + 10^(snr_db/10))``) and :attr:`eta` is always available. In an
    instance with several servers a user may give :attr:`links` instead (one link per server
    it reaches, each with its own radio quality); without links its radio holds for every server.

    Parameters
    ----------
    id
        Unique identifier of the user.
    model
        Id of the requested model.
    data_bits
        Size of the input to upload, in bits.
    deadline_s
        Deadline in seconds, measured from time 0.
    spectral_efficiency
        Spectral efficiency of the user's link in bit/s/Hz.
    snr_db
        Signal-to-noise ratio of the user's link in dB.
    weight
        Value of serving the user (1 for task throughput).
    infer_time_s
        The request's own inference time in seconds, overriding its model's (an LLM request's
        time grows with its prompt and its output); ``None``: the model's.
    links
        The servers the user reaches, each with the link's radio quality (several servers only;
        then without ``spectral_efficiency`` and ``snr_db``); ``None``: every server, with the
        user's own radio.
    """

    id: str
    model: str
    data_bits: float
    deadline_s: float
    spectral_efficiency: float | None = None
    snr_db: float | None = None
    weight: float = 1
    infer_time_s: float | None = None
    links: tuple[Link, ...] | None = None

    def __post_init__(self) -> None:
        check_identifier("id", self.id)
        check_identifier("model", self.model)
        check_number("data_bits", self.data_bits)
        check_number("deadline_s", self.deadline_s)
        check_number("weight", self.weight)
        if self.infer_time_s is not None:
            check_number("infer_time_s", self.infer_time_s, allow_zero=True)
        if self.links is None:
            _check_radio(self.spectral_efficiency, self.snr_db)
            return
        if isinstance(self.links, str) or not isinstance(self.links, Sequence):
            raise FieldError("links", f"must be a list of links (got {self.links!r})")
        object.__setattr__(self, "links", tuple(self.links))
        if not self.links:
            raise FieldError("links", "a user with links reaches at least one server")
        for pos, link in enumerate(self.links):
            if not isinstance(link, Link):
                raise FieldError(f"links[{pos}]", "must be a Link")
        if self.spectral_efficiency is not None or self.snr_db is not None:
            given = "spectral_efficiency" if self.spectral_efficiency is not None else "snr_db"
            raise FieldError(given, "give links or the user's own radio quality, not both")

    @property
    def eta(self) -> float:
        """Spectral efficiency η in bit/s/Hz (a user with :attr:`links` has one per link)."""
        if self.links is not None and self.spectral_efficiency is None and self.snr_db is None:
            raise ValueError(f"user {self.id!r} has a spectral efficiency per link, not one of its own")
        return _eta(self.spectral_efficiency, self.snr_db)

    @property
    def upload_work(self) -> float:
        """``a_k = D_k / η_k`` in Hz·s: the upload takes ``a_k / b_k`` seconds with bandwidth ``b_k``."""
        return self.data_bits / self.eta


def spectral_efficiencies(snr_db: FloatArray) -> FloatArray:
    """:attr:`User.eta` of many SNRs (dB) at once, with the same rule beyond 300 dB."""
    decibels = np.asarray(snr_db, dtype=float) / 10.0
    with np.errstate(over="ignore"):
        return np.where(decibels > 300, decibels * math.log2(10.0), np.log2(1.0 + 10.0 ** np.minimum(decibels, 300)))


def unique_ids(name: str, items: Sequence[Block | Model | User | Server]) -> dict[str, int]:
    """The position of each item's id, or an :class:`InstanceError` at the first repeated id."""
    index: dict[str, int] = {}
    for pos, item in enumerate(items):
        if item.id in index:
            raise InstanceError(f"{name}[{pos}].id", f"duplicate id {item.id!r} (also {name}[{index[item.id]}])")
        index[item.id] = pos
    return index


def check_catalog(
    blocks: Sequence[Block], models: Sequence[Model], users: Sequence[User]
) -> tuple[dict[str, int], dict[str, int]]:
    """The references of blocks, models and users (unique ids, a model's known blocks, a user's
    known model), checked once for one server or several; the block and model indices."""
    block_ids = unique_ids("blocks", blocks)
    model_ids = unique_ids("models", models)
    unique_ids("users", users)
    for m, model in enumerate(models):
        for b, block in enumerate(model.blocks):
            if block not in block_ids:
                raise InstanceError(f"models[{m}].blocks[{b}]", f"unknown block {block!r}")
    for u, user in enumerate(users):
        if user.model not in model_ids:
            raise InstanceError(f"users[{u}].model", f"unknown model {user.model!r}")
    return block_ids, model_ids
