"""Instance families a sweep can use, and the transforms applied to any of them."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from partialloading import scenarios
from partialloading.errors import InstanceError
from partialloading.instance import Instance
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
    """Names of every instance family a sweep can use (:data:`partialloading.scenarios.FAMILIES`)."""
    return scenarios.FAMILIES


def make_instance(family: str, seed: int, params: Mapping[str, ParamValue]) -> Instance:
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
        instance = scenarios.generate(family, seed, **gen_params)
    except scenarios.ScenarioError as exc:
        raise StudyError(str(exc)) from None
    return _transform(instance, params)


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
