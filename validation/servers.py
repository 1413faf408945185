"""Independent verifier of solution documents on several servers.

Given the association, the servers share nothing: each server's entries (those naming it in
``server``, in document order) are checked as a one-server solution against the server's own
instance (:meth:`~partialloading.network.Network.server_instance`: its band, GPU and memory, and
each user's link to it) by :func:`~partialloading.validation.verify.verify_solution`, which
replays the timeline from the raw data. Around that, this module checks what only the network
knows: each entry names a known server that can serve its user (the user links to it and its
model fits its memory), no user is served twice or both served and rejected, the rejected list
is complete, ``servers`` reports each server's upload end and served weight, and the document's
objective, bound and status agree with the weight served. A violation inside a server's
replay is reported at the document's own place (``schedule[7].finish_s``,
``servers[1].upload_end_s``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from partialloading.network import Network
from partialloading.solution_io import check_solution_structure

from .verify import VerificationReport, Violation, _close, objective_violations, rejected_violations, verify_solution

__all__ = ["verify_network_solution"]

_ENTRY = re.compile(r"^schedule\[(\d+)\]")


class _NetworkChecker:
    def __init__(self, network: Network, doc: Mapping[str, Any]) -> None:
        self.network = network
        self.doc = doc
        self.found: list[Violation] = []
        self.groups: list[list[int]] = [[] for _ in network.servers]
        self.served: dict[str, str] = {}

    def add(self, where: str, problem: str) -> None:
        self.found.append(Violation(where, problem))

    def run(self) -> None:
        net, doc = self.network, self.doc
        if doc["instance"] != net.name:
            self.add("instance", f"solution is for instance {doc['instance']!r}, checked against {net.name!r}")
        for q, entry in enumerate(doc["schedule"]):
            self.place(q, entry)
        self.check_rejected()
        self.check_bandwidth_keys()
        reported = self.check_servers_list()
        for n in range(net.num_servers):
            self.check_server(n, reported)
        weight = sum(float(net.users[net.user_index[uid]].weight) for uid in self.served)
        self.found.extend(objective_violations(doc, weight))

    def place(self, q: int, entry: Mapping[str, Any]) -> None:
        """Put entry ``q`` in its server's group, or report why it has none."""
        net = self.network
        sid = entry.get("server")
        if sid is None:
            if net.num_servers > 1:
                self.add(f"schedule[{q}].server", "missing (the instance has several servers)")
                return
            sid = net.servers[0].id
        if sid not in net.server_index:
            self.add(f"schedule[{q}].server", f"unknown server {sid!r}")
            return
        uid = entry["user"]
        if uid not in net.user_index:
            self.add(f"schedule[{q}].user", f"unknown user {uid!r}")
            return
        n = net.server_index[sid]
        if n not in net.servers_of[net.user_index[uid]]:
            can = ", ".join(repr(net.servers[s].id) for s in net.servers_of[net.user_index[uid]]) or "none"
            self.add(
                f"schedule[{q}].server", f"user {uid!r} cannot be served by server {sid!r} (servers it can: {can})"
            )
            return
        if uid in self.served:
            self.add(f"schedule[{q}].user", f"user {uid!r} appears twice (also {self.served[uid]})")
            return
        self.served[uid] = f"schedule[{q}]"
        self.groups[n].append(q)

    def check_rejected(self) -> None:
        users = [u.id for u in self.network.users]
        self.found.extend(rejected_violations(self.doc["rejected"], users, self.served))

    def check_bandwidth_keys(self) -> None:
        for uid in self.doc["bandwidth_hz"]:
            if uid not in self.served and uid in self.network.user_index:
                self.add(f"bandwidth_hz.{uid}", f"user {uid!r} is not scheduled but gets bandwidth")
            elif uid not in self.network.user_index:
                self.add(f"bandwidth_hz.{uid}", f"unknown user {uid!r}")

    def check_servers_list(self) -> list[Mapping[str, Any]] | None:
        """The ``servers`` entries, one per server in order (``None`` when absent or wrong)."""
        net = self.network
        listed = self.doc.get("servers")
        if listed is None:
            if net.num_servers > 1:
                self.add("servers", "missing (the instance has several servers)")
            return None
        ids = [s["id"] for s in listed]
        expected = [s.id for s in net.servers]
        if ids != expected:
            self.add("servers", f"lists servers {ids}, the instance has {expected} (in that order)")
            return None
        ends = [float(s["upload_end_s"]) for s in listed]
        top = float(self.doc["upload_end_s"])
        if ends and not _close(top, max(ends)):
            self.add("upload_end_s", f"reported {top:.9g} s, but the latest server's upload ends at {max(ends):.9g} s")
        return list(listed)

    def check_server(self, n: int, reported: list[Mapping[str, Any]] | None) -> None:
        """Server ``n``'s entries as a one-server solution of its instance."""
        net, doc = self.network, self.doc
        instance = net.server_instance(n)
        entries = [{key: v for key, v in doc["schedule"][q].items() if key != "server"} for q in self.groups[n]]
        users = {e["user"] for e in entries}
        weight = sum(float(net.users[net.user_index[uid]].weight) for uid in users)
        if reported is not None and not _close(float(reported[n]["objective"]), weight):
            self.add(f"servers[{n}].objective", f"reported {reported[n]['objective']}, but its users weigh {weight:g}")
        sub = {
            **{key: doc[key] for key in ("format", "version", "method", "sharing", "runtime_s") if key in doc},
            "timing": doc.get("timing", net.timing),
            "instance": instance.name,
            "status": "feasible",
            "objective": weight,
            "bound": None,
            "upload_end_s": float(reported[n]["upload_end_s"]) if reported is not None else float(doc["upload_end_s"]),
            "schedule": entries,
            "bandwidth_hz": {uid: b for uid, b in doc["bandwidth_hz"].items() if uid in users},
            "rejected": [u.id for u in instance.users if u.id not in users],
        }
        for violation in verify_solution(instance, sub).violations:
            self.found.append(Violation(self._where(n, violation.where), violation.problem))

    def _where(self, n: int, where: str) -> str:
        """A place in server ``n``'s one-server document as a place in this document."""
        match = _ENTRY.match(where)
        if match:
            return f"schedule[{self.groups[n][int(match.group(1))]}]{where[match.end() :]}"
        if where == "upload_end_s":
            return f"servers[{n}].upload_end_s"
        if where == "bandwidth_hz":
            return f"bandwidth_hz (server {self.network.servers[n].id!r})"
        return where


def verify_network_solution(network: Network, doc: Mapping[str, Any], source: str | None = None) -> VerificationReport:
    """Check a solution document against a network, recomputing every server's timeline.

    Raises
    ------
    SolutionError
        ``doc`` is not shaped like a version-1 solution document.
    """
    check_solution_structure(doc, source)
    checker = _NetworkChecker(network, doc)
    checker.run()
    return VerificationReport(network.name, tuple(checker.found))
