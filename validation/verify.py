"""Independent verifier of solution documents (format ``partialloading/solution``, version 1).

Everything is recomputed from the raw instance data — block sizes and block sets of the
models, each user's data size and spectral efficiency (``η`` derived from ``snr_db`` here, not
taken from the data model), weights and deadlines — with plain Python arithmetic. This module
deliberately imports neither :mod:`partialloading.timing`, :mod:`partialloading.solution`,
:mod:`partialloading.result` nor any solver, and uses none of the instance's cached arrays, so
that the toolkit's evaluator and this verifier are two implementations checking each other.

Two kinds of failure are kept apart:

* a document that is not a version-1 solution at all (not JSON, missing keys, a string where a
  number belongs, ...) raises :class:`~partialloading.errors.SolutionError` naming the file and
  the JSON path (the command line exits with status 2); reading and that structural check are
  :mod:`partialloading.io`'s, beside the writer;
* a well-formed document that breaks a rule of the model (a late finish, too much bandwidth, a
  user served twice, a wrong objective, ...) yields a :class:`VerificationReport` listing every
  :class:`Violation` (exit status 1).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from partialloading.errors import SolutionError
from partialloading.instance import Instance
from partialloading.solution_io import check_solution_structure, parse_solution_text, read_solution

from .memory_replay import Capacity

__all__ = [
    "RELATIVE_TOLERANCE",
    "STATUSES",
    "SolutionError",
    "VerificationReport",
    "Violation",
    "parse_solution_text",
    "read_solution",
    "verify_solution",
]

STATUSES = ("optimal", "feasible", "time_limit")
"""Status values a solution may carry."""

TIMINGS = ("frame", "pipelined")
"""Timing models the verifier replays (written out here, not imported: it must stay independent).

``frame``: the server starts when the last upload has arrived and serves back to back.
``pipelined``: the GPU starts loading at time 0; each inference starts when both its load has
ended and the user's own upload (``a_k / b_k`` with the *reported* bandwidth) has arrived."""

RELATIVE_TOLERANCE = 1e-9
"""Relative tolerance of every comparison of recomputed and reported times, of deadlines
(``finish ≤ deadline·(1 + tol)``), of the bandwidth budget and of the objective. Sums of the
same terms in another order differ in the last bits; this absorbs that and nothing more."""

ABSOLUTE_TOLERANCE = 1e-12
"""Absolute slack for comparisons with values that should be zero (seconds, Hz or weight)."""

OPTIMAL_BOUND_TOLERANCE = 1e-6
"""A solution claimed ``optimal`` may report a bound above its objective by at most this
relative amount (solvers' own integrality tolerances); more is a contradiction."""


@dataclass(frozen=True)
class Violation:
    """One broken rule.

    Attributes
    ----------
    where
        JSON path inside the solution document, e.g. ``"schedule[2].finish_s"``.
    problem
        What is wrong, with the reported and the recomputed values.
    """

    where: str
    problem: str

    def __str__(self) -> str:
        return f"{self.where}: {self.problem}"


@dataclass(frozen=True)
class VerificationReport:
    """Outcome of :func:`verify_solution`.

    Attributes
    ----------
    instance
        Name of the instance checked against.
    violations
        Every broken rule found, in document order.
    """

    instance: str
    violations: tuple[Violation, ...]

    @property
    def ok(self) -> bool:
        """Whether the solution satisfies every rule."""
        return not self.violations

    def __str__(self) -> str:
        if self.ok:
            return f"solution for {self.instance!r} is valid"
        lines = [f"solution for {self.instance!r} has {len(self.violations)} violation(s):"]
        lines += [f"  {v}" for v in self.violations]
        return "\n".join(lines)


# ---------------------------------------------------------------------------- semantics
def _close(reported: float, expected: float) -> bool:
    return math.isclose(reported, expected, rel_tol=RELATIVE_TOLERANCE, abs_tol=ABSOLUTE_TOLERANCE)


def _eta(user: Any) -> float:
    if user.spectral_efficiency is not None:
        return float(user.spectral_efficiency)
    return math.log2(1.0 + 10.0 ** (float(user.snr_db) / 10.0))


