"""Workload generator: a scenario family's server and requests arriving over time.

``generate_workload(family, rate, duration, seed, ...)`` draws

* **the server** (blocks, models, uplink, loading speed) from the family's model builder, or
  takes the given blocks and models (e.g. a catalog derived from checkpoints);
* **arrival times** on ``[0, duration)``: a renewal process with Gamma inter-arrival times of
  mean ``1/rate`` and coefficient of variation ``cv`` (``cv = 1``: exponential, a Poisson
  process; ``cv > 1``: bursty; ``cv < 1``: more regular), the usual way serving studies model
  burstiness;
* **each request** as the family draws a user (requested model by its popularity, uniform or
  Zipf; the radio as for ``n_users`` users sharing the uplink; the input; the weight);
* **a relative deadline**: ``slo`` times the request's *isolated latency* — its upload with the
  whole uplink, the full load of its model into an empty GPU and its inference — scaled by a
  factor uniform in ``[1 - spread, 1 + spread]``. With ``slo`` below 1 a request can be served
  only if some of its model is already in GPU memory.

The same family, parameters and seed give the same workload.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import numpy as np

from partialloading.instance import Block, Instance, Model, User
from partialloading.network import Network
from partialloading.scenarios import ScenarioError
from partialloading.scenarios.cells import CELLS_COVERAGE_M, CELLS_ISD_M, cell_links, servers_like
from partialloading.scenarios.configs import CONFIGS, ScenarioConfig, config
from partialloading.scenarios.configured import draw_users, memory_bytes

from .requests import Request
from .workload import Workload

MAX_REQUESTS = 5e7
"""Most requests (rate × duration) a generated workload may expect: about 10 GB of request
records in memory."""


def arrival_times(rate: float, duration: float, cv: float, rng: np.random.Generator) -> np.ndarray:
    """Arrival times on ``[0, duration)`` with Gamma inter-arrivals (mean ``1/rate``, CV ``cv``)."""
    shape = 1.0 / cv**2
    scale = 1.0 / (rate * shape)
    times: list[np.ndarray] = []
    last = 0.0
    expected = rate * duration
    while last < duration:
        chunk = int(expected + 10 * math.sqrt(expected + 1) + 16)
        gaps = rng.gamma(shape, scale, chunk)
        points = last + np.cumsum(gaps)
        times.append(points)
        last = float(points[-1])
    out = np.concatenate(times) if times else np.zeros(0)
    return out[out < duration]


def workload_server(
    cfg: ScenarioConfig, blocks: Sequence[Block], models: Sequence[Model], name: str, timing: str
) -> Instance:
    """The server of a workload: ``blocks`` and ``models`` with ``cfg``'s uplink, loading speed
    and GPU memory, an empty GPU at time 0, no users."""
    return Instance(
        blocks=tuple(blocks),
        models=tuple(models),
        users=(),
        bandwidth_hz=float(cfg.bandwidth_hz),
        load_speed_bytes_per_s=float(cfg.load_speed_bytes_per_s),
        initial_model=None,
        name=name,
        timing=timing,
        memory_bytes=memory_bytes(cfg, blocks, models),
    )


def generate_workload(
    family: str,
    rate: float,
    duration: float,
    seed: int = 0,
    *,
    cv: float = 1.0,
    slo: float = 3.0,
    spread: float = 0.5,
    blocks: tuple[Block, ...] | None = None,
    models: tuple[Model, ...] | None = None,
    timing: str = "frame",
    servers: int | None = None,
    **overrides: Any,
) -> Workload:
    """A workload of ``family`` with ``rate`` requests per second for ``duration`` seconds.

    Parameters
    ----------
    family
        A configured scenario family (``backbone``, ``general``, ``zoo-*``).
    rate, duration
        Mean arrival rate (requests per second) and length of the arrival window (seconds).
    seed
        Seed of every draw.
    cv
        Coefficient of variation of the inter-arrival times (1: Poisson).
    slo, spread
        Relative deadline = ``slo × U[1 - spread, 1 + spread] ×`` isolated latency.
    blocks, models
        The server's blocks and models instead of the family's own.
    timing
        Timing model of the server.
    servers
        Place that many edge servers on the ``cells`` family's hexagonal grid and give each
        request a link to every site within reach (:mod:`partialloading.scenarios.cells`; each
        server a copy of the family's); ``None``: one server, the family's one cell.
    **overrides
        Fields of the family's configuration (``popularity_zipf``, ``weighted``, ``n_users`` for
        the radio, ``bandwidth_hz``, ``load_speed_bytes_per_s``, ...).

    Raises
    ------
    ScenarioError
        Unknown family or parameter, or a value out of range.
    """
    _check_settings(family, rate, duration, seed, cv, slo, spread)
    cfg = config(family, **overrides)
    arrival_rng, deadline_rng = (np.random.default_rng(s) for s in np.random.SeedSequence([int(seed), 1]).spawn(2))
    times = arrival_times(float(rate), float(duration), float(cv), arrival_rng)
    server_blocks, server_models, users = draw_users(family, cfg, seed, len(times), blocks, models)
    server = workload_server(cfg, server_blocks, server_models, f"{family}-r{rate:g}-d{duration:g}-s{seed}", timing)
    factor = deadline_rng.uniform(1.0 - spread, 1.0 + spread, len(times))
    requests = _requests(server, users, times.tolist(), slo * factor)
    meta = {
        "generator": "partialloading.online",
        "family": family,
        "rate": rate,
        "duration": duration,
        "cv": cv,
        "slo": slo,
        "spread": spread,
        "seed": seed,
        "config": asdict(cfg),
    }
    where: Instance | Network = server
    if servers is not None:
        where, requests = _over_cells(cfg, server, requests, servers, seed)
        meta["servers"] = servers
    # Through JSON, so that the workload equals itself read back from its file.
    return Workload(where, tuple(requests), json.loads(json.dumps(meta)))


def _over_cells(
    cfg: ScenarioConfig, server: Instance, requests: list[Request], count: int, seed: int
) -> tuple[Network, list[Request]]:
    """The servers on the ``cells`` grid and each request's links to them (its deadline kept)."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ScenarioError(f"servers must be a positive integer (got {count!r})")
    rng = np.random.default_rng(9500 + seed)
    share = cfg.bandwidth_hz / max(cfg.n_users / count, 1.0)
    _, links = cell_links(rng, len(requests), count, CELLS_ISD_M, CELLS_COVERAGE_M, cfg.cell, share)
    moved = [
        dataclasses.replace(r, spectral_efficiency=None, snr_db=None, links=ls)
        for r, ls in zip(requests, links, strict=True)
    ]
    network = Network(server.blocks, server.models, (), servers_like(server, count), server.name, server.timing)
    return network, moved


