"""An instance with several edge servers: :class:`Network`.

Each server has its own GPU (loading speed, memory, initial contents) and its own uplink band;
a user reaches the servers of its :attr:`~partialloading.instance.User.links` (every server,
with its own radio, when it has none). The timing model is the instance's, for every server.

Given which server serves each user, the servers are independent one-server instances: the
network keeps one :class:`~partialloading.instance.Instance` per server
(:meth:`Network.server_instance`: every user that reaches the server, with the link's radio),
and every single-server result — timelines, memories, batches, the verifier — applies to each.
The references are checked once, here; what a server's own fields must satisfy (a known initial
model, initial blocks that fit, the memory model's name) is its instance's check, reported at
``servers[n]``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

from .errors import InstanceError
from .instance import (
    Block,
    Instance,
    Model,
    Server,
    User,
    as_tuple,
    check_catalog,
    unique_ids,
)
from .memory import memory_class
from .timing import timing_of
from .tolerance import round_to_unit, weight_unit

__all__ = ["Network"]

SERVER_FIELDS = ("uplink.", "server.")
"""Prefixes of the one-server fields that a server's own fields take the place of."""


@dataclass(frozen=True, eq=False)
class Network:
    """Blocks, models and users served by several edge servers.

    Parameters
    ----------
    blocks, models, users
        As an :class:`~partialloading.instance.Instance`'s; a user may carry ``links``.
    servers
        The edge servers (at least one, ids unique).
    name, timing, meta
        As an instance's (the timing model holds for every server).
    """

    blocks: tuple[Block, ...]
    models: tuple[Model, ...]
    users: tuple[User, ...]
    servers: tuple[Server, ...]
    name: str = "instance"
    timing: str = "frame"
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocks", as_tuple("blocks", self.blocks, Block))
        object.__setattr__(self, "models", as_tuple("models", self.models, Model))
        object.__setattr__(self, "users", as_tuple("users", self.users, User))
        object.__setattr__(self, "servers", as_tuple("servers", self.servers, Server))
        object.__setattr__(self, "meta", MappingProxyType(dict(self.meta)))
        if not self.servers:
            raise InstanceError("servers", "an instance needs at least one server")
        check_catalog(self.blocks, self.models, self.users)
        servers = unique_ids("servers", self.servers)
        for u, user in enumerate(self.users):
            seen: dict[str, int] = {}
            for j, link in enumerate(user.links or ()):
                if link.server not in servers:
                    raise InstanceError(f"users[{u}].links[{j}].server", f"unknown server {link.server!r}")
                if link.server in seen:
                    raise InstanceError(
                        f"users[{u}].links[{j}].server",
                        f"server {link.server!r} is linked twice (also links[{seen[link.server]}])",
                    )
                seen[link.server] = j
        for n in range(len(self.servers)):
            self.server_instance(n)
        self._check_every_model_fits()

    def _check_every_model_fits(self) -> None:
        sizes = {b.id: float(b.size_bytes) for b in self.blocks}
        room = max(float("inf") if s.memory_bytes is None else float(s.memory_bytes) for s in self.servers)
        requested = {u.model for u in self.users}
        for m, model in enumerate(self.models):
            size = sum(sizes[b] for b in model.blocks)
            if model.id in requested and size > room:
                raise InstanceError(
                    f"models[{m}]",
                    f"model {model.id!r} ({size:g} bytes) fits the memory of no server (the largest holds {room:g})",
                )

    # ----------------------------------------------------------------- servers and reach
    @property
    def num_servers(self) -> int:
        """Number of servers."""
        return len(self.servers)

    @property
    def num_users(self) -> int:
        """Number of users."""
        return len(self.users)

    @cached_property
    def server_index(self) -> Mapping[str, int]:
        """Position of each server id in :attr:`servers`."""
        return MappingProxyType({s.id: n for n, s in enumerate(self.servers)})

    @cached_property
    def user_index(self) -> Mapping[str, int]:
        """Position of each user id in :attr:`users`."""
        return MappingProxyType({u.id: k for k, u in enumerate(self.users)})

    @cached_property
    def weights(self) -> tuple[float, ...]:
        """Each user's weight."""
        return tuple(float(u.weight) for u in self.users)

    @cached_property
    def weight_unit(self) -> float:
        """The largest ``g`` of which every weight is a whole multiple (as an instance's)."""
        return weight_unit(self.weights)

    def round_bound(self, bound: float) -> float:
        """``bound`` rounded down to a whole multiple of :attr:`weight_unit`."""
        return round_to_unit(bound, self.weight_unit)

    @cached_property
    def reach(self) -> tuple[tuple[int, ...], ...]:
        """Per server, the users (indices into :attr:`users`) that can be served there: those
        that reach it and whose model fits its memory."""
        return tuple(self._reach(n) for n in range(self.num_servers))

    def _reach(self, n: int) -> tuple[int, ...]:
        server = self.servers[n]
        sizes = {b.id: float(b.size_bytes) for b in self.blocks}
        room = float("inf") if server.memory_bytes is None else float(server.memory_bytes)
        fits = {m.id for m in self.models if sum(sizes[b] for b in m.blocks) <= room}
        return tuple(
            k
            for k, u in enumerate(self.users)
            if u.model in fits and (u.links is None or any(link.server == server.id for link in u.links))
        )

    @cached_property
    def servers_of(self) -> tuple[tuple[int, ...], ...]:
        """Per user, the servers (indices) that can serve it, in server order."""
        out: list[list[int]] = [[] for _ in self.users]
        for n, users in enumerate(self.reach):
            for k in users:
                out[k].append(n)
        return tuple(tuple(s) for s in out)

    def server_instance(self, n: int) -> Instance:
        """Server ``n`` alone, with every user it can serve (:attr:`reach`, in order, each with
        its link's radio): the one-server instance the server's schedule runs on."""
        cache: dict[int, Instance] = self.__dict__.setdefault("_server_instances", {})
        if n not in cache:
            cache[n] = self._build_server_instance(n)
        return cache[n]

    def _build_server_instance(self, n: int) -> Instance:
        server = self.servers[n]
        users = []
        for k in self._reach(n):
            user = self.users[k]
            link = next((li for li in user.links if li.server == server.id), None) if user.links else None
            if link is not None:
                user = dataclasses.replace(
                    user, links=None, spectral_efficiency=link.spectral_efficiency, snr_db=link.snr_db
                )
            users.append(user)
        try:
            instance = Instance(
                blocks=self.blocks,
                models=self.models,
                users=tuple(users),
                bandwidth_hz=server.bandwidth_hz,
                load_speed_bytes_per_s=server.load_speed_bytes_per_s,
                initial_model=server.initial_model,
                name=self.name if self.num_servers == 1 else f"{self.name}/{server.id}",
                timing=self.timing,
                memory=server.memory,
                memory_bytes=server.memory_bytes,
                initial_blocks=server.initial_blocks,
                meta=self.meta,
            )
            # The registries resolve the names the instance only stores: a bad one fails here.
            timing_of(instance)
            memory_class(instance)
            return instance
        except InstanceError as exc:
            where = exc.where
            for prefix in SERVER_FIELDS:
                if where.startswith(prefix):
                    raise InstanceError(f"servers[{n}].{where[len(prefix) :]}", exc.problem) from None
            raise

    def server_users(self, n: int) -> tuple[int, ...]:
        """The network user index of each user of :meth:`server_instance` ``(n)``."""
        return self.reach[n]

    @classmethod
    def from_instance(cls, instance: Instance, server_id: str = "server") -> Network:
        """``instance`` as a network of one server (named ``server_id``)."""
        server = Server(
            id=server_id,
            bandwidth_hz=instance.bandwidth_hz,
            load_speed_bytes_per_s=instance.load_speed_bytes_per_s,
            initial_model=instance.initial_model,
            memory=instance.memory,
            memory_bytes=instance.memory_bytes,
            initial_blocks=instance.initial_blocks,
        )
        return cls(
            instance.blocks, instance.models, instance.users, (server,), instance.name, instance.timing, instance.meta
        )

    def unbatched(self) -> Network:
        """This network with batches of one request (as :meth:`Instance.unbatched`)."""
        if not any(m.batch_infer_time_s is not None for m in self.models):
            return self
        models = tuple(dataclasses.replace(m, batch_infer_time_s=None) for m in self.models)
        return dataclasses.replace(self, models=models)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Network):
            return NotImplemented
        return (
            self.blocks == other.blocks
            and self.models == other.models
            and self.users == other.users
            and self.servers == other.servers
            and self.name == other.name
            and self.timing == other.timing
            and dict(self.meta) == dict(other.meta)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Network(name={self.name!r}, servers={self.num_servers}, models={len(self.models)}, "
            f"users={self.num_users})"
        )
