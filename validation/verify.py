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
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from partialloading.errors import SolutionError
from partialloading.instance import Instance
from partialloading.io import check_solution_structure, parse_solution_text, read_instance, read_solution

__all__ = [
    "RELATIVE_TOLERANCE",
    "STATUSES",
    "SolutionError",
    "VerificationReport",
    "Violation",
    "parse_solution_text",
    "read_solution",
    "verify_files",
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


class _Capacity:
    """The memory with a capacity, replayed from the instance data alone (written out here, not
    imported). Without sharing (when some block is shared at all) every model holds private
    copies ``model/block`` of its blocks (``#n`` appended while a name is taken); a copy is
    resident at time 0 when its model is held whole by the initial blocks, the most recently used
    models first while they fit."""

    def __init__(self, instance: Instance, sharing: bool) -> None:
        self.capacity = float(instance.memory_bytes or math.inf)
        size = {b.id: float(b.size_bytes) for b in instance.blocks}
        if instance.initial_blocks is not None:
            initial = list(instance.initial_blocks)
        elif instance.initial_model is not None:
            initial = list(next(m.blocks for m in instance.models if m.id == instance.initial_model))
        else:
            initial = []
        self.blocks = {m.id: list(m.blocks) for m in instance.models}
        holders: dict[str, int] = {}
        for m in instance.models:
            for b in m.blocks:
                holders[b] = holders.get(b, 0) + 1
        if not sharing and any(count > 1 for count in holders.values()):
            taken, copies = set(size), {}
            for m in instance.models:
                for b in m.blocks:
                    name, n = f"{m.id}/{b}", 1
                    while name in taken:
                        name, n = f"{m.id}/{b}#{n}", n + 1
                    taken.add(name)
                    copies[m.id, b] = name
                    size[name] = size[b]
            self.blocks = {m.id: [copies[m.id, b] for b in m.blocks] for m in instance.models}
            position = {b: i for i, b in enumerate(initial)}
            whole = [m for m in instance.models if all(b in position for b in m.blocks)]
            whole.sort(key=lambda m: (max(position[b] for b in m.blocks), m.id), reverse=True)
            room, kept = self.capacity, []
            for m in whole:
                need = sum(size[b] for b in m.blocks)
                if need <= room:
                    room -= need
                    kept += [(position[b], copies[m.id, b]) for b in m.blocks]
            initial = [name for _, name in sorted(kept)]
        self.size = size
        self.resident = list(initial)  # least recently used first
        self.last_use = {b: i - len(initial) for i, b in enumerate(initial)}

    def default_evictions(self, q: int, models: list[str], model: str) -> list[str]:
        """The default rule before request ``q`` of the order ``models``: while the request does
        not fit, evict the block it does not need that is used again latest (never: first),
        then the least recently used, then the largest, then the smallest id."""
        need = set(self.blocks[model])
        total = sum(self.size[b] for b in set(self.resident) | need)
        later: dict[str, float] = {}
        for r in range(len(models) - 1, q, -1):
            for b in self.blocks.get(models[r], []):
                later[b] = r
        candidates = [b for b in self.resident if b not in need]
        candidates.sort(key=lambda b: (-later.get(b, math.inf), self.last_use[b], -self.size[b], b))
        gone = []
        for b in candidates:
            if total <= self.capacity * (1.0 + RELATIVE_TOLERANCE):
                break
            gone.append(b)
            total -= self.size[b]
        return gone

    def evict_all_but(self, q: int, model: str, evicted: list[str], problem: Callable[[str, str], None]) -> None:
        """The one-model memory (no capacity) before request ``q``: it evicts exactly the
        resident blocks the request does not need; the ``evicted`` a file gives must be those."""
        need = set(self.blocks[model])
        for i, b in enumerate(evicted):
            if b not in self.resident:
                problem(f"schedule[{q}].evicted[{i}]", f"block {b!r} is evicted but not resident")
            elif b in need:
                problem(f"schedule[{q}].evicted[{i}]", f"block {b!r} is evicted but the request needs it")
        kept = sorted(set(self.resident) - need - set(evicted))
        if kept:
            problem(
                f"schedule[{q}].evicted",
                f"the one-model memory evicts every block the request does not need (also {', '.join(kept[:5])})",
            )

    def serve(self, q: int, model: str, evicted: list[str], problem: Callable[[str, str], None]) -> float:
        """Evict, load the missing blocks, check the capacity; returns the bytes loaded."""
        need = self.blocks[model]
        for i, b in enumerate(evicted):
            if b not in self.resident:
                problem(f"schedule[{q}].evicted[{i}]", f"block {b!r} is evicted but not resident")
            elif b in need:
                problem(f"schedule[{q}].evicted[{i}]", f"block {b!r} is evicted but the request needs it")
            else:
                self.resident.remove(b)
        missing = [b for b in need if b not in self.resident]
        self.resident += missing
        for b in need:
            self.last_use[b] = q
        total = sum(self.size[b] for b in self.resident)
        if total > self.capacity * (1.0 + RELATIVE_TOLERANCE):
            problem(f"schedule[{q}].evicted", f"{total:.9g} bytes resident, beyond memory_bytes {self.capacity:.9g}")
        return sum(self.size[b] for b in missing)


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
        for pos, uid in enumerate(self.doc["rejected"]):
            where = f"rejected[{pos}]"
            if uid not in self.users:
                self.add(where, f"unknown user {uid!r}")
            elif uid in seen:
                self.add(where, f"user {uid!r} appears twice (also {seen[uid]})")
            else:
                seen[uid] = where
        missing = [u.id for u in self.instance.users if u.id not in seen]
        if missing:
            shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
            self.add("rejected", f"{len(missing)} user(s) neither scheduled nor rejected: {shown}")
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

    def check_timeline(self, tau: float) -> None:
        """Replay the schedule block by block and compare every reported time."""
        sharing = bool(self.doc["sharing"])
        # Without a valid upload phase the timeline starts at the reported end, so that the
        # rest of the schedule is still checked (the upload problem is already reported).
        pipelined = self.timing == "pipelined"
        now = 0.0 if pipelined else tau if math.isfinite(tau) else float(self.doc["upload_end_s"])
        previous = self.instance.initial_model
        capacity = None if self.instance.memory_bytes is None else _Capacity(self.instance, sharing)
        # The one-model memory's blocks, named as a file names them (copies without sharing).
        one_model = _Capacity(self.instance, sharing) if capacity is None else None
        models = [self.users[e["user"]].model if e["user"] in self.users else "" for e in self.doc["schedule"]]
        served: set[str] = set()
        for q, entry in enumerate(self.doc["schedule"]):
            where = f"schedule[{q}]"
            uid = entry["user"]
            if uid not in self.users or uid in served:
                # Unknown or duplicate (already reported): nothing sensible to replay.
                continue
            served.add(uid)
            user = self.users[uid]
            if entry["model"] != user.model:
                self.add(f"{where}.model", f"user {uid!r} requests model {user.model!r}, not {entry['model']!r}")
            if not _close(float(entry["deadline_s"]), float(user.deadline_s)):
                self.add(
                    f"{where}.deadline_s", f"reported {entry['deadline_s']!r}, the instance says {user.deadline_s!r}"
                )
            model = user.model
            if one_model is not None:
                load = self.load_bytes(previous, model, sharing) / self.speed
                if "evicted" in entry:
                    one_model.evict_all_but(q, model, list(entry["evicted"]), self.add)
                one_model.resident = list(one_model.blocks[model])
            elif capacity is not None:
                evicted = entry.get("evicted")
                if evicted is None:  # a reader fills a missing list with the default rule
                    evicted = capacity.default_evictions(q, models, model)
                load = capacity.serve(q, model, list(evicted), self.add) / self.speed
            start = now
            uploaded = self.own_upload.get(uid, math.nan)
            infer_start = start + load
            if pipelined:
                # The request waits for its own input; without valid bandwidth, replay from the
                # reported upload end so that the rest is still checked.
                arrival = uploaded if math.isfinite(uploaded) else float(entry.get("upload_end_s", 0.0))
                infer_start = max(infer_start, arrival)
            finish = infer_start + self.own_infer.get(uid, self.infer[model])
            expected_times = {
                "load_s": load,
                "start_s": start,
                "upload_end_s": uploaded,
                "infer_start_s": infer_start,
                "finish_s": finish,
            }
            for key, expected in expected_times.items():
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
            deadline = float(user.deadline_s)
            if finish > deadline * (1.0 + RELATIVE_TOLERANCE):
                self.add(
                    f"{where}.finish_s", f"user {uid!r} finishes at {finish:.9g} s, after its deadline {deadline:.9g} s"
                )
            now = finish
            previous = model

    def check_objective(self, admitted: list[str]) -> None:
        weight = 0.0
        for uid in admitted:
            weight += float(self.users[uid].weight)
        objective = float(self.doc["objective"])
        if not _close(objective, weight):
            self.add("objective", f"reported {_num(objective)}, but the scheduled users weigh {_num(weight)}")
        bound = self.doc["bound"]
        if bound is None:
            return
        bound = float(bound)
        if bound < weight * (1.0 - RELATIVE_TOLERANCE) - ABSOLUTE_TOLERANCE:
            self.add("bound", f"upper bound {_num(bound)} is below the value {_num(weight)} of the schedule")
        if self.doc["status"] == "optimal" and bound > weight * (1.0 + OPTIMAL_BOUND_TOLERANCE) + ABSOLUTE_TOLERANCE:
            excess = f"the bound {_num(bound)} exceeds the value {_num(weight)} of the schedule"
            self.add("bound", f"status 'optimal' but {excess}")


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


def verify_files(instance_path: str | os.PathLike[str], solution_path: str | os.PathLike[str]) -> VerificationReport:
    """Read an instance file and a solution file and verify one against the other.

    Raises
    ------
    InstanceError
        The instance file is invalid.
    SolutionError
        The solution file is malformed.
    """
    instance = read_instance(instance_path)
    doc = read_solution(solution_path)
    return verify_solution(instance, doc, str(solution_path))
