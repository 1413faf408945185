"""The ``cells`` family: edge servers on a hexagonal grid, users placed around them.

**Layout.** ``n_servers`` sites on the hexagonal grid of 3GPP TR 36.814 (Case 1: inter-site
distance ``isd_m`` = 500 m), filled ring by ring around the first site (ring ``r`` holds ``6r``
sites), each site an edge server (``cell0``, ``cell1``, ...). Users are dropped uniformly in
area over the union of the discs of radius ``coverage_m`` (default 400 m, beyond the 289 m
cell radius of that grid, so that cell-edge users reach two or three sites) around the sites.

**Radio.** Each user–site link has its own path loss and shadowing: the one-cell model of
:class:`~partialloading.scenarios.cell.Cell` (TR 36.814 macro path loss ``128.1 + 37.6·log10(d /
km)`` dB, 8 dB log-normal shadowing drawn per link, 23 dBm transmit power, −174 dBm/Hz thermal
noise, 5 dB receiver noise figure, SNR capped at 30 dB), the noise over a user's fair share of
its cell's band (``B / (K / n_servers)``). A user links to every site within ``coverage_m``.

**Everything else** — blocks, models, requests, input sizes, deadlines, weights, and each
server's band, loading speed and memory — is the ``base`` configured family's (default
``zoo-heads``) for the same seed and users: every site is a copy of that family's server, with
the same band (each cell reuses the spectrum). Deadlines are calibrated, as for the base family,
for all ``K`` users on one server, so adding servers adds capacity to the same demand.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from partialloading.errors import ScenarioError
from partialloading.instance import Instance, Link, Server, User
from partialloading.network import Network

from .cell import Cell

__all__ = ["CELLS_COVERAGE_M", "CELLS_FAMILY", "CELLS_ISD_M", "cell_links", "cells", "hex_sites", "servers_like"]

CELLS_FAMILY = "cells"
"""The family's name (``generate cells``)."""

CELLS_ISD_M = 500.0
"""Inter-site distance of the grid (TR 36.814 Case 1)."""

CELLS_COVERAGE_M = 400.0
"""A user links to every site within this distance."""


def hex_sites(count: int, isd_m: float) -> np.ndarray:
    """``count`` sites of the hexagonal grid with inter-site distance ``isd_m``, ring by ring
    around the origin (``(count, 2)`` metres)."""
    sites = [(0.0, 0.0)]
    ring = 1
    directions = [(math.cos(math.pi / 3 * (j + 2)), math.sin(math.pi / 3 * (j + 2))) for j in range(6)]
    while len(sites) < count:
        x, y = ring * isd_m, 0.0  # the ring's first site, then six sides of `ring` steps each
        for dx, dy in directions:
            for _ in range(ring):
                sites.append((x, y))
                x, y = x + dx * isd_m, y + dy * isd_m
        ring += 1
    return np.array(sites[:count], dtype=float)


def _drop(rng: np.random.Generator, sites: np.ndarray, count: int, coverage_m: float) -> np.ndarray:
    """``count`` points uniform in area over the union of the discs (rejection in the bounding box)."""
    low, high = sites.min(axis=0) - coverage_m, sites.max(axis=0) + coverage_m
    points: list[np.ndarray] = [np.zeros((0, 2))]
    while sum(len(p) for p in points) < count:
        batch = rng.uniform(low, high, size=(max(2 * count, 64), 2))
        near = np.min(np.linalg.norm(batch[:, None, :] - sites[None, :, :], axis=2), axis=1) <= coverage_m
        points.append(batch[near])
    return np.concatenate(points)[:count]


def cell_links(
    rng: np.random.Generator,
    count: int,
    n_servers: int,
    isd_m: float,
    coverage_m: float,
    cell: Cell,
    reference_bandwidth_hz: float,
) -> tuple[np.ndarray, list[tuple[Link, ...]]]:
    """Drop ``count`` users around ``n_servers`` sites: their positions and each one's links
    (SNR per link over ``reference_bandwidth_hz``, to 0.01 dB) to the sites within ``coverage_m``."""
    if n_servers < 1:
        raise ScenarioError(f"cells: servers must be at least 1 (got {n_servers})")
    if not isd_m > 0 or not coverage_m > 0:
        raise ScenarioError(f"cells: isd_m and coverage_m must be positive (got {isd_m}, {coverage_m})")
    sites = hex_sites(n_servers, isd_m)
    points = _drop(rng, sites, count, coverage_m)
    distance = np.linalg.norm(points[:, None, :] - sites[None, :, :], axis=2)
    shadow = rng.normal(0.0, cell.shadowing_db, distance.shape)
    snr = np.round(cell.snr_db(np.maximum(distance, cell.min_distance_m), shadow, reference_bandwidth_hz), 2)
    links = [
        tuple(Link(f"cell{n}", snr_db=float(snr[k, n])) for n in np.flatnonzero(distance[k] <= coverage_m))
        for k in range(count)
    ]
    return points, links


def servers_like(instance: Instance, n_servers: int) -> tuple[Server, ...]:
    """``n_servers`` copies of ``instance``'s server (band, speed, memory, initial contents)."""
    return tuple(
        Server(
            f"cell{n}",
            instance.bandwidth_hz,
            instance.load_speed_bytes_per_s,
            instance.initial_model,
            instance.memory,
            instance.memory_bytes,
            instance.initial_blocks,
        )
        for n in range(n_servers)
    )


def cells(
    seed: int,
    n_servers: int = 4,
    n_users: int = 200,
    *,
    isd_m: float = CELLS_ISD_M,
    coverage_m: float = CELLS_COVERAGE_M,
    base: str = "zoo-heads",
    **overrides: Any,
) -> Network:
    """A ``cells`` network (see the module): ``n_users`` users of the ``base`` family around
    ``n_servers`` sites."""
    from .configs import CONFIGS, config
    from .configured import generate_from

    if isinstance(n_servers, bool) or not isinstance(n_servers, int) or n_servers < 1:
        raise ScenarioError(f"cells: servers must be at least 1 (got {n_servers!r})")
    if base not in CONFIGS:
        raise ScenarioError(f"cells: base must be a configured family ({', '.join(CONFIGS)}; got {base!r})")
    cfg = config(base, n_users=n_users, **overrides)
    one = generate_from(base, cfg, seed)
    rng = np.random.default_rng(9000 + seed)
    share = cfg.bandwidth_hz / max(n_users / n_servers, 1.0)
    _, links = cell_links(rng, one.num_users, n_servers, isd_m, coverage_m, cfg.cell, share)
    users = tuple(
        User(u.id, u.model, u.data_bits, u.deadline_s, None, None, u.weight, u.infer_time_s, ls)
        for u, ls in zip(one.users, links, strict=True)
    )
    meta = {
        **dict(one.meta),
        "family": CELLS_FAMILY,
        "base": base,
        "seed": seed,
        "servers": n_servers,
        "isd_m": isd_m,
        "coverage_m": coverage_m,
        "sites_m": hex_sites(n_servers, isd_m).round(3).tolist(),
    }
    name = f"cells-{base}-s{n_servers}-u{n_users}-seed{seed}"
    # Through JSON, so that the network equals itself read back from its file.
    meta = json.loads(json.dumps(meta))
    return Network(one.blocks, one.models, users, servers_like(one, n_servers), name, one.timing, meta)
