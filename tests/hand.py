"""Hand-solved instances on a millisecond grid, shared by the MILP and the formulation tests.

Each docstring explains its optimum.
"""

from __future__ import annotations

import dataclasses

from partialloading.instance import Block, Instance, Model, User

MS = 1e-3


def ms_instance(blocks: dict[str, float], models: dict[str, tuple[list[str], float]], users: list[tuple]) -> Instance:
    """Instance on a millisecond grid: blocks in MB load at 1 GB/s (1 MB = 1 ms), tiny uploads.

    Every upload is 1 bit at 1 bit/s/Hz over 10 MHz: 1e-7 s, far below the 0.5 ms slack that
    each hand-made deadline keeps.
    """
    return Instance(
        blocks=tuple(Block(b, mb * 1e6) for b, mb in blocks.items()),
        models=tuple(Model(m, tuple(bl), c * MS) for m, (bl, c) in models.items()),
        users=tuple(
            User(uid, model, data_bits=1.0, deadline_s=t * MS, spectral_efficiency=1.0) for uid, model, t in users
        ),
        bandwidth_hz=1e7,
        load_speed_bytes_per_s=1e9,
        name="hand",
    )


def backbone_hand_instance() -> Instance:
    """Two heads on a 40 MB backbone and one unrelated model, common deadline 80.5 ms.

    With sharing: A (50 ms load) serves a1, a2 (5 ms each) by 60 ms, switching to B loads only
    its 10 MB head: b1 finishes at 75 ms. Adding c1 costs 30 + 5 ms more (110 > 80.5), and
    starting with C (35 ms) leaves no room for A's 50 ms load plus two users (95). Optimum 3.
    Without sharing B costs a full 50 ms after A (115), C then A is 95: optimum 2 (a1, a2).
    """
    return ms_instance(
        {"bb": 40, "hA": 10, "hB": 10, "cc": 30},
        {"A": (["bb", "hA"], 5), "B": (["bb", "hB"], 5), "C": (["cc"], 5)},
        [("a1", "A", 80.5), ("a2", "A", 80.5), ("b1", "B", 80.5), ("c1", "C", 80.5)],
    )


def revisit_instance() -> Instance:
    """The compact counterexample: with per-user deadlines a model must be loaded twice.

    A and B share nothing; each loads in 10 ms. A's requests take 10 ms, B's 1 ms.
    Order a1, b, a2 (A, B, A again): a1 at 20 ≤ 20.5, b at 31 ≤ 31.5, a2 at 51 ≤ 51.5: all 3.
    Visiting each model once: A first serves a1, a2 by 30 and b finishes at 41 > 31.5;
    B first makes a1 finish at 31 > 20.5. So at most 2 users without a revisit.
    """
    return ms_instance(
        {"blkA": 10, "blkB": 10},
        {"A": (["blkA"], 10), "B": (["blkB"], 1)},
        [("a1", "A", 20.5), ("b", "B", 31.5), ("a2", "A", 51.5)],
    )


def batch_hand_instance(timing: str = "frame") -> Instance:
    """Three requests of one model whose batch of 3 takes 14 ms instead of 3 × 10 ms.

    A loads in 20 ms; a request takes 10 ms, a batch of 2 12 ms, of 3 14 ms. Deadlines 34.5 ms.
    One at a time only a1 is on time (30 ms; a2 would finish at 40). As one batch all three
    finish at 20 + 14 = 34 ms ≤ 34.5: optimum 3, and only as one batch. B (5 ms load, 1 ms,
    deadline 30.5 ms) fits beside no request of A: after a1 it ends at 36 ms, before a1 it
    pushes a1 to 36 ms. So the optimum is A's three requests in one batch.
    """
    inst = ms_instance(
        {"blkA": 20, "blkB": 5},
        {"A": (["blkA"], 10), "B": (["blkB"], 1)},
        [("a1", "A", 34.5), ("a2", "A", 34.5), ("a3", "A", 34.5), ("b", "B", 30.5)],
    )
    table = (10 * MS, 12 * MS, 14 * MS)
    models = (dataclasses.replace(inst.models[0], batch_infer_time_s=table), inst.models[1])
    return dataclasses.replace(inst, models=models, timing=timing)
