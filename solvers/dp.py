"""Exact dynamic program for backbone sharing with one common deadline (``method="dp"``).

When every user has the same deadline ``T`` and the instance is backbone-sharing (see
:mod:`partialloading.sharing`), an optimal order serves each used cluster contiguously and each
used model contiguously, with the initial model's cluster and model first; every needed block
is then loaded exactly once and only the total time matters. The problem becomes: choose ``S``
of maximum weight with

    Σ_{k∈S} p_k + Σ_{used models} head_i / v + Σ_{used clusters} backbone_c / v ≤ T,
    p_k = a_k / B + c_{m_k},

where the backbone of the initial model's cluster and the initial model's head cost nothing.
With unit weights a model serving ``n`` users serves its ``n`` cheapest ones, so its cost is
``head/v + P_m(n)`` (prefix sums of its sorted ``p``); models are combined into their cluster
(plus the backbone when the cluster is used) and clusters into the whole instance by min-plus
convolution over the number served. The proofs are in ``docs/formulation.md`` §10.

Implementation: one pass over the clusters keeps ``G[n]``, the least time that serves ``n``
users of the clusters seen so far. A cluster starts from ``D = G + backbone/v`` ("cluster
opened"), folds its models in one at a time (``D ← D ⊕ f_m`` with ``f_m(0) = 0`` and
``f_m(j) = head/v + P_m(j)``), and ends with ``G ← min(G, D)``. Each fold is a vectorized
min-plus convolution over a sliding window; states whose time exceeds ``T`` are dropped (times
only grow), and so are states that a Lagrangian bound proves cannot reach the weight of a known
feasible schedule (:class:`_Pruning`), so each stage keeps a narrow window of counts. The
argmins are kept (in the smallest integer type) to rebuild the schedule. Worst case
``O(K·n*) ≤ O(K²)`` work, ``n*`` the optimum; memory ``O(|I|·n*)`` small integers.

Integer weights: the same recursion runs over total weight instead of count, each model's
``f_m(w)`` coming from a 0/1 knapsack over its users (pseudo-polynomial, refused above
:data:`MAX_TOTAL_WEIGHT`). Weights that are all equal are handled as unit weights. Other
weights are refused. The time limit and seed are not used: the DP always finishes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from partialloading.errors import InstanceTooLargeError, MethodNotApplicableError, SolverError
from partialloading.instance import FloatArray, Instance, IntArray
from partialloading.methods import METHODS, SolveRequest, SolverOutput
from partialloading.params import DpParams
from partialloading.result import Status
from partialloading.sharing import SharingStructure, grouped_order, sharing_structure, why_not_common_deadline
from partialloading.tolerance import RELATIVE_TOLERANCE

MAX_TOTAL_WEIGHT = 100_000
"""Largest total weight of the users the weighted (pseudo-polynomial) recursion accepts."""

MAX_KNAPSACK_CELLS = 50_000_000
"""Largest ``Σ_models users·weight`` of the per-model knapsack tables (one byte per cell)."""

_CHUNK_CELLS = 1 << 21
"""Cells of the min-plus window evaluated per numpy call (bounds the temporary memory)."""


@dataclass(frozen=True)
class _Check:
    reasons: tuple[str, ...]
    too_large: str | None
    structure: SharingStructure
    integer_weights: IntArray | None


def _weights(instance: Instance) -> tuple[str | None, str | None, IntArray | None]:
    """(reason the weights are unusable, reason they are too large, integer weights or None for unit)."""
    w = instance.weights
    if w.size == 0 or np.all(w == w[0]):
        return None, None, None
    rounded = np.round(w)
    bad = np.flatnonzero(rounded != w)
    if bad.size:
        k = int(bad[0])
        return (
            f"weights are neither all equal nor integers (user {instance.users[k].id!r} has weight {w[k]:g})",
            None,
            None,
        )
    total = float(rounded.sum())
    if total > MAX_TOTAL_WEIGHT:
        return None, f"total weight {total:g} exceeds {MAX_TOTAL_WEIGHT} (the weighted DP is pseudo-polynomial)", None
    iw = rounded.astype(np.int64)
    per_model = np.bincount(instance.user_models, minlength=instance.num_models)
    weight_per_model = np.bincount(instance.user_models, weights=rounded, minlength=instance.num_models)
    cells = float((per_model * (weight_per_model + 1)).sum())
    if cells > MAX_KNAPSACK_CELLS:
        return None, f"the per-model knapsack tables would need {cells:.3g} cells (limit {MAX_KNAPSACK_CELLS:g})", None
    return None, None, iw


def _check(instance: Instance) -> _Check:
    reasons: list[str] = []
    deadline = why_not_common_deadline(instance)
    if deadline:
        reasons.append(deadline)
    structure = sharing_structure(instance)
    if structure.violation:
        reasons.append(structure.violation)
    if instance.initial_blocks is not None:
        reasons.append("the GPU starts with a set of blocks, not one model (server.initial_blocks)")
    weight_reason, too_large, integer_weights = _weights(instance)
    if weight_reason:
        reasons.append(weight_reason)
    return _Check(tuple(reasons), too_large, structure, integer_weights)


def why_not_exact(instance: Instance) -> str | None:
    """Why the DP is not exact (or cannot run) on ``instance``; ``None`` when it is exact.

    Parameters
    ----------
    instance
        The instance. Without sharing (:meth:`~partialloading.instance.Instance.unshared`) every
        model is its own cluster, so the DP is exact whenever the deadline is common (and the
        weights usable), whatever the blocks.
    """
    check = _check(instance)
    reasons = [*check.reasons, *([check.too_large] if check.too_large else [])]
    return "; ".join(reasons) if reasons else None


def _smallest_uint(high: int) -> type[np.unsignedinteger[Any]]:
    for dtype in (np.uint8, np.uint16, np.uint32):
        if high <= np.iinfo(dtype).max:
            return dtype
    return np.uint64


def _fold(d: FloatArray, f: FloatArray) -> tuple[FloatArray, npt.NDArray[np.unsignedinteger[Any]]]:
    """Min-plus convolution ``out[n] = min_j d[n−j] + f[j]`` with the smallest argmin ``j``.

    ``f[0] = 0`` (taking nothing from the model); the result has ``d.size + f.size − 1`` entries.
    """
    b = f.size - 1
    if b == 0 or d.size == 0:
        return d.copy(), np.zeros(d.size, dtype=np.uint8)
    pad = np.full(b, np.inf)
    # window[n, j] = d[n − j] (inf outside d), a strided view: no copy.
    window = sliding_window_view(np.concatenate((pad, d, pad)), b + 1)[:, ::-1]
    rows = window.shape[0]
    out = np.empty(rows)
    choice = np.empty(rows, dtype=_smallest_uint(b))
    step = max(1, _CHUNK_CELLS // (b + 1))
    for r0 in range(0, rows, step):
        cand = window[r0 : r0 + step] + f
        arg = np.argmin(cand, axis=1)  # first minimum: the fewest users from this model
        choice[r0 : r0 + step] = arg
        out[r0 : r0 + step] = np.take_along_axis(cand, arg[:, None], axis=1)[:, 0]
    return out, choice


@dataclass(frozen=True)
class _Costs:
    """The instance reduced to what the DP needs (times in seconds, instance indices)."""

    limit: float  # the common deadline, with the evaluator's relative tolerance
    p: FloatArray  # p_k = a_k/B + c_{m_k}
    weights: FloatArray  # w_k (all 1 when the weights are equal: the DP then counts users)
    clusters: tuple[tuple[int, ...], ...]  # models with users, per cluster
    head: FloatArray  # head_i / v per model (0 for the initial model)
    backbone: FloatArray  # backbone_c / v per cluster (0 for the initial model's cluster)
    cluster_of_model: IntArray  # cluster of each model (-1: no users)
    model_of_user: IntArray  # m_k


def _costs(instance: Instance, structure: SharingStructure, weights: IntArray | None) -> _Costs:
    v = float(instance.load_speed_bytes_per_s)
    i0 = instance.initial_model_index
    c0 = None if i0 is None else structure.cluster_of[i0]
    users_per_model = np.bincount(instance.user_models, minlength=instance.num_models)
    head = np.zeros(instance.num_models)
    backbone = np.zeros(len(structure.clusters))
    cluster_of_model = np.full(instance.num_models, -1, dtype=np.int64)
    clusters = []
    for c, cluster in enumerate(structure.clusters):
        backbone[c] = 0.0 if c == c0 else cluster.backbone_bytes / v
        for m, head_bytes in zip(cluster.models, cluster.head_bytes, strict=True):
            head[m] = 0.0 if m == i0 else head_bytes / v
            if users_per_model[m]:
                cluster_of_model[m] = c
        clusters.append(tuple(m for m in cluster.models if users_per_model[m]))
    return _Costs(
        limit=float(instance.deadlines[0]) * (1.0 + RELATIVE_TOLERANCE),
        p=instance.upload_times + instance.user_infer_times,
        weights=np.ones(instance.num_users) if weights is None else weights.astype(float),
        clusters=tuple(clusters),
        head=head,
        backbone=backbone,
        cluster_of_model=cluster_of_model,
        model_of_user=instance.user_models,
    )


@dataclass(frozen=True)
class _Pruning:
    """Lagrangian bounds that let the DP drop states that cannot lead to an optimum.

    For a multiplier ``λ ≥ 0``, any set ``R`` of users of the models not yet folded, served
    within ``β`` more seconds, weighs at most ``λβ + Φ(λ)``, where ``Φ`` is the largest
    ``weight − λ·time`` over all such sets (separable: per model ``(Σ_k (w_k − λp_k)^+ −
    λ·head)^+``, per cluster ``(Σ_models − λ·backbone)^+``). A state that has served ``n`` units
    in ``t`` seconds can therefore reach at most ``n + λ(T − t) + Φ_rest``; when that is below
    :attr:`target`, the weight of a known feasible schedule, the state is dropped.
    """

    lam: float
    target: float  # weight of a feasible schedule (a lower bound on the optimum)
    upper: float  # λT + Φ(λ): an upper bound on the optimum
    model_gain: FloatArray  # Φ term of each model at λ
    cluster_gain: FloatArray  # Φ term of each cluster at λ

    def keep(self, lo: int, values: FloatArray, rest: float, limit: float) -> tuple[int, int]:
        """Range ``[first, last)`` of the states worth keeping (``first == last``: none)."""
        n = lo + np.arange(values.size)
        fits = values <= limit
        reach = n + self.lam * np.where(fits, limit - values, 0.0) + rest
        # Float slack: the bound is a sum of O(K) terms; a margin far above rounding keeps it exact.
        margin = 1e-7 * (abs(self.upper) + 1.0)
        ok = np.flatnonzero(fits & (reach >= self.target - margin))
        if ok.size == 0:
            return 0, 0
        return int(ok[0]), int(ok[-1]) + 1


def _gains(costs: _Costs, lam: float) -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """Per-model and per-cluster Lagrangian gains at ``lam`` and the users with positive profit."""
    profit = costs.weights - lam * costs.p
    positive = profit > 0
    users_models = costs.model_of_user
    per_model = np.bincount(users_models, weights=np.where(positive, profit, 0.0), minlength=costs.head.size)
    model_gain = np.maximum(per_model - lam * costs.head, 0.0)
    rel = costs.cluster_of_model >= 0
    per_cluster = np.bincount(costs.cluster_of_model[rel], weights=model_gain[rel], minlength=costs.backbone.size)
    cluster_gain = np.maximum(per_cluster - lam * costs.backbone, 0.0)
    return model_gain, cluster_gain, positive


def _lagrangian_schedule(costs: _Costs, lam: float) -> tuple[float, npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """The Lagrangian solution at ``lam`` (positive-profit users of open models): time, users, open models."""
    model_gain, cluster_gain, positive = _gains(costs, lam)
    open_cluster = cluster_gain > 0
    open_model = (model_gain > 0) & (costs.cluster_of_model >= 0)
    open_model[open_model] = open_cluster[costs.cluster_of_model[open_model]]
    served = positive & open_model[costs.model_of_user]
    time = float(costs.p[served].sum() + costs.head[open_model].sum() + costs.backbone[open_cluster].sum())
    return time, served, open_model


def _pruning(costs: _Costs) -> _Pruning | None:
    """Bisect the smallest ``λ`` whose Lagrangian solution fits: its weight is the target."""
    with np.errstate(divide="ignore"):
        ratio = costs.weights / costs.p
    lo, hi = 0.0, float(ratio.max()) * (1.0 + 1e-9)
    if not np.isfinite(hi):
        return None  # a user with p_k = 0 (no upload, no inference): no useful multiplier
    time, served, open_model = _lagrangian_schedule(costs, lo)
    if time <= costs.limit:
        hi = lo
    else:
        # The solution set only shrinks as λ grows, so its time is monotone: bisect.
        time, served, open_model = _lagrangian_schedule(costs, hi)
        for _ in range(64):
            mid = 0.5 * (lo + hi)
            if not lo < mid < hi:
                break
            t_mid, s_mid, o_mid = _lagrangian_schedule(costs, mid)
            if t_mid <= costs.limit:
                hi, time, served, open_model = mid, t_mid, s_mid, o_mid
            else:
                lo = mid
    # Then the cheapest left-out users of the open models, while they fit: still feasible.
    extra = np.flatnonzero(open_model[costs.model_of_user] & ~served)
    extra = extra[np.argsort(costs.p[extra], kind="stable")]
    fits = int(np.searchsorted(np.cumsum(costs.p[extra]), costs.limit - time, side="right"))
    target = float(costs.weights[served].sum() + costs.weights[extra[:fits]].sum())
    model_gain, cluster_gain, _ = _gains(costs, hi)
    upper = hi * costs.limit + float(cluster_gain.sum())
    return _Pruning(hi, target, upper, model_gain, cluster_gain)


@dataclass(frozen=True)
class _ModelCosts:
    """For one model: ``f[j]``, the least time to serve ``j`` units from it, and how."""

    users: IntArray  # the model's users, cheapest first (ties: lower index first)
    f: FloatArray
    take: npt.NDArray[np.bool_] | None  # knapsack table (weighted), None for unit weights

    def chosen(self, units: int, weights: IntArray | None) -> IntArray:
        if units == 0:
            return self.users[:0]
        if self.take is None:
            return self.users[:units]  # the `units` cheapest
        if weights is None:
            raise SolverError("dp: a knapsack table without weights")
        picked: list[int] = []
        w = units
        for i in range(self.users.size - 1, -1, -1):
            if self.take[i, w]:
                picked.append(int(self.users[i]))
                w -= int(weights[self.users[i]])
        if w != 0:
            raise SolverError("dp: the knapsack reconstruction does not use exactly the recorded weight")
        return np.array(sorted(picked), dtype=np.int64)


def _within(values: FloatArray, limit: float) -> int:
    """Entries to keep: up to the last one within ``limit`` (``values`` only grow, up to rounding)."""
    ok = np.flatnonzero(values <= limit)
    return int(ok[-1]) + 1 if ok.size else 0


def _unit_costs(users: IntArray, p: FloatArray, head: float, limit: float) -> _ModelCosts:
    f = np.concatenate(([0.0], head + np.cumsum(p[users])))
    return _ModelCosts(users, f[: max(_within(f, limit), 1)], None)


def _knapsack_costs(users: IntArray, p: FloatArray, weights: IntArray, head: float, limit: float) -> _ModelCosts:
    total = int(weights[users].sum())
    best = np.full(total + 1, np.inf)
    best[0] = 0.0
    take = np.zeros((users.size, total + 1), dtype=bool)
    for i, k in enumerate(users.tolist()):
        w = int(weights[k])
        cand = best[:-w] + p[k]
        better = cand < best[w:]  # strict: on ties keep the earlier (cheaper) users
        best[w:][better] = cand[better]
        take[i, w:] = better
    f = best.copy()
    f[1:] += head
    return _ModelCosts(users, f[: max(_within(f, limit), 1)], take)


@dataclass(frozen=True)
class _Window:
    """States ``lo … lo + len(values) − 1`` (units served) of one DP stage."""

    lo: int
    values: FloatArray


@dataclass(frozen=True)
class _Fold:
    costs: _ModelCosts
    lo: int
    choice: npt.NDArray[np.unsignedinteger[Any]]


@dataclass(frozen=True)
class _ClusterStep:
    lo: int
    opened: npt.NDArray[np.bool_]
    folds: tuple[_Fold, ...]


def _run(
    costs: _Costs, weights: IntArray | None, ranked: IntArray, bounds: IntArray, pruning: _Pruning | None
) -> tuple[int, list[IntArray], dict[str, Any]]:
    """The recursion over clusters and models; returns the optimum, the users per used model, stats."""

    def trim(lo: int, values: FloatArray, rest: float) -> tuple[int, int]:
        if pruning is None:
            return 0, _within(values, costs.limit)
        return pruning.keep(lo, values, rest, costs.limit)

    rest_after = np.zeros(len(costs.clusters))
    if pruning is not None:
        gains = np.array([pruning.cluster_gain[c] for c in range(len(costs.clusters))])
        rest_after = np.concatenate((np.cumsum(gains[::-1])[::-1][1:], [0.0]))
    g = _Window(0, np.zeros(1))
    steps: list[_ClusterStep] = []
    states = 0
    for c, models in enumerate(costs.clusters):
        if not models:
            continue
        d = _Window(g.lo, g.values + costs.backbone[c])
        model_rest = np.zeros(len(models))
        if pruning is not None:
            gm = pruning.model_gain[list(models)]
            model_rest = np.concatenate((np.cumsum(gm[::-1])[::-1][1:], [0.0]))
        folds: list[_Fold] = []
        for q, m in enumerate(models):
            users = ranked[bounds[m] : bounds[m + 1]]
            head = float(costs.head[m])
            mc = (
                _unit_costs(users, costs.p, head, costs.limit)
                if weights is None
                else _knapsack_costs(users, costs.p, weights, head, costs.limit)
            )
            out, choice = _fold(d.values, mc.f)
            first, last = trim(d.lo, out, float(model_rest[q] + rest_after[c]))
            folds.append(_Fold(mc, d.lo + first, choice[first:last]))
            d = _Window(d.lo + first, out[first:last])
            states += d.values.size
        # G ← min(G, D) on the union of the two windows; ties leave the cluster closed.
        lo = min(g.lo, d.lo) if d.values.size else g.lo
        hi = max(g.lo + g.values.size, d.lo + d.values.size)
        g_pad = np.full(hi - lo, np.inf)
        g_pad[g.lo - lo : g.lo - lo + g.values.size] = g.values
        d_pad = np.full(hi - lo, np.inf)
        d_pad[d.lo - lo : d.lo - lo + d.values.size] = d.values
        opened = d_pad < g_pad
        merged = np.where(opened, d_pad, g_pad)
        first, last = trim(lo, merged, float(rest_after[c]))
        steps.append(_ClusterStep(lo + first, opened[first:last], tuple(folds)))
        g = _Window(lo + first, merged[first:last])
        states += g.values.size

    within = np.flatnonzero(g.values <= costs.limit)
    if within.size == 0:
        return -1, [], {}
    best = g.lo + int(within[-1])
    chosen: list[IntArray] = []
    n = best
    clusters_used = 0
    for step in reversed(steps):
        if not step.opened[n - step.lo]:
            continue
        clusters_used += 1
        for fold in reversed(step.folds):
            j = int(fold.choice[n - fold.lo])
            if j:
                chosen.append(fold.costs.chosen(j, weights))
                n -= j
    if n != 0:
        raise SolverError("dp: the argmins do not account for every unit served")
    stats = {
        "states": states,
        "clusters_used": clusters_used,
        "models_used": len(chosen),
        "time_used_s": float(g.values[best - g.lo]),
    }
    return best, chosen, stats


def _instead(instance: Instance) -> str:
    """The exact methods that take ``instance`` (the registry's word), then greedy."""
    names = [m for m in ("bnb", "milp", "cpsat") if METHODS[m].why_not(instance) is None] + ["greedy"]
    return "use " + ", ".join(names[:-1]) + " or " + names[-1]


def solve(instance: Instance, params: DpParams, request: SolveRequest) -> SolverOutput:
    """Solve a backbone-sharing, common-deadline instance exactly.

    With ``params.prune`` DP states that the Lagrangian bound proves useless are dropped
    (exact either way; ``False`` runs the plain recursion, for checking). The time limit,
    seed and initial schedule are not used: the DP always finishes, with the optimum.

    Raises
    ------
    MethodNotApplicableError
        Deadlines differ, blocks are shared outside the backbone pattern, or weights are
        neither all equal nor integers (the message says which).
    InstanceTooLargeError
        Integer weights whose total makes the pseudo-polynomial recursion too large.
    """
    prune = params.prune
    check = _check(instance)
    if check.reasons:
        raise MethodNotApplicableError(
            "dp is exact only for backbone sharing with one common deadline and integer or equal weights: "
            + "; ".join(check.reasons)
            + f" ({_instead(instance)})"
        )
    if check.too_large:
        raise InstanceTooLargeError(f"dp: {check.too_large} ({_instead(instance)})")
    structure = check.structure
    info: dict[str, Any] = {"clusters": len(structure.clusters), "weighted": check.integer_weights is not None}
    if instance.num_users == 0:
        return SolverOutput((), Status.OPTIMAL, bound=0.0, info=info)

    weights = check.integer_weights
    costs = _costs(instance, structure, weights)
    # Users grouped by model, cheapest first (ties: lower index first).
    ranked = np.lexsort((np.arange(instance.num_users), costs.p, instance.user_models))
    bounds = np.searchsorted(instance.user_models[ranked], np.arange(instance.num_models + 1))

    pruning = _pruning(costs) if prune else None
    best, chosen, stats = _run(costs, weights, ranked, bounds, pruning)
    if pruning is not None:
        info.update(lagrange_lower=pruning.target, lagrange_upper=pruning.upper)
        if best < pruning.target - 1e-6:  # pragma: no cover - would mean a rounding problem in the bound
            best, chosen, stats = _run(costs, weights, ranked, bounds, None)
            info["pruning_fallback"] = True
    info.update(stats)
    served = np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)
    order = grouped_order(instance, structure, served)
    objective = float(instance.weights[served].sum()) if served.size else 0.0
    return SolverOutput(order, Status.OPTIMAL, bound=objective, info=info)
