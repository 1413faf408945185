"""Sharing structure of an instance: clusters, backbones, heads, and the exact case of the DP.

The models that matter are the *relevant* ones: every model some user requests, plus the
initial model (its blocks are in GPU memory at time 0). Models nobody requests and that are not
in memory at time 0 are never loaded, so they are ignored. Blocks of size 0 cost nothing to load
and are ignored as well.

Two relevant models are in the same *cluster* when they are connected through shared blocks
(connected components of the bipartite model–block graph). An instance is *backbone-sharing*
when, within every cluster, each block either belongs to every model of the cluster (the
*backbone*, possibly several blocks) or to exactly one model (its *head*, possibly empty); no
block spans two clusters, by construction. Then switching between two models of a cluster loads
the head of the new model, and switching to another cluster loads its whole model. A cluster of
a single model has its whole model as backbone and an empty head.

Without parameter sharing (:meth:`~partialloading.instance.Instance.unshared`, the ``ℓ_ns``
baseline) every model owns private copies of its blocks, so every relevant model forms its own
cluster whose backbone is the whole model: the structure is then backbone-sharing for every
instance.

The DP of :mod:`partialloading.solvers.dp` is exact when the structure is backbone-sharing and
every user has the same deadline (see ``docs/formulation.md`` §10).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .instance import Instance


@dataclass(frozen=True)
class Cluster:
    """A cluster of relevant models connected through shared blocks.

    Attributes
    ----------
    models
        Indices of the cluster's models (ascending).
    backbone
        Indices of the blocks every model of the cluster holds (for a single-model cluster,
        all its blocks of positive size).
    backbone_bytes
        Total size of the backbone in bytes.
    heads
        For each model of :attr:`models`, the indices of the blocks only that model holds.
    head_bytes
        For each model of :attr:`models`, the size of its head in bytes.
    partial
        Indices of the blocks held by more than one but not all models of the cluster (empty in
        a backbone-sharing instance).
    """

    models: tuple[int, ...]
    backbone: tuple[int, ...]
    backbone_bytes: float
    heads: tuple[tuple[int, ...], ...]
    head_bytes: tuple[float, ...]
    partial: tuple[int, ...]


@dataclass(frozen=True)
class SharingStructure:
    """Clusters of the relevant models and whether the instance is backbone-sharing.

    Attributes
    ----------
    clusters
        Clusters ordered by their smallest model index.
    cluster_of
        For each model of the instance, the index of its cluster in :attr:`clusters`, or
        ``None`` for an ignored model.
    ignored_models
        Indices of the models no user requests and that are not the initial model.
    violation
        Why the instance is not backbone-sharing, or ``None`` when it is.
    """

    clusters: tuple[Cluster, ...]
    cluster_of: tuple[int | None, ...]
    ignored_models: tuple[int, ...]
    violation: str | None

    @property
    def is_backbone(self) -> bool:
        """Whether every cluster is a backbone plus disjoint heads."""
        return self.violation is None


def relevant_models(instance: Instance) -> tuple[int, ...]:
    """Indices of the models some user requests, plus the initial model (ascending)."""
    requested = set(np.unique(instance.user_models).tolist())
    if instance.initial_model_index is not None:
        requested.add(instance.initial_model_index)
    return tuple(sorted(requested))


def _names(instance: Instance, models: list[int], limit: int = 3) -> str:
    ids = [instance.models[m].id for m in models[:limit]]
    if len(models) > limit:
        ids.append(f"{len(models) - limit} more")
    return ids[0] if len(ids) == 1 else ", ".join(ids[:-1]) + " and " + ids[-1]


def sharing_structure(instance: Instance) -> SharingStructure:
    """Detect the clusters, backbones and heads of ``instance``.

    Parameters
    ----------
    instance
        The instance.
    """
    relevant = relevant_models(instance)
    ignored = tuple(m for m in range(instance.num_models) if m not in set(relevant))
    sizes = instance.block_sizes
    member = instance.membership
    positive = sizes > 0

    # Bipartite model–block graph; only blocks held by two or more relevant models connect models.
    rel = np.array(relevant, dtype=np.int64)
    holders_count = member[rel][:, positive].sum(axis=0) if rel.size else np.zeros(0, dtype=np.int64)
    shared_blocks = np.flatnonzero(positive)[holders_count >= 2]
    import networkx as nx  # a tenth of a second to import: loaded by those who look for clusters

    graph: nx.Graph = nx.Graph()
    graph.add_nodes_from(("m", m) for m in relevant)
    for j in shared_blocks.tolist():
        holders = rel[member[rel, j]].tolist()
        graph.add_edges_from((("m", m), ("b", j)) for m in holders)
    components = sorted(
        (sorted(node[1] for node in comp if node[0] == "m") for comp in nx.connected_components(graph)),
        key=lambda models: models[0],
    )

    cluster_of: list[int | None] = [None] * instance.num_models
    clusters_list: list[Cluster] = []
    violation: str | None = None
    for c, models in enumerate(components):
        for m in models:
            cluster_of[m] = c
        sub = member[np.array(models)][:, positive]
        count = sub.sum(axis=0)
        pos_idx = np.flatnonzero(positive)
        in_cluster = count > 0
        if len(models) == 1:
            backbone = pos_idx[in_cluster]
            heads: tuple[tuple[int, ...], ...] = ((),)
            partial = np.zeros(0, dtype=np.int64)
        else:
            backbone = pos_idx[count == len(models)]
            heads = tuple(tuple(pos_idx[(count == 1) & sub[r]].tolist()) for r in range(len(models)))
            partial = pos_idx[(count >= 2) & (count < len(models))]
        if violation is None and partial.size:
            j = int(partial[0])
            holders = [m for m in models if member[m, j]]
            missing = [m for m in models if not member[m, j]]
            violation = (
                f"block {instance.blocks[j].id!r} is shared by {_names(instance, holders)} "
                f"but not by {_names(instance, missing)} of the same cluster"
            )
        clusters_list.append(
            Cluster(
                models=tuple(models),
                backbone=tuple(backbone.tolist()),
                backbone_bytes=float(sizes[backbone].sum()),
                heads=heads,
                head_bytes=tuple(float(sizes[list(h)].sum()) for h in heads),
                partial=tuple(partial.tolist()),
            )
        )
    return SharingStructure(tuple(clusters_list), tuple(cluster_of), ignored, violation)


def why_not_backbone(instance: Instance) -> str | None:
    """Why ``instance`` is not backbone-sharing (``None`` when it is; always ``None`` on an
    unshared instance)."""
    return sharing_structure(instance).violation


@dataclass(frozen=True)
class DeadlineSummary:
    """The distinct deadlines of the users.

    Attributes
    ----------
    distinct
        Number of distinct deadlines (0 without users).
    earliest, latest
        Smallest and largest deadline in seconds (``nan`` without users).
    """

    distinct: int
    earliest: float
    latest: float

    @property
    def common(self) -> bool:
        """Whether all users share one deadline (vacuously true without users)."""
        return self.distinct <= 1


def deadline_summary(instance: Instance) -> DeadlineSummary:
    """Count the distinct deadlines of ``instance`` and their range."""
    d = instance.deadlines
    if d.size == 0:
        return DeadlineSummary(0, float("nan"), float("nan"))
    return DeadlineSummary(int(np.unique(d).size), float(d.min()), float(d.max()))


def why_not_common_deadline(instance: Instance) -> str | None:
    """Why the users do not share one deadline (``None`` when they do)."""
    s = deadline_summary(instance)
    if s.common:
        return None
    return f"users have {s.distinct} different deadlines ({s.earliest:g} s to {s.latest:g} s)"


def grouped_order(instance: Instance, structure: SharingStructure, users: np.ndarray | None = None) -> list[int]:
    """Service order that keeps clusters and models contiguous, initial cluster and model first.

    Parameters
    ----------
    instance
        The instance.
    structure
        Its sharing structure (from :func:`sharing_structure`).
    users
        Indices of the users to order (default: every user). Within a model, users keep
        ascending index order.
    """
    idx = np.arange(instance.num_users) if users is None else np.asarray(users, dtype=np.int64)
    if idx.size == 0:
        return []
    i0 = instance.initial_model_index
    c0 = None if i0 is None else structure.cluster_of[i0]
    cluster_key = np.empty(instance.num_models, dtype=np.int64)
    model_key = np.empty(instance.num_models, dtype=np.int64)
    for c, cluster in enumerate(structure.clusters):
        for pos, m in enumerate(cluster.models):
            cluster_key[m] = -1 if c == c0 else c
            model_key[m] = -1 if m == i0 else pos
    models = instance.user_models[idx]
    keys = np.lexsort((idx, model_key[models], cluster_key[models]))
    return idx[keys].tolist()
