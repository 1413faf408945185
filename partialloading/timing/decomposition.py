"""The pipelined decomposition of one order: earliest and latest starts, the bandwidth it needs,
the reported split and the completions (see :mod:`partialloading.timing.pipelined`, which
evaluates orders with it, per request or per batch)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from partialloading.arrays import FloatArray

from .steps import Steps


class Analysis(NamedTuple):
    """The quantities of the pipelined decomposition for one order (arrays in service order)."""

    earliest: FloatArray
    """``E_q``: earliest inference starts without uploads."""
    machine_finish: FloatArray
    """``D_q = E_q + c_q``."""
    latest: FloatArray
    """``L_q``: latest inference starts that keep every later request on time."""
    load: float
    """``Σ a_q / L_q`` (``inf`` when some ``L_q ≤ 0``): the bandwidth the order needs."""


def analyse(loads: FloatArray, infer: FloatArray, deadline: FloatArray, work: FloatArray) -> Analysis:
    """``E``, ``D``, ``L`` and ``Σ a/L`` of an order given its loads, inferences, deadlines and ``a``."""
    finish = np.cumsum(loads + infer)
    earliest = finish - infer
    latest = earliest + np.minimum.accumulate((deadline - finish)[::-1])[::-1]
    need = float(np.sum(work / latest)) if latest.size and np.all(latest > 0) else (np.inf if latest.size else 0.0)
    return Analysis(earliest, finish, latest, need)


def completions(earliest: FloatArray, machine_finish: FloatArray, uploads: FloatArray) -> FloatArray:
    """``C_q = D_q + max(0, max_{r≤q}(u_r − E_r))``: completions given each request's upload end."""
    if earliest.size == 0:
        return machine_finish.copy()
    wait = np.maximum.accumulate(np.maximum(uploads - earliest, 0.0))
    return machine_finish + wait


def split(work: FloatArray, latest: FloatArray, bandwidth: float) -> FloatArray:
    """The reported split: ``b ∝ a/L`` when every ``L > 0``, else ``b ∝ a`` (the order is infeasible
    either way; this split makes its timeline show it)."""
    if work.size == 0:
        return np.zeros(0)
    share = work / latest if np.all(latest > 0) else work
    # B·share first (the usual rounding); where that overflows (B near the float limit), B·(share/Σ).
    with np.errstate(over="ignore"):
        out = bandwidth * share / share.sum()
    return out if np.all(np.isfinite(out)) else bandwidth * (share / share.sum())


def replay(
    parts: Analysis, work: FloatArray, bandwidth: float, steps: Steps | None = None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The reported split of an analysed order, each request's upload end under it, and the
    completions: ``(b, u, C)``, one per request.

    With ``steps`` (batches; ``parts`` analysed per step) each member's share is ``a_k / L_q`` of
    its batch, so all members' uploads end together, and a batch starts when its last member's
    upload has arrived.
    """
    if steps is None or steps.single:
        b = split(work, parts.latest, bandwidth)
        uploads = work / np.where(b > 0, b, 1.0)
        return b, uploads, completions(parts.earliest, parts.machine_finish, uploads)
    b = split(work, steps.expand(parts.latest), bandwidth)
    uploads = work / np.where(b > 0, b, 1.0)
    finish = completions(parts.earliest, parts.machine_finish, steps.max_of(uploads))
    return b, uploads, steps.expand(finish)
