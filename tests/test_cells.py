"""The ``cells`` family: the hexagonal layout, links within reach, determinism, and a study on it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import partialloading as pl
from partialloading.cli import main
from partialloading.io import read_network
from partialloading.plot import plot_servers
from partialloading.scenarios import NETWORK_FAMILIES, ScenarioError, generate, generate_network
from partialloading.scenarios.cells import CELLS_COVERAGE_M, hex_sites
from partialloading.study import Sweep, run_sweep
from partialloading.validation.servers import verify_network_solution


def test_the_sites_form_a_hexagonal_grid() -> None:
    sites = hex_sites(7, 500.0)
    # The first ring: six sites at one inter-site distance from the centre and from their neighbours.
    assert np.allclose(np.linalg.norm(sites[1:], axis=1), 500.0)
    assert np.allclose(np.linalg.norm(sites[1:] - np.roll(sites[1:], 1, axis=0), axis=1), 500.0)
    assert np.allclose(np.linalg.norm(hex_sites(19, 500.0)[7:], axis=1).max(), 1000.0)


def test_users_link_to_the_sites_within_reach() -> None:
    net = generate_network("cells", 3, servers=4, users=120)
    sites = np.array(net.meta["sites_m"])
    assert net.num_servers == 4 and net.num_users == 120 and NETWORK_FAMILIES == ("cells",)
    assert all(1 <= len(u.links or ()) <= 4 for u in net.users)
    assert len(sites) == 4 and net.meta["coverage_m"] == CELLS_COVERAGE_M
    # Some users sit where two cells overlap.
    assert sum(len(u.links or ()) > 1 for u in net.users) > 10
    assert all(-50 < (link.snr_db or 0.0) <= 30 for u in net.users for link in u.links or ())


def test_the_same_seed_gives_the_same_network(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert generate_network("cells", 1, servers=3, users=30) == generate_network("cells", 1, servers=3, users=30)
    assert generate_network("cells", 1, servers=3, users=30) != generate_network("cells", 2, servers=3, users=30)
    assert main(["generate", "cells", "--servers", "4", "--users", "40", "--out", str(tmp_path)]) == 0
    (path,) = tmp_path.glob("cells-*.json")
    assert read_network(path) == generate_network("cells", 0, servers=4, users=40)
    assert "4 servers, 6 models, 40 users" in capsys.readouterr().out


def test_cells_is_refused_where_one_server_is_expected() -> None:
    with pytest.raises(ScenarioError, match="cells is a family of several servers"):
        generate("cells", 0)
    with pytest.raises(ScenarioError, match="servers must be at least 1"):
        generate_network("cells", 0, servers=0)
    assert main(["generate", "zoo-heads", "--servers", "3", "--out", "/nonexistent"]) == 2


def test_a_lane_per_server(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    net = generate_network("cells", 0, servers=3, users=24, tightness=0.3)
    result = pl.solve(net, "greedy")
    axes = plot_servers(result)
    assert len(axes) == 3 and "server cell0" in axes[0].get_title()
    assert axes[-1].get_xlabel().startswith("time (s)\n\nrejected")
    doc = result.to_dict()
    (tmp_path / "s.json").write_text(json.dumps(doc))
    from partialloading.io import write_network

    write_network(net, tmp_path / "n.json")
    assert main(["plot", str(tmp_path / "n.json"), str(tmp_path / "s.json"), "-o", str(tmp_path / "g.png")]) == 0


def test_a_throughput_study_adds_servers(tmp_path: Path) -> None:
    sweep = Sweep(
        family="cells",
        parameter="servers",
        values=(1, 2),
        methods=("greedy", "exact"),
        seeds=(0,),
        fixed=(("users", 16), ("tightness", 0.3)),
        sharing=(True,),
    )
    summary = run_sweep(sweep, tmp_path / "t.sqlite", workers=1, progress=False)
    assert summary.errors == ()
    for servers in (1, 2):
        net = generate_network("cells", 0, servers=servers, users=16, tightness=0.3)
        exact = pl.solve(net, "enumerate" if net.num_users <= 8 else "benders")
        assert verify_network_solution(net, exact.to_dict()).ok
