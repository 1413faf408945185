"""Instance families a sweep can use, and the transforms applied to any of them."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from partialloading import scenarios
from partialloading.errors import InstanceError
from partialloading.instance import Instance
from partialloading.network import Network
from partialloading.timing import TIMING_NAMES

from .base import ParamValue, StudyError

TRANSFORMS: Mapping[str, str] = {
    "bandwidth_scale": "multiply the uplink bandwidth B",
    "load_speed_scale": "multiply the GPU loading speed v",
    "deadline_scale": "multiply every deadline",
    "timing": "the timing model (frame or pipelined) the instance is solved under",
    "memory_bytes": "GPU memory capacity in bytes (server.memory_bytes; at least the largest requested model)",
}
"""Parameters the study applies to any family after generation (so every family can sweep them)."""


# --------------------------------------------------------------------------------------------
# Instance families


def families() -> tuple[str, ...]:
    """Names of every instance family a sweep can use (:data:`partialloading.scenarios.FAMILIES`,
    and the families of several servers, :data:`~partialloading.scenarios.NETWORK_FAMILIES`)."""
    return (*scenarios.FAMILIES, *scenarios.NETWORK_FAMILIES)


def make_instance(family: str, seed: int, params: Mapping[str, ParamValue]) -> Instance | Network:
    """Generate the instance of ``family`` with parameters ``params`` and seed ``seed``.

    Parameters
    ----------
    family
        One of :func:`families`.
    seed
        Seed of the generator; the same arguments always give the same instance.
    params
        Generator keyword arguments, plus any of :data:`TRANSFORMS`, applied afterwards.

    Raises
    ------
    StudyError
        Unknown family, or a parameter the family does not take.
    """
    gen_params: dict[str, Any] = {k: v for k, v in params.items() if k not in TRANSFORMS}
    try:
        if family in scenarios.NETWORK_FAMILIES:
            network = scenarios.generate_network(family, seed, **gen_params)
            return _transform_network(network, params)
        instance = scenarios.generate(family, seed, **gen_params)
    except scenarios.ScenarioError as exc:
        raise StudyError(str(exc)) from None
    return _transform(instance, params)


def _transform_network(network: Network, params: Mapping[str, ParamValue]) -> Network:
    """The transforms applied to every server of ``network`` (each server's one-server
    transform: its band, speed and memory; the deadlines; the timing)."""
    if not any(name in params for name in TRANSFORMS):
        return network
    servers = []
    users = network.users
    timing = network.timing
    for n, server in enumerate(network.servers):
        one = network.server_instance(n)
        changed = _transform(dataclasses.replace(one, users=()), params)
        timing = changed.timing
        servers.append(
            dataclasses.replace(
                server,
                bandwidth_hz=changed.bandwidth_hz,
                load_speed_bytes_per_s=changed.load_speed_bytes_per_s,
                memory_bytes=changed.memory_bytes,
            )
        )
    if "deadline_scale" in params:
        scale = float(params["deadline_scale"])  # checked positive by _transform above
        users = tuple(dataclasses.replace(u, deadline_s=u.deadline_s * scale) for u in users)
    try:
        return dataclasses.replace(network, servers=tuple(servers), users=users, timing=timing)
    except InstanceError as exc:
        raise StudyError(f"{exc.where}: {exc.problem}") from None


def _transform(instance: Instance, params: Mapping[str, ParamValue]) -> Instance:
    if "memory_bytes" in params:
        value = params["memory_bytes"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise StudyError(f"memory_bytes must be a positive number (got {value!r})")
        try:
            instance = dataclasses.replace(instance, memory_bytes=float(value))
        except InstanceError as exc:
            raise StudyError(f"memory_bytes: {exc.problem}") from None
    if "timing" in params:
        if params["timing"] not in TIMING_NAMES:
            raise StudyError(f"timing must be one of {', '.join(TIMING_NAMES)} (got {params['timing']!r})")
        instance = dataclasses.replace(instance, timing=str(params["timing"]))
    scales = {}
    for name in TRANSFORMS:
        if name in params and name not in ("timing", "memory_bytes"):
            value = params[name]
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise StudyError(f"{name} must be a positive number (got {value!r})")
            scales[name] = float(value)
    if not scales:
        return instance
    users = instance.users
    if "deadline_scale" in scales:
        users = tuple(
            dataclasses.replace(u, deadline_s=u.deadline_s * scales["deadline_scale"]) for u in instance.users
        )
    return dataclasses.replace(
        instance,
        users=users,
        bandwidth_hz=instance.bandwidth_hz * scales.get("bandwidth_scale", 1.0),
        load_speed_bytes_per_s=instance.load_speed_bytes_per_s * scales.get("load_speed_scale", 1.0),
    )