def _check_settings(family: str, rate: float, duration: float, seed: int, cv: float, slo: float, spread: float) -> None:
    """Refuse an unknown family and out-of-range settings (each named), and more requests than
    :data:`MAX_REQUESTS` expected."""
    if family not in CONFIGS:
        raise ScenarioError(f"workloads need a configured family ({', '.join(CONFIGS)}; got {family!r})")
    checks = [
        (rate, "rate", lambda x: x > 0),
        (duration, "duration", lambda x: x > 0),
        (cv, "cv", lambda x: x > 0),
        (slo, "slo", lambda x: x > 0),
        (spread, "spread", lambda x: 0 <= x < 1),
    ]
    for value, name, ok in checks:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or not ok(value):
            rule = "in [0, 1)" if name == "spread" else "a positive finite number"
            raise ScenarioError(f"{name} must be {rule} (got {value!r})")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ScenarioError(f"seed must be a non-negative integer (got {seed!r})")
    if rate * duration > MAX_REQUESTS:
        raise ScenarioError(f"rate × duration = {rate * duration:.3g} expected requests: at most {MAX_REQUESTS:g}")


def _requests(server: Instance, users: Sequence[User], times: list[float], scale: np.ndarray) -> list[Request]:
    """One request per drawn user, arriving at ``times``, due ``scale`` times its isolated
    latency after its arrival (upload with the whole band, its whole model loaded, its inference)."""
    sizes = dict(zip((m.id for m in server.models), server.model_sizes.tolist(), strict=True))
    infer = {m.id: float(m.infer_time_s) for m in server.models}
    requests = []
    for i, (user, when) in enumerate(zip(users, times, strict=True)):
        alone = user.upload_work / server.bandwidth_hz + sizes[user.model] / server.load_speed_bytes_per_s
        alone += infer[user.model]
        requests.append(
            Request(
                id=f"r{i}",
                model=user.model,
                arrival_s=round(when, 9),
                data_bits=user.data_bits,
                relative_deadline_s=max(round(float(scale[i]) * alone, 9), 1e-9),
                snr_db=user.snr_db,
                spectral_efficiency=user.spectral_efficiency,
                weight=user.weight,
            )
        )
    return requests
