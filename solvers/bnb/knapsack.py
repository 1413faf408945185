"""The knapsack bounds of the branch-and-bound, on ``(sort key, weight, size)`` items.

- :func:`fractional`: the fractional (Dantzig) knapsack;
- :func:`upload_knapsack`: Martello–Toth's bound for the uploads in the slack, written on
  indices alone so that numba compiles the same body for the labels (:mod:`.label_kernels`);
- :func:`envelope`: the upper concave envelope of a model's items after its setup.
"""

from __future__ import annotations

import itertools
import math

from .records import Item


def fractional(items: list[Item], capacity: float) -> float:
    """Fractional knapsack of ``(−weight/size, weight, size)`` items in ``capacity`` (best weight
    per size first; the first field is the sort key, ``−inf`` for a free item)."""
    if capacity <= 0:
        return sum(w for _, w, s in items if s <= 0)
    items.sort()
    total = 0.0
    for _, w, s in items:
        if s <= capacity:
            total += w
            capacity -= s
        else:
            total += w * capacity / s
            break
    return total


def upload_knapsack(ranked: list[int], weight: list[float], upload: list[float], capacity: float) -> float:
    """Upper bound on the weight of the users ``ranked`` (best weight per upload first) whose
    uploads fit in ``capacity`` (``≥ 0``): the Martello–Toth bound of the 0/1 knapsack.

    With ``s`` the first user that does not fit, either ``s`` is left out (the room left is filled
    at the next user's weight per upload at best) or it is in (then the room it lacks comes out of
    the users before it, at the last one's weight per upload at least); both are at most the
    fractional (Dantzig) bound.

    Written on indices alone, so that numba compiles the same body for the compiled search
    (:func:`.label_kernels.upload_bound`, on arrays).
    """
    total, room, last = 0.0, capacity, -1
    n = len(ranked)
    for i in range(n):
        k = ranked[i]
        u = upload[k]
        if u <= room:
            total += weight[k]
            room -= u
            if u > 0:
                last = k
            continue
        out = total
        if i + 1 < n:
            after = ranked[i + 1]
            out += room * weight[after] / upload[after]
        into = -math.inf if last < 0 else total + weight[k] - (u - room) * weight[last] / upload[last]
        return max(out, into)
    return total


def envelope(setup: float, items: list[Item]) -> list[Item]:
    """Segments ``(−weight/size, weight, size)`` of the upper concave envelope of serving a
    model's items (same form) in order of weight per size after paying ``setup``: the LP
    relaxation of that model's choice."""
    if len(items) == 1:
        _, w, s = items[0]
        return [(key(w, setup + s), w, setup + s)]
    items.sort()
    if setup <= 0:  # in order of weight per size, the items are their own envelope
        return items
    hull = [(0.0, 0.0)]
    size, weight = setup, 0.0
    for _, w, s in items:
        size += s
        weight += w
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (y2 - y1) * (size - x1) <= (weight - y1) * (x2 - x1):
                hull.pop()
            else:
                break
        hull.append((size, weight))
    return [(key(b[1] - a[1], b[0] - a[0]), b[1] - a[1], b[0] - a[0]) for a, b in itertools.pairwise(hull)]


def key(w: float, size: float) -> float:
    """Sort key of an item: best weight per size first, free items before all."""
    return -w / size if size > 0 else -math.inf
