"""The servers page's reach table and the results page's servers table are what their commands print."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import partialloading as pl
from partialloading.scenarios.servers import random_network
from partialloading.validation.servers import verify_network_solution

from docpages import shown_after

ROOT = Path(__file__).resolve().parents[2]


def reach_rows(users: int) -> list[list[str]]:
    """The rows of the servers page's reach table at ``users``: one per seed."""
    lines = shown_after(ROOT / "docs" / "servers.md", "python benchmarks/servers_exact.py")
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{users} users on 3 servers"))
    return [line.split() for line in lines[start + 2 : start + 8]]


@pytest.mark.parametrize("users", [20, pytest.param(30, marks=pytest.mark.slow)])
def test_the_reach_table_of_the_servers_page(users: int) -> None:
    # Columns: seed, then value/bound, status and time for benders, milp and greedy.
    for row in reach_rows(users):
        seed = int(row[0])
        net = random_network(seed, users, 3)
        exact = pl.solve(net, "benders", time_limit=60, initial={})
        assert verify_network_solution(net, exact.to_dict()).ok
        assert row[1:3] == [f"{exact.objective:g}/{exact.bound:g}", "opt"]
        greedy = pl.solve(net, "greedy")
        assert verify_network_solution(net, greedy.to_dict()).ok
        assert row[7] == f"{greedy.objective:g}/{greedy.bound:g}"


def _csv(name: str) -> list[dict[str, str]]:
    with (ROOT / "docs" / "figures" / name).open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_servers_table_of_the_results_page_is_its_studys_output() -> None:
    text = (ROOT / "docs" / "results.md").read_text("utf-8")
    section = text[text.index("## 8. Several edge servers") : text.index("## Reproduce")]
    rows = [line for line in section.splitlines() if line.startswith("| ") and line.split("|")[1].strip().isdigit()]
    means = _csv("online-zoo-heads-servers.csv")
    routers = ("affinity", "least-loaded", "round-robin", "random", "joint")
    assert [line.split("|")[1].strip() for line in rows] == ["1", "2", "4", "8"]
    for line in rows:
        cells = [c.strip() for c in line.strip("|").split("|")]
        row = {r["policy"]: r for r in means if r["value"] == cells[0]}
        expected = [f"{100 * float(row[f'greedy @{r}']['on_time_mean']):.1f}%" for r in routers]
        assert cells[1:] == expected


@pytest.mark.slow
def test_the_scale_figures_of_the_servers_page() -> None:
    import re
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from servers_scale import one_server

    from partialloading.scenarios import generate_network

    lines = shown_after(ROOT / "docs" / "servers.md", "python benchmarks/servers_scale.py")
    served = [re.findall(r"served (\d+)(?:, bound ([\d.]+))?", line) for line in lines if "served" in line]
    network = generate_network("cells", 0, servers=8, users=1000, tightness=0.1)
    alone = pl.solve(one_server(network), "greedy")
    several = pl.solve(network, "greedy")
    assert served[2] == [(f"{alone.objective:g}", "")] and served[3] == [(f"{several.objective:g}", f"{several.bound}")]
