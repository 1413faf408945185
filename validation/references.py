"""Reference algorithms and instance builders for known-answer tests of the exact methods.

Two families of instances whose optimum follows from classical results, independently of any
solver in the toolkit:

* :func:`no_loading_instance` — every block has size 0, so switching models costs nothing and the
  uploads are negligible: the problem is the single-machine problem ``1||ΣU_j`` (minimize the
  number of late jobs), solved exactly by :func:`moore_hodgson`.
* :func:`hamiltonian_instance` — the NP-hardness reduction of ``docs/formulation.md``: every user
  can be served by the common deadline iff the graph has a Hamiltonian path
  (:func:`has_hamiltonian_path`, a Held–Karp dynamic program).

The tests and ``benchmarks/greedy_quality.py`` use them as known answers.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import networkx as nx
import numpy as np

from partialloading.errors import PartialLoadingError
from partialloading.instance import Block, Instance, Model, User


class ReferenceInputError(PartialLoadingError, ValueError):
    """A reference algorithm was given input outside its case."""


MS = 1e-3
"""One millisecond: the time grid of the known-answer instances."""

UPLOAD_BUDGET = 0.25 * MS
"""The uploads of *all* users together take less than this (asserted by the builders).

Inference and loading times are whole milliseconds and deadlines sit half-way between two whole
milliseconds, so ``deadline − Σ(work before a user)`` is never closer to 0 than 0.5 ms. Adding an
upload phase shorter than 0.25 ms (plus float rounding, ~1e-15 s) can therefore never change
whether a user is on time: the loading/upload-free reasoning of the references stays exact."""


def moore_hodgson(processing: Sequence[float], deadlines: Sequence[float]) -> list[int]:
    """Indices of a maximum on-time set for ``1||ΣU_j`` (Moore–Hodgson, 1968).

    Jobs are added in earliest-due-date order; whenever the last added job is late, the longest
    job scheduled so far is dropped. The jobs kept, in EDD order, are all on time and no larger
    set of jobs can be.

    Parameters
    ----------
    processing
        Processing time of each job.
    deadlines
        Due date of each job.

    Returns
    -------
    list[int]
        Indices of the on-time jobs, in earliest-due-date order.
    """
    if len(processing) != len(deadlines):
        raise ReferenceInputError("processing and deadlines differ in length")
    order = sorted(range(len(processing)), key=lambda j: (deadlines[j], j))
    kept: list[int] = []
    total = 0.0
    for j in order:
        kept.append(j)
        total += processing[j]
        if total > deadlines[j]:
            # Dropping the longest job gives the earliest completion among the largest on-time sets.
            longest = max(kept, key=lambda i: (processing[i], i))
            kept.remove(longest)
            total -= processing[longest]
    return kept


def no_loading_instance(seed: int, n_users: int, n_models: int | None = None) -> Instance:
    """An instance in which the optimum is given by :func:`moore_hodgson` on the inference times.

    All models consist of one shared block of size 0 (loads cost nothing, with or without
    sharing), weights are 1, inference times are whole milliseconds (1–9 ms), deadlines are
    per user and half-way between whole milliseconds, and uploads are negligible (see
    :data:`UPLOAD_BUDGET`). So user ``k`` can be seen as a job of length ``c_{m_k}`` with due date
    ``T_k``, and the maximum number of users served is ``len(moore_hodgson(c[m], T))``.

    Parameters
    ----------
    seed
        Seed of the random generator.
    n_users
        Number of users.
    n_models
        Number of models (default: one per user, so every user has its own inference time).
    """
    rng = np.random.default_rng(seed)
    n_models = n_users if n_models is None else n_models
    infer_ms = rng.integers(1, 10, n_models)
    requested = rng.integers(0, n_models, n_users)
    total_ms = int(infer_ms[requested].sum())
    # Deadlines spread so that roughly half to most of the users fit.
    deadline_ms = rng.integers(1, max(2, int(0.7 * total_ms) + 1), n_users) + 0.5
    blocks = (Block("void", 0.0),)
    models = tuple(Model(f"m{i}", ("void",), float(infer_ms[i]) * MS) for i in range(n_models))
    users = tuple(
        User(
            id=f"u{k}",
            model=f"m{int(requested[k])}",
            data_bits=1.0,
            deadline_s=float(deadline_ms[k]) * MS,
            spectral_efficiency=1.0,
        )
        for k in range(n_users)
    )
    instance = Instance(
        blocks=blocks,
        models=models,
        users=users,
        bandwidth_hz=1e7,
        load_speed_bytes_per_s=1e9,
        name=f"no-loading-u{n_users}-s{seed}",
        meta={"generator": "no_loading_instance", "seed": seed},
    )
    assert float(instance.upload_times.sum()) < UPLOAD_BUDGET, "uploads must be negligible"
    return instance


def no_loading_optimum(instance: Instance) -> int:
    """The optimal number of users of a :func:`no_loading_instance` (by Moore–Hodgson)."""
    processing = instance.infer_times[instance.user_models].tolist()
    return len(moore_hodgson(processing, instance.deadlines.tolist()))


def hamiltonian_instance(graph: nx.Graph) -> Instance:
    """The NP-hardness reduction: all users fit by the deadline iff ``graph`` has a Hamiltonian path.

    Construction (``n`` vertices, maximum degree ``Δ``, ``d = max(Δ, 1)``):

    * one block of 1 MB per edge, and private blocks of 1 MB so that every vertex ``v`` has a
      model made of exactly ``d`` blocks: the blocks of its incident edges plus ``d − deg(v)``
      private ones. Loading speed 1 GB/s, so one block loads in 1 ms;
    * two distinct models share at most one block — the block of the edge between them, if any
      (private blocks are never shared, and a simple graph has at most one ``uv`` edge). Hence
      ``ℓ(u, v) = d − 1`` ms if ``uv`` is an edge, ``d`` ms otherwise, and ``d`` ms from the
      empty GPU;
    * one user per vertex, inference time 0, negligible uploads, common deadline
      ``n·d − (n − 1) + 0.5`` ms.

    Serving all ``n`` users means serving the ``n`` models in some order ``v_1 … v_n`` (each once,
    one user per model) and costs ``n·d − #{r : v_r v_{r+1} ∈ E}`` ms of loading. That is at most
    ``n·d − (n − 1)`` exactly when every consecutive pair is an edge, i.e. the order is a
    Hamiltonian path; otherwise it is at least 1 ms more, beyond the half-millisecond slack.

    Parameters
    ----------
    graph
        A simple undirected graph (no self-loops); node labels become part of the ids.
    """
    if any(u == v for u, v in graph.edges):
        raise ReferenceInputError("the reduction needs a graph without self-loops")
    nodes = list(graph.nodes)
    degree = max((d for _, d in graph.degree), default=0)
    size = max(degree, 1)
    blocks: list[Block] = []
    incident: dict[Hashable, list[str]] = {v: [] for v in nodes}
    for e, (u, v) in enumerate(graph.edges):
        bid = f"edge{e}"
        blocks.append(Block(bid, 1e6))
        incident[u].append(bid)
        incident[v].append(bid)
    models: list[Model] = []
    for i, v in enumerate(nodes):
        own = incident[v]
        for p in range(size - len(own)):
            bid = f"pad{i}_{p}"
            blocks.append(Block(bid, 1e6))
            own = [*own, bid]
        models.append(Model(f"v{i}", tuple(own), 0.0))
    n = len(nodes)
    deadline = (n * size - (n - 1) + 0.5) * MS
    users = tuple(
        User(id=f"u{i}", model=f"v{i}", data_bits=1.0, deadline_s=deadline, spectral_efficiency=1.0) for i in range(n)
    )
    instance = Instance(
        blocks=tuple(blocks),
        models=tuple(models),
        users=users,
        bandwidth_hz=1e7,
        load_speed_bytes_per_s=1e9,
        name=f"hamiltonian-n{n}-e{graph.number_of_edges()}",
        meta={"generator": "hamiltonian_instance"},
    )
    assert float(instance.upload_times.sum()) < UPLOAD_BUDGET, "uploads must be negligible"
    return instance


def has_hamiltonian_path(graph: nx.Graph) -> bool:
    """Whether ``graph`` has a Hamiltonian path (Held–Karp DP over vertex subsets, O(2^n n²))."""
    nodes = list(graph.nodes)
    n = len(nodes)
    if n <= 1:
        return True
    if n > 20:
        raise ReferenceInputError("brute force is limited to 20 vertices")
    index = {v: i for i, v in enumerate(nodes)}
    adj = [0] * n
    for u, v in graph.edges:
        adj[index[u]] |= 1 << index[v]
        adj[index[v]] |= 1 << index[u]
    # ends[mask]: bitset of vertices at which some path through exactly `mask` can end.
    ends = [0] * (1 << n)
    for i in range(n):
        ends[1 << i] = 1 << i
    for mask in range(1, 1 << n):
        reach = ends[mask]
        if not reach:
            continue
        for i in range(n):
            if reach >> i & 1:
                for j in range(n):
                    if adj[i] >> j & 1 and not mask >> j & 1:
                        ends[mask | 1 << j] |= 1 << j
    return ends[(1 << n) - 1] != 0


def edf_trap_instance() -> Instance:
    """EDF serves x (model A, 0.9 s to load) first; then neither y nor z (model B, 0.5 s) fits.

    Uploads are negligible (1 bit) and inference is free: serving y then z finishes at 0.5 s
    ≤ 1.1 s, and x cannot be added (0.5 + 0.9 > 1.0). The optimum serves 2 users.
    """
    return Instance(
        blocks=(Block("a", 0.9e9), Block("b", 0.5e9)),
        models=(Model("A", ("a",), 0.0), Model("B", ("b",), 0.0)),
        users=(
            User("x", "A", 1.0, 1.0, spectral_efficiency=1.0),
            User("y", "B", 1.0, 1.1, spectral_efficiency=1.0),
            User("z", "B", 1.0, 1.1, spectral_efficiency=1.0),
        ),
        bandwidth_hz=1e9,
        load_speed_bytes_per_s=1e9,
        name="trap",
    )