class _Checker:
    def __init__(self, instance: Instance, doc: Mapping[str, Any]) -> None:
        self.instance = instance
        self.doc = doc
        self.found: list[Violation] = []
        self.users = {u.id: u for u in instance.users}
        self.block_size = {b.id: float(b.size_bytes) for b in instance.blocks}
        self.model_blocks = {m.id: frozenset(m.blocks) for m in instance.models}
        self.infer = {m.id: float(m.infer_time_s) for m in instance.models}
        # A request's own inference time overrides its model's.
        self.own_infer = {u.id: float(u.infer_time_s) for u in instance.users if u.infer_time_s is not None}
        self.speed = float(instance.load_speed_bytes_per_s)
        self.own_upload: dict[str, float] = {}
        self.timing = instance.timing

    def add(self, where: str, problem: str) -> None:
        self.found.append(Violation(where, problem))

    def load_bytes(self, previous: str | None, model: str, sharing: bool) -> float:
        """Bytes loaded to serve ``model`` when ``previous`` is in GPU memory."""
        if previous == model:
            return 0.0
        needed = self.model_blocks[model]
        if previous is not None and sharing:
            needed = needed - self.model_blocks[previous]
        return sum(self.block_size[b] for b in sorted(needed))

    def run(self) -> None:
        doc = self.doc
        if doc["instance"] != self.instance.name:
            self.add(
                "instance", f"solution is for instance {doc['instance']!r}, checked against {self.instance.name!r}"
            )
        timing = doc.get("timing", self.instance.timing)
        if timing not in TIMINGS:
            self.add("timing", f"unknown timing model {timing!r} (known: {', '.join(TIMINGS)})")
            return
        if doc["status"] not in STATUSES:
            self.add("status", f"unknown status {doc['status']!r} (known: {', '.join(STATUSES)})")
        self.timing = timing
        admitted = self.check_users()
        tau = self.check_bandwidth(admitted)
        self.check_timeline(tau)
        self.check_objective(admitted)

    def check_users(self) -> list[str]:
        """Every user appears exactly once, scheduled or rejected; returns the known admitted ids."""
        seen: dict[str, str] = {}
        admitted: list[str] = []
        for q, entry in enumerate(self.doc["schedule"]):
            uid = entry["user"]
            where = f"schedule[{q}].user"
            if uid not in self.users:
                self.add(where, f"unknown user {uid!r}")
                continue
            if uid in seen:
                self.add(where, f"user {uid!r} appears twice (also {seen[uid]})")
                continue
            seen[uid] = f"schedule[{q}]"
            admitted.append(uid)
        self.found.extend(rejected_violations(self.doc["rejected"], [u.id for u in self.instance.users], seen))
        return admitted

    def check_bandwidth(self, admitted: list[str]) -> float:
        """Bandwidth keys, budget and upload times; returns the recomputed upload end τ."""
        bandwidth: Mapping[str, float] = self.doc["bandwidth_hz"]
        for uid in bandwidth:
            if uid not in self.users:
                self.add(f"bandwidth_hz.{uid}", f"unknown user {uid!r}")
            elif uid not in admitted:
                self.add(f"bandwidth_hz.{uid}", f"user {uid!r} is not scheduled but gets bandwidth")
        total = 0.0
        for value in bandwidth.values():
            total += float(value)
        budget = float(self.instance.bandwidth_hz)
        if total > budget * (1.0 + RELATIVE_TOLERANCE):
            self.add("bandwidth_hz", f"total {total:.9g} Hz exceeds the uplink bandwidth {budget:.9g} Hz")
        reported_end = float(self.doc["upload_end_s"])
        tau = 0.0
        for uid in admitted:
            where = f"bandwidth_hz.{uid}"
            if uid not in bandwidth:
                self.add(where, f"scheduled user {uid!r} gets no bandwidth entry")
                tau = math.inf
                continue
            b = float(bandwidth[uid])
            if b < 0:
                self.add(where, f"negative bandwidth {b!r}")
                tau = math.inf
                continue
            user = self.users[uid]
            work = float(user.data_bits) / _eta(user)
            if b == 0:
                self.add(where, f"scheduled user {uid!r} gets zero bandwidth: its upload never ends")
                tau = math.inf
                continue
            upload = work / b
            self.own_upload[uid] = upload
            tau = max(tau, upload)
            if upload > reported_end * (1.0 + RELATIVE_TOLERANCE) + ABSOLUTE_TOLERANCE:
                self.add(where, f"upload takes {upload:.9g} s, after the reported upload_end_s {reported_end:.9g}")
        if math.isfinite(tau) and not _close(reported_end, tau):
            self.add("upload_end_s", f"reported {reported_end:.9g} s, but the last upload ends at {tau:.9g} s")
        return tau

    def batches(self) -> list[list[int]]:
        """The entries (positions) of each batch, checking the ``batch`` numbers: consecutive
        entries with one number form a batch (without numbers every entry is its own)."""
        schedule = self.doc["schedule"]
        numbered = [q for q, e in enumerate(schedule) if "batch" in e]
        if not numbered:
            return [[q] for q in range(len(schedule))]
        groups: list[list[int]] = []
        previous = -1
        for q, entry in enumerate(schedule):
            number = entry.get("batch")
            if not isinstance(number, int) or isinstance(number, bool):
                self.add(f"schedule[{q}].batch", "missing or not an integer (some entries carry batch numbers)")
                number = previous + 1
            elif number not in (previous, previous + 1) or (q == 0 and number != 0):
                self.add(f"schedule[{q}].batch", f"batch {number} after batch {previous} (0 first, then +0 or +1)")
            if not groups or number != previous:
                groups.append([])
            groups[-1].append(q)
            previous = number
        return groups

    def batch_time(self, q: int, members: list[str]) -> float:
        """The inference time of a batch: the model's table at its size, paced by the longest
        member (``t(b) · max c_k / c_i``); one request takes its own time."""
        model = self.users[members[0]].model
        own = [self.own_infer.get(uid, self.infer[model]) for uid in members]
        if len(members) == 1:
            return own[0]
        spec = next(m for m in self.instance.models if m.id == model)
        table = list(spec.batch_infer_time_s or [spec.infer_time_s])
        if len(members) > len(table):
            self.add(
                f"schedule[{q}].batch",
                f"a batch of {len(members)} requests of model {model!r}, whose batch table has {len(table)} entries",
            )
            return float(table[-1]) * max(own) / float(table[0])
        return float(table[len(members) - 1]) * max(own) / float(table[0])

    def check_timeline(self, tau: float) -> None:
        """Replay the schedule batch by batch (block by block) and compare every reported time."""
        sharing = bool(self.doc["sharing"])
        schedule = self.doc["schedule"]
        # Without a valid upload phase the timeline starts at the reported end, so that the
        # rest of the schedule is still checked (the upload problem is already reported).
        pipelined = self.timing == "pipelined"
        now = 0.0 if pipelined else tau if math.isfinite(tau) else float(self.doc["upload_end_s"])
        previous = self.instance.initial_model
        capacity = None if self.instance.memory_bytes is None else Capacity(self.instance, sharing)
        # The one-model memory's blocks, named as a file names them (copies without sharing).
        one_model = Capacity(self.instance, sharing) if capacity is None else None
        served: set[str] = set()
        steps: list[tuple[int, list[str]]] = []
        for group in self.batches():
            # Unknown or duplicate users (already reported): nothing sensible to replay.
            members = [q for q in group if schedule[q]["user"] in self.users and schedule[q]["user"] not in served]
            served.update(schedule[q]["user"] for q in members)
            if members:
                steps.append((members[0], [schedule[q]["user"] for q in members]))
                self.check_members(group, members)
        # A memory's default evictions look ahead at the models of the later batches.
        models = [self.users[uids[0]].model for _, uids in steps]
        for s, (q, uids) in enumerate(steps):
            entry = schedule[q]
            model = self.users[uids[0]].model
            if one_model is not None:
                load = self.load_bytes(previous, model, sharing) / self.speed
                if "evicted" in entry:
                    one_model.evict_all_but(q, model, list(entry["evicted"]), self.add)
                one_model.resident = list(one_model.blocks[model])
            elif capacity is not None:
                evicted = entry.get("evicted")
                if evicted is None:  # a reader fills a missing list with the default rule
                    evicted = capacity.default_evictions(s, models, model)
                load = capacity.serve(q, model, list(evicted), self.add) / self.speed
            else:  # pragma: no cover - one of the two memories is always replayed
                load = 0.0
            infer_start = now + load
            uploads = [self.own_upload.get(uid, math.nan) for uid in uids]
            if pipelined:
                # The batch waits for its members' inputs; without valid bandwidth, replay from
                # the reported upload ends so that the rest is still checked.
                for r, up in enumerate(uploads):
                    arrival = up if math.isfinite(up) else float(schedule[q + r].get("upload_end_s", 0.0))
                    infer_start = max(infer_start, arrival)
            finish = infer_start + self.batch_time(q, uids)
            for r, uid in enumerate(uids):
                self.compare(q + r, uid, (load, now, uploads[r], infer_start, finish))
            now = finish
            previous = model

    def check_members(self, group: list[int], members: list[int]) -> None:
        """One model per batch; evictions only before a batch (on its first entry)."""
        schedule = self.doc["schedule"]
        first = self.users[schedule[members[0]]["user"]].model
        for q in members[1:]:
            model = self.users[schedule[q]["user"]].model
            if model != first:
                self.add(f"schedule[{q}].batch", f"a batch holds one model: {model!r} after {first!r}")
        for q in group[1:]:
            if schedule[q].get("evicted"):
                self.add(
                    f"schedule[{q}].evicted", "blocks evicted in the middle of a batch (only before its first entry)"
                )

    def compare(self, q: int, uid: str, times: tuple[float, float, float, float, float]) -> None:
        """Compare entry ``q``'s reported model, deadline and times with the replay's."""
        entry = self.doc["schedule"][q]
        where = f"schedule[{q}]"
        user = self.users[uid]
        if entry["model"] != user.model:
            self.add(f"{where}.model", f"user {uid!r} requests model {user.model!r}, not {entry['model']!r}")
        if not _close(float(entry["deadline_s"]), float(user.deadline_s)):
            self.add(f"{where}.deadline_s", f"reported {entry['deadline_s']!r}, the instance says {user.deadline_s!r}")
        pipelined = self.timing == "pipelined"
        keys = ("load_s", "start_s", "upload_end_s", "infer_start_s", "finish_s")
        for key, expected in zip(keys, times, strict=True):
            if pipelined and key in ("upload_end_s", "infer_start_s") and key not in entry:
                self.add(f"{where}.{key}", "missing key (required under pipelined timing)")
                continue
            if key not in entry or not math.isfinite(expected):
                # upload_end_s and infer_start_s may be omitted under frame timing; an
                # upload without valid bandwidth is reported already.
                continue
            reported = float(entry[key])
            if not _close(reported, expected):
                self.add(f"{where}.{key}", f"reported {reported:.9g} s, recomputed {expected:.9g} s")
        finish, deadline = times[-1], float(user.deadline_s)
        if finish > deadline * (1.0 + RELATIVE_TOLERANCE):
            self.add(
                f"{where}.finish_s", f"user {uid!r} finishes at {finish:.9g} s, after its deadline {deadline:.9g} s"
            )

    def check_objective(self, admitted: list[str]) -> None:
        weight = 0.0
        for uid in admitted:
            weight += float(self.users[uid].weight)
        self.found.extend(objective_violations(self.doc, weight))


