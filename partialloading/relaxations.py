"""Cheap upper bounds on the served weight, valid for every schedule of an instance.

**Served alone.** A user who misses its deadline even when served alone is never served: the
weight of the others bounds the objective.

**Time per deadline level** (a knapsack relaxation). Let ``S`` be a feasible admitted set and
``d`` the latest deadline in ``S``. Under frame timing its last request finishes after every
admitted upload (``Σ_S a_k/B``), every inference (``Σ_S c_k``) and at least the first load from
the initial state (at least the smallest first load ``ℓ₀`` among the candidates), so

    Σ_{k∈S} p_k ≤ d − ℓ₀,   p_k = a_k/B + c_{m_k},   S ⊆ {k : T_k ≤ d}.

Under pipelined timing the uploads and the GPU work overlap, but the last finish is at least
``max(Σ_S a_k/B, Σ_S c_k) ≥ Σ_S p_k / 2``, so the same holds with ``p_k/2`` and no load term.
Relaxing "which users" to fractions gives, for each level ``d``, the fractional knapsack over
the users with ``T_k ≤ d`` (the heaviest weight per second first); the bound is the largest over
the levels. Evaluating only some levels (at most ``levels``, always including the latest
deadline) stays valid: a set whose latest deadline lies between two evaluated levels is counted
at the next one up, whose capacity and candidates are larger. With integer weights the bound is
rounded down.

**Blocks per deadline level** (a MILP relaxation, :func:`level_bound`). The knapsack bound
charges one first load per level; a schedule actually loads, before the last of its users with
``T_k ≤ d`` finishes, every block of every model those users request that is not in GPU memory
at the start. With ``x_k`` (user ``k`` admitted) and ``z_{b,d}`` (block ``b`` is needed by an
admitted user with ``T_k ≤ d``), every feasible schedule satisfies, for each level ``d``,

    Σ_k (a_k/B)·x_k + Σ_{k: T_k ≤ d} c_{m_k}·x_k + Σ_b (s_b/v)·z_{b,d} ≤ d,
    z_{b,d} ≥ x_k  (b ∈ P_{m_k} not in the initial model, T_k ≤ d),

under frame timing (every admitted upload ends before the first inference; loads and
inferences of the level's users follow one after another) — whenever the level has an admitted
user. A level without one constrains nothing, so the frame row is relaxed by a binary ``y_d``
(``y_d ≥ x_k`` for ``T_k ≤ d``, ``y_d`` non-decreasing in ``d``): the uploads of the users
with ``T_k > d`` enter as ``Σ_{T_k > d} (a_k/B)·x_k ≤ … + U_d·(1 − y_d)``, ``U_d`` their total.
Under pipelined timing the uploads overlap the GPU work, so a level gives two constraints:
``Σ_{T_k ≤ d} (a_k/B)·x_k ≤ d`` (the level's uploads share the uplink and end before its last
inference) and the GPU part alone,
``Σ_{T_k ≤ d} c_{m_k}·x_k + Σ_b (s_b/v)·z_{b,d} ≤ d``. Without sharing every model owns
private copies of its blocks. Maximizing ``Σ w_k x_k`` over these constraints is a relaxation: its
optimum (or the solver's dual bound when stopped at the time limit, or the LP optimum) is an
upper bound. Any subset of the levels is still a relaxation, so large instances keep
:data:`MAX_LEVELS` of them (the blocks of a user are then charged at the next kept level up).
Beyond :data:`MILP_MAX_USERS` users its LP relaxation is used. Because it counts every block at
least once and nothing about the order, it is loose where the order matters: reloading a model
that was left, or serving later-deadline users early to avoid that.

Both use the verifier's tolerance on deadlines, so a proven optimum never exceeds them
(``tests/test_relaxations.py`` checks it against enumeration under both timing models).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .highs import quiet_highs, reset_threads
from .instance import Instance
from .memory import memory_of
from .stop import Deadline
from .timing import servable_alone
from .tolerance import RELATIVE_TOLERANCE

if TYPE_CHECKING:
    import scipy.sparse as sp


def alone_bound(instance: Instance) -> float:
    """Weight of the users who meet their deadline when served alone."""
    return float(instance.weights[servable_alone(instance)].sum())


def knapsack_bound(instance: Instance, levels: int = 64) -> float:
    """The time-per-deadline-level bound (see the module docstring), never above :func:`alone_bound`."""
    candidates = servable_alone(instance)
    if candidates.size == 0:
        return 0.0
    weights = instance.weights[candidates]
    models = instance.user_models[candidates]
    deadline = instance.deadlines[candidates] * (1.0 + RELATIVE_TOLERANCE)
    size = instance.upload_times[candidates] + instance.amortized_infer_times[candidates]
    if instance.timing == "frame":
        reserve = float(memory_of(instance).first[models].min())
    else:
        size = size / 2.0
        reserve = 0.0
    # Heaviest weight per second of capacity first; free users (size 0) come first of all.
    ratio = np.where(size > 0, weights / np.where(size > 0, size, 1.0), np.inf)
    ranked = np.lexsort((np.arange(candidates.size), -ratio))
    weights, size, deadline = weights[ranked], size[ranked], deadline[ranked]
    distinct = np.unique(deadline)
    if distinct.size > levels:
        picks = np.unique(np.linspace(0, distinct.size - 1, levels).round().astype(np.int64))
        distinct = distinct[picks]
    best = 0.0
    for level in distinct:
        eligible = deadline <= level
        w, s = weights[eligible], size[eligible]
        capacity = float(level) - reserve
        if capacity < 0:
            continue
        used = np.cumsum(s)
        full = int(np.searchsorted(used, capacity, side="right"))
        value = float(w[:full].sum())
        if full < w.size:
            room = capacity - (float(used[full - 1]) if full else 0.0)
            value += float(w[full]) * room / float(s[full]) if s[full] > 0 else float(w[full])
        best = max(best, value)
    total = float(weights.sum())
    return instance.round_bound(min(best, total))


def best_cheap_bound(instance: Instance) -> float:
    """The smaller of :func:`alone_bound` and :func:`knapsack_bound`."""
    return min(alone_bound(instance), knapsack_bound(instance))


MAX_LEVELS = 200
"""Deadline levels kept by :func:`level_bound` (spread evenly over the distinct deadlines)."""

SIDE_BOUND_S = 2.0
"""Seconds at most that a method spends on :func:`level_bound` beside its own work (greedy, and
the warm start of the exact methods); see :func:`side_deadline`."""


def side_deadline(deadline: Deadline) -> Deadline:
    """The deadline of :func:`level_bound` within a solve that ends at ``deadline``: a tenth of
    the time left, and at most :data:`SIDE_BOUND_S`."""
    return deadline.share(0.1).capped(SIDE_BOUND_S)


MILP_MAX_USERS = 200
"""Up to this many candidate users :func:`level_bound` solves the relaxation as a MILP; above,
its LP relaxation (the same value after rounding on the generated families at 300 and 1,000
users, in a fraction of the time)."""

_ROW_SLACK = 1e-7
"""Relative slack added to each level's capacity, so that the solver's own feasibility
tolerance can never make the relaxation cut off a schedule the evaluator accepts."""


@dataclass(frozen=True)
class LevelBound:
    """An upper bound from the blocks-per-deadline-level relaxation.

    Attributes
    ----------
    value
        The bound on the served weight.
    proven
        Whether the relaxation was solved to optimality as a MILP (else ``value`` is its dual
        bound at the time limit, or the LP bound).
    levels
        Number of deadline levels in the relaxation.
    runtime
        Seconds spent.
    """

    value: float
    proven: bool
    levels: int
    runtime: float


@dataclass(frozen=True)
class LevelData:
    """What the blocks-per-level relaxation reads of an instance, per candidate user.

    Attributes
    ----------
    candidates
        The users that can meet their deadline served alone (indices into the instance's users).
    models, weights, upload, infer
        Each candidate's model, weight, upload time ``a_k/B`` and inference time.
    deadline
        Each candidate's deadline with the verifier's tolerance.
    member, seconds
        Which model needs which block (blocks of the initial model dropped) and the seconds to
        load each block.
    """

    candidates: np.ndarray
    models: np.ndarray
    weights: np.ndarray
    upload: np.ndarray
    infer: np.ndarray
    deadline: np.ndarray
    member: np.ndarray
    seconds: np.ndarray

    @classmethod
    def of(cls, instance: Instance) -> LevelData:
        """The relaxation's data of ``instance``."""
        candidates = servable_alone(instance)
        models = instance.user_models[candidates]
        member, seconds = _block_costs(instance)
        return cls(
            candidates,
            models,
            instance.weights[candidates],
            instance.upload_times[candidates],
            instance.amortized_infer_times[candidates],
            instance.deadlines[candidates] * (1.0 + RELATIVE_TOLERANCE),
            member,
            seconds,
        )


def _block_costs(instance: Instance) -> tuple[np.ndarray, np.ndarray]:
    """(models × blocks membership, seconds to load each block), blocks resident at time 0 dropped."""
    v = float(instance.load_speed_bytes_per_s)
    member = np.array(instance.membership, dtype=bool)
    seconds = instance.block_sizes / v
    resident = np.zeros(member.shape[1], dtype=bool)
    resident[list(instance.initial_resident)] = True
    member = member & ~resident
    used = member.any(axis=0) & (seconds > 0)
    return member[:, used], seconds[used]


def level_bound(
    instance: Instance,
    time_limit: float | None = 10.0,
    target: float | None = None,
    milp: bool | None = None,
) -> LevelBound:
    """The blocks-per-deadline-level bound (see the module docstring), never above :func:`best_cheap_bound`.

    Parameters
    ----------
    time_limit
        Seconds for HiGHS on the MILP relaxation; at the limit its dual bound is used. ``None``:
        no limit.
    target
        The weight of a known schedule: when the LP relaxation (solved first, several times
        faster) already bounds the optimum by it, that bound is returned without the MILP.

    milp
        Solve the relaxation as a MILP (``True``) or only its LP (``False``); ``None``: a MILP up
        to :data:`MILP_MAX_USERS` candidates, the LP above.
    """
    started = time.perf_counter()
    stop = Deadline.after(time_limit)
    cheap = best_cheap_bound(instance)
    data = LevelData.of(instance)
    n = int(data.candidates.size)
    if n == 0:
        return LevelBound(0.0, True, 0, time.perf_counter() - started)
    levels = np.unique(data.deadline)
    if levels.size > MAX_LEVELS:
        picks = np.unique(np.linspace(0, levels.size - 1, MAX_LEVELS).round().astype(np.int64))
        levels = levels[picks]
    rows = _LevelRows(data, levels, frame=instance.timing == "frame")
    if rows.frame:
        rows.add_frame_rows()
    else:
        rows.add_pipelined_rows()
    rows.add_block_rows()
    cost = np.zeros(rows.n_vars)
    cost[:n] = data.weights
    # A heavier schedule than the target weighs at least one weight unit more.
    unit = instance.weight_unit
    stop_at = (
        None if target is None else float(target) + (unit * (1 - 1e-6) if unit else 1e-9 * max(1.0, float(target)))
    )
    integer = n <= MILP_MAX_USERS if milp is None else milp
    value, proven = _solve_relaxation(rows.matrix(), rows.upper(), cost, stop, stop_at, integer)
    value = instance.round_bound(cheap if value is None else value)
    return LevelBound(min(value, cheap), proven, int(levels.size), time.perf_counter() - started)


class _LevelRows:
    """The rows of the blocks-per-level relaxation, gathered as sparse triplets.

    Columns: ``x_k`` (user ``k`` admitted), ``z_{b,d}`` (block ``b`` needed by level ``d``) and,
    under frame timing, ``y_d`` (level ``d`` has an admitted user). Each user's own level is the
    first kept level at or after its deadline.
    """

    def __init__(self, data: LevelData, levels: np.ndarray, *, frame: bool) -> None:
        self.data, self.levels, self.frame = data, levels, frame
        self.n = n = int(data.candidates.size)
        self.n_levels = n_levels = int(levels.size)
        self.n_blocks = n_blocks = int(data.seconds.size)
        self.own = np.searchsorted(levels, data.deadline, side="left")
        self.z0 = n
        self.y0 = n + n_levels * n_blocks
        self.n_vars = self.y0 + n_levels if frame else self.y0
        self.users = np.arange(n)
        self.level_ids = np.arange(n_levels)
        # inside[l, k]: user k's deadline is at or before level l.
        self.inside = self.own[None, :] <= self.level_ids[:, None]
        self.capacity = levels * (1.0 + _ROW_SLACK)
        # The blocks term of every level row: Σ_b (s_b/v)·z_{b,d}.
        self.z_rows = np.repeat(self.level_ids, n_blocks)
        self.z_cols = self.z0 + np.arange(n_levels * n_blocks)
        self.z_vals = np.tile(data.seconds, n_levels)
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.rhs: list[np.ndarray] = []
        self.n_rows = 0

    def add(self, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, rhs: np.ndarray) -> None:
        """Rows ``rows`` (numbered from 0) with entries ``vals`` at ``cols``, each ``≤ rhs``."""
        self.parts.append((rows + self.n_rows, cols, vals))
        self.rhs.append(rhs)
        self.n_rows += rhs.size

    def add_below(self, first: np.ndarray, second: np.ndarray) -> None:
        """``x[first] ≤ x[second]``, pairwise."""
        r = np.arange(first.size)
        self.add(
            np.concatenate((r, r)),
            np.concatenate((first, second)),
            np.concatenate((np.ones(r.size), -np.ones(r.size))),
            np.zeros(r.size),
        )

    def add_frame_rows(self) -> None:
        """The uploads of every admitted user, the level's inferences and blocks ≤ d when the
        level has an admitted user (``y_d = 1``); otherwise the row holds only later users'
        uploads, at most ``later``. (A column ``τ = Σ_k (a_k/B)·x_k`` would make the rows
        sparser, but HiGHS solves that form three to four times slower.)"""
        upload, infer, n, level_ids, y0 = self.data.upload, self.data.infer, self.n, self.level_ids, self.y0
        later = float(upload.sum()) - np.cumsum(np.bincount(self.own, weights=upload, minlength=self.n_levels))
        every_l, every_k = np.repeat(level_ids, n), np.tile(self.users, self.n_levels)
        self.add(
            np.concatenate((every_l, self.z_rows, level_ids)),
            np.concatenate((every_k, self.z_cols, y0 + level_ids)),
            np.concatenate((upload[every_k] + np.where(self.inside.ravel(), infer[every_k], 0.0), self.z_vals, later)),
            self.capacity + later,
        )
        if self.n_levels > 1:  # y non-decreasing
            r = np.arange(self.n_levels - 1)
            self.add_below(y0 + r, y0 + r + 1)
        self.add_below(self.users, y0 + self.own)

    def add_pipelined_rows(self) -> None:
        """The level's uploads share the uplink; its GPU work runs from time 0."""
        lvl, usr = np.nonzero(self.inside)
        self.add(lvl, usr, self.data.upload[usr], self.capacity)
        self.add(
            np.concatenate((lvl, self.z_rows)),
            np.concatenate((usr, self.z_cols)),
            np.concatenate((self.data.infer[usr], self.z_vals)),
            self.capacity,
        )

    def add_block_rows(self) -> None:
        """``z`` non-decreasing in the level, and every block of an admitted user's model needed
        from its level on."""
        n_blocks, z0 = self.n_blocks, self.z0
        if self.n_levels > 1 and n_blocks:
            r = np.arange((self.n_levels - 1) * n_blocks)
            self.add_below(z0 + r, z0 + r + n_blocks)
        link_user, link_block = np.nonzero(self.data.member[self.data.models])
        if link_user.size:
            self.add_below(link_user, z0 + self.own[link_user] * n_blocks + link_block)

    def matrix(self) -> sp.csc_array:
        import scipy.sparse as sp  # with HiGHS, only where a relaxation is solved

        rows = np.concatenate([p[0] for p in self.parts])
        cols = np.concatenate([p[1] for p in self.parts])
        vals = np.concatenate([p[2] for p in self.parts])
        return sp.csc_array((vals, (rows, cols)), shape=(self.n_rows, self.n_vars))

    def upper(self) -> np.ndarray:
        return np.concatenate(self.rhs)


_PRESOLVE_MIN_COLUMNS = 2000
"""Relaxations with fewer columns are solved without HiGHS's presolve."""


def _solve_relaxation(
    matrix: sp.csc_array,
    upper: np.ndarray,
    cost: np.ndarray,
    deadline: Deadline,
    stop_at: float | None,
    integer: bool,
) -> tuple[float | None, bool]:
    """Maximize ``cost·x`` over binary ``x`` with ``matrix·x ≤ upper``: (bound, solved to optimality).

    The bound is the optimum, else HiGHS's dual bound at the time limit; ``None`` if HiGHS gave
    neither (the caller falls back on the cheap bound). The LP relaxation is solved first; its
    optimum is the answer when below ``stop_at`` or when ``integer`` is false (no MILP)."""
    import highspy

    n_rows, n_cols = matrix.shape
    lp = highspy.HighsLp()
    lp.num_col_ = n_cols
    lp.num_row_ = n_rows
    lp.col_cost_ = cost
    lp.col_lower_ = np.zeros(n_cols)
    lp.col_upper_ = np.ones(n_cols)
    lp.row_lower_ = np.full(n_rows, -highspy.kHighsInf)
    lp.row_upper_ = upper
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = matrix.indptr.astype(np.int32)
    lp.a_matrix_.index_ = matrix.indices.astype(np.int32)
    lp.a_matrix_.value_ = matrix.data.astype(np.float64)
    reset_threads()  # single-threaded, whatever solved before in the process
    highs = quiet_highs()
    highs.setOptionValue("mip_rel_gap", 0.0)
    highs.setOptionValue("threads", 1)
    if n_cols < _PRESOLVE_MIN_COLUMNS:
        # On small relaxations presolve costs more than it saves (a third of the time at 20 users).
        highs.setOptionValue("presolve", "off")
    left = deadline.seconds()
    if left is not None:
        highs.setOptionValue("time_limit", left)
    highs.passModel(lp)
    if highs.run() == highspy.HighsStatus.kError:
        return None, False  # no answer (and its zeros are no bound): the caller keeps the cheap bound
    relaxed: float | None = None
    if highs.getModelStatus() == highspy.HighsModelStatus.kOptimal:
        relaxed = float(highs.getInfo().objective_function_value)
        if (stop_at is not None and relaxed < stop_at) or not integer:
            return relaxed, False
    if deadline.limited:
        left = deadline.remaining()
        if left is None or left <= 0.01:
            return relaxed, False
        highs.setOptionValue("time_limit", left)
    highs.clearSolver()
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n_cols
    highs.passModel(lp)
    if highs.run() == highspy.HighsStatus.kError:
        return relaxed, False
    status = highs.getModelStatus()
    info = highs.getInfo()
    if status == highspy.HighsModelStatus.kOptimal:
        return float(info.objective_function_value), True
    dual = float(info.mip_dual_bound)
    if not (np.isfinite(dual) and abs(dual) < highspy.kHighsInf):
        return relaxed, False
    return (dual if relaxed is None else min(dual, relaxed)), False
