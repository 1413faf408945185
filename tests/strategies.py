"""Hypothesis strategies shared by the property tests (``from strategies import ...``)."""

from __future__ import annotations

import dataclasses

from hypothesis import strategies as st

from partialloading.batch_tables import random_tables
from partialloading.instance import Instance
from partialloading.network import Network
from partialloading.scenarios import random_instance
from partialloading.scenarios.servers import spread_over_servers


def with_random_tables(inst: Instance, seed: int) -> Instance:
    """``inst`` with a random batch table of 2 to 8 entries per model (each added request costs
    5–60% of a single request's time: :func:`~partialloading.batch_tables.random_tables`)."""
    return dataclasses.replace(inst, models=tuple(random_tables(inst.models, seed)))


def generated_instances(min_users: int = 0, max_users: int = 8, max_models: int = 4) -> st.SearchStrategy[Instance]:
    """Instances of :func:`random_instance` over every sharing structure and deadline kind."""
    return st.builds(
        random_instance,
        st.integers(0, 10_000),
        n_users=st.integers(min_users, max_users),
        n_models=st.integers(1, max_models),
        structure=st.sampled_from(["backbone", "general", "none"]),
        deadlines=st.sampled_from(["common", "per_user"]),
        weighted=st.booleans(),
        initial_model=st.booleans(),
    )


def pipelined_instances(min_users: int = 0, max_users: int = 7, max_models: int = 3) -> st.SearchStrategy[Instance]:
    """:func:`generated_instances` under pipelined timing, some with a binding uplink (``B`` divided
    by up to 20, so that the bandwidth condition decides)."""
    return st.builds(
        lambda inst, squeeze: dataclasses.replace(inst, timing="pipelined", bandwidth_hz=inst.bandwidth_hz / squeeze),
        generated_instances(min_users, max_users, max_models),
        st.sampled_from([1.0, 1.0, 4.0, 20.0]),
    )


def with_capacity(inst: Instance, share: float) -> Instance:
    """``inst`` with a GPU memory between its largest requested model (``share = 0``) and all its
    blocks (``share = 1``)."""
    sizes = inst.model_sizes[inst.user_models] if inst.users else inst.model_sizes
    low = float(sizes.max(initial=0.0)) or 1.0
    high = max(float(inst.block_sizes.sum()), low)
    return dataclasses.replace(inst, memory_bytes=low + share * (high - low), initial_model=None)


@st.composite
def generated_networks(draw: st.DrawFn, max_users: int = 6, max_servers: int = 3) -> Network:
    """Networks of :func:`~partialloading.scenarios.servers.spread_over_servers` around
    :func:`generated_instances`: 1 to ``max_servers`` servers, each user reaching one or more."""
    inst = draw(generated_instances(min_users=1, max_users=max_users, max_models=3))
    servers = draw(st.integers(1, max_servers))
    reach = draw(st.integers(1, servers))
    return spread_over_servers(inst, servers, draw(st.integers(0, 1000)), reach)