def rejected_violations(rejected: Sequence[str], users: Sequence[str], scheduled: Mapping[str, str]) -> list[Violation]:
    """What is wrong with a document's ``rejected`` list, given every user id of the instance
    and where each scheduled user is (``schedule[q]``): unknown or repeated ids, and users
    neither scheduled nor rejected."""
    found = []
    seen = dict(scheduled)
    known = set(users)
    for pos, uid in enumerate(rejected):
        where = f"rejected[{pos}]"
        if uid not in known:
            found.append(Violation(where, f"unknown user {uid!r}"))
        elif uid in seen:
            found.append(Violation(where, f"user {uid!r} appears twice (also {seen[uid]})"))
        else:
            seen[uid] = where
    missing = [uid for uid in users if uid not in seen]
    if missing:
        shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
        found.append(Violation("rejected", f"{len(missing)} user(s) neither scheduled nor rejected: {shown}"))
    return found


def objective_violations(doc: Mapping[str, Any], weight: float) -> list[Violation]:
    """What is wrong with a document's ``objective``, ``bound`` and ``status`` when its scheduled
    users weigh ``weight``."""
    found = []
    objective = float(doc["objective"])
    if not _close(objective, weight):
        found.append(
            Violation("objective", f"reported {_num(objective)}, but the scheduled users weigh {_num(weight)}")
        )
    bound = doc["bound"]
    if bound is None:
        return found
    bound = float(bound)
    if bound < weight * (1.0 - RELATIVE_TOLERANCE) - ABSOLUTE_TOLERANCE:
        found.append(Violation("bound", f"upper bound {_num(bound)} is below the value {_num(weight)} of the schedule"))
    if doc["status"] == "optimal" and bound > weight * (1.0 + OPTIMAL_BOUND_TOLERANCE) + ABSOLUTE_TOLERANCE:
        excess = f"the bound {_num(bound)} exceeds the value {_num(weight)} of the schedule"
        found.append(Violation("bound", f"status 'optimal' but {excess}"))
    return found


def _num(x: float) -> str:
    """A weight in full: ``1000002``, not ``1e+06``."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e16 else repr(float(x))


def verify_solution(instance: Instance, doc: Mapping[str, Any], source: str | None = None) -> VerificationReport:
    """Check a solution document against ``instance``, recomputing everything from scratch.

    Parameters
    ----------
    instance
        The instance the solution claims to solve.
    doc
        The parsed solution JSON, e.g. ``json.load(...)`` or
        ``Result.to_dict()``.
    source
        File name used in error messages.

    Returns
    -------
    VerificationReport
        Every violated rule (empty when the solution is valid).

    Raises
    ------
    SolutionError
        ``doc`` is not shaped like a version-1 solution document.
    """
    check_solution_structure(doc, source)
    checker = _Checker(instance, doc)
    checker.run()
    return VerificationReport(instance.name, tuple(checker.found))
