"""Several servers drawn around a one-server instance (the tests' and benchmarks' networks).

:func:`spread_over_servers` keeps the instance's blocks, models and users and draws ``n``
servers, each with a share of the instance's band (``B / n`` times a factor in [0.7, 1.3]) and
its loading speed times a factor in [0.7, 1.3] (the same memory), and, per user, links to
``reach`` distinct servers, each with the user's spectral efficiency times a factor in
[0.5, 1.5]. With the band split, the users of one server's instance keep contending for it
while each server holds its own models: the association matters.
"""

from __future__ import annotations

import numpy as np

from partialloading.instance import Instance, Link, Server, User
from partialloading.network import Network

__all__ = ["random_network", "spread_over_servers"]


def spread_over_servers(instance: Instance, n_servers: int, seed: int, reach: int = 2) -> Network:
    """``instance``'s users over ``n_servers`` servers, each user reaching ``reach`` of them.

    The same arguments give the same network; ``n_servers = 1`` and ``reach = 1`` keep the
    instance's band and speed (the network of one server is the instance)."""
    if n_servers < 1 or not 1 <= reach <= n_servers:
        raise ValueError(f"need 1 ≤ reach ≤ n_servers (got reach={reach}, n_servers={n_servers})")
    rng = np.random.default_rng(7000 + seed)
    one = n_servers == 1
    servers = tuple(
        Server(
            id=f"s{n}",
            bandwidth_hz=float(instance.bandwidth_hz) * (1.0 if one else rng.uniform(0.7, 1.3) / n_servers),
            load_speed_bytes_per_s=float(instance.load_speed_bytes_per_s) * (1.0 if one else rng.uniform(0.7, 1.3)),
            initial_model=instance.initial_model,
            memory=instance.memory,
            memory_bytes=instance.memory_bytes,
            initial_blocks=instance.initial_blocks,
        )
        for n in range(n_servers)
    )
    users: list[User] = []
    for user in instance.users:
        chosen = sorted(rng.choice(n_servers, size=reach, replace=False).tolist())
        factors = [1.0 if one else rng.uniform(0.5, 1.5) for _ in chosen]
        links = tuple(
            Link(server=f"s{n}", spectral_efficiency=user.eta * f) for n, f in zip(chosen, factors, strict=True)
        )
        users.append(
            User(
                user.id, user.model, user.data_bits, user.deadline_s, None, None, user.weight, user.infer_time_s, links
            )
        )
    return Network(
        instance.blocks, instance.models, tuple(users), servers, instance.name, instance.timing, instance.meta
    )


def random_network(seed: int, n_users: int, n_servers: int = 3, reach: int = 2) -> Network:
    """The several-server benchmark's networks (``benchmarks/servers_exact.py``):
    :func:`~partialloading.scenarios.synthetic.random_instance` with ``general`` sharing over 4–6
    models (``4 + seed % 3``), per-user deadlines and weights 1–3 on odd seeds, spread over
    ``n_servers`` servers with each user reaching ``reach`` of them."""
    from .synthetic import random_instance

    inst = random_instance(
        seed, n_users, 4 + seed % 3, structure="general", deadlines="per_user", weighted=seed % 2 == 1
    )
    return spread_over_servers(inst, n_servers, seed, min(reach, n_servers))
