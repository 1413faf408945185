"""Sharing-structure detection, the reasons the DP gives when it does not apply, and ``inspect``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from partialloading import instances
from partialloading.cli import SUBCOMMANDS, main
from partialloading.instance import Block, Instance, Model, User
from partialloading.io import write_instance
from partialloading.scenarios import random_instance
from partialloading.sharing import (
    deadline_summary,
    grouped_order,
    relevant_models,
    sharing_structure,
    why_not_backbone,
    why_not_common_deadline,
)
from partialloading.solvers.dp import why_not_exact

TINY = str(instances.path("tiny"))


def make(
    models: dict[str, tuple[str, ...]],
    users: list[str] | None = None,
    *,
    sizes: dict[str, float] | None = None,
    deadlines: list[float] | None = None,
    initial: str | None = None,
) -> Instance:
    """Instance with the given model → blocks map; blocks of 10 bytes unless ``sizes`` says otherwise."""
    block_ids = sorted({b for bl in models.values() for b in bl})
    sizes = sizes or {}
    users = list(models) if users is None else users
    deadlines = deadlines or [1.0] * len(users)
    return Instance(
        blocks=tuple(Block(b, sizes.get(b, 10.0)) for b in block_ids),
        models=tuple(Model(m, bl, 0.001) for m, bl in models.items()),
        users=tuple(User(f"u{k}", m, 1e3, deadlines[k], spectral_efficiency=1.0) for k, m in enumerate(users)),
        bandwidth_hz=1e6,
        load_speed_bytes_per_s=1e3,
        initial_model=initial,
    )


def test_tiny_clusters_backbones_and_heads() -> None:
    inst = instances.load("tiny")
    s = sharing_structure(inst)
    assert s.is_backbone and s.violation is None
    assert [c.models for c in s.clusters] == [(0, 1), (2,)]
    vit, resnet = s.clusters
    assert vit.backbone_bytes == 3e8 and vit.head_bytes == (2e7, 2e7)
    assert [inst.blocks[j].id for j in vit.backbone] == ["vit.backbone"]
    # A single-model cluster: the whole model is its backbone, its head is empty.
    assert resnet.backbone_bytes == 1e8 and resnet.head_bytes == (0.0,)
    assert s.cluster_of == (0, 0, 1)


def test_block_shared_by_part_of_a_cluster() -> None:
    # m1, m2, m4 are connected through bb; x0 is held by m1 and m4 but not by m2.
    inst = make({"m1": ("bb", "x0"), "m2": ("bb", "h2"), "m4": ("bb", "x0", "h4")})
    assert why_not_backbone(inst) == "block 'x0' is shared by m1 and m4 but not by m2 of the same cluster"
    s = sharing_structure(inst)
    assert not s.is_backbone
    assert len(s.clusters) == 1 and [inst.blocks[j].id for j in s.clusters[0].partial] == ["x0"]
    assert why_not_backbone(inst.unshared()) is None


def test_chain_of_shared_blocks_is_one_cluster() -> None:
    # a–b share p, b–c share q: one cluster, and neither p nor q is held by all three.
    inst = make({"a": ("p",), "b": ("p", "q"), "c": ("q",)})
    assert why_not_backbone(inst) == "block 'p' is shared by a and b but not by c of the same cluster"


def test_several_backbone_blocks_and_empty_heads() -> None:
    inst = make({"a": ("b1", "b2", "ha"), "b": ("b1", "b2"), "c": ("b1", "b2", "hc")})
    s = sharing_structure(inst)
    assert s.is_backbone
    (cluster,) = s.clusters
    assert cluster.backbone_bytes == 20.0 and cluster.head_bytes == (10.0, 0.0, 10.0)


def test_unrequested_models_are_ignored_unless_in_memory() -> None:
    # x (nobody requests it) holds half of a's head: ignored, the instance is backbone-sharing...
    models = {"a": ("bb", "ha", "hx"), "b": ("bb", "hb"), "x": ("hx",)}
    inst = make(models, users=["a", "b"])
    assert relevant_models(inst) == (0, 1)
    assert why_not_backbone(inst) is None
    assert sharing_structure(inst).ignored_models == (2,)
    # ...but its blocks are in GPU memory when it is the initial model, so it counts then.
    with_x = make(models, users=["a", "b"], initial="x")
    assert why_not_backbone(with_x) == "block 'bb' is shared by a and b but not by x of the same cluster"


def test_zero_size_blocks_are_ignored() -> None:
    inst = make({"a": ("bb", "z"), "b": ("bb",), "c": ("cc", "z")}, sizes={"z": 0.0})
    s = sharing_structure(inst)
    assert s.is_backbone and [c.models for c in s.clusters] == [(0, 1), (2,)]


def test_deadlines_summary_and_reason() -> None:
    inst = make({"a": ("x",)}, users=["a", "a", "a", "a"], deadlines=[0.1, 0.5, 0.3, 0.5])
    assert deadline_summary(inst).distinct == 3
    assert why_not_common_deadline(inst) == "users have 3 different deadlines (0.1 s to 0.5 s)"
    assert why_not_common_deadline(make({"a": ("x",)})) is None
    assert why_not_exact(inst) == "users have 3 different deadlines (0.1 s to 0.5 s)"


def test_every_reason_is_reported() -> None:
    inst = make({"a": ("p",), "b": ("p", "q"), "c": ("q",)}, deadlines=[1.0, 2.0, 1.0])
    users = tuple(dataclasses.replace(u, weight=w) for u, w in zip(inst.users, (1, 2.5, 1), strict=True))
    inst = dataclasses.replace(inst, users=users)
    assert why_not_exact(inst) == (
        "users have 2 different deadlines (1 s to 2 s); "
        "block 'p' is shared by a and b but not by c of the same cluster; "
        "weights are neither all equal nor integers (user 'u1' has weight 2.5)"
    )


def test_generated_structures() -> None:
    for seed in range(20):
        assert why_not_backbone(random_instance(seed, 30, 8, structure="backbone")) is None
        assert why_not_backbone(random_instance(seed, 30, 8, structure="none")) is None
    # The general family shares trunks partially; most instances are not backbone-sharing.
    general = [why_not_backbone(random_instance(seed, 30, 8, structure="general")) for seed in range(20)]
    assert sum(r is not None for r in general) >= 10


def test_grouped_order_puts_the_initial_cluster_and_model_first() -> None:
    # Clusters {a, b} and {c}; b is in memory, so its cluster goes first with b first, then a,
    # then cluster {c}; within a model users keep index order.
    inst = make({"a": ("bb", "ha"), "b": ("bb", "hb"), "c": ("cc",)}, users=["a", "c", "b", "a", "c"], initial="b")
    order = grouped_order(inst, sharing_structure(inst))
    assert [inst.users[k].model for k in order] == ["b", "a", "a", "c", "c"]
    assert order == [2, 0, 3, 1, 4]


# ----------------------------------------------------------------------------- command line
def test_inspect_is_a_subcommand() -> None:
    assert "inspect" in SUBCOMMANDS


def test_inspect_tiny(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", TINY]) == 0
    out = capsys.readouterr().out
    assert "structure: backbone sharing, 2 cluster(s)" in out
    assert "deadlines: common, 0.5 s" in out
    # The optima of tests/solvers/test_dp.py::test_tiny_with_and_without_sharing.
    assert "dp with sharing: exact (polynomial DP applies); optimum 3 of 4" in out
    assert "dp without sharing: exact (polynomial DP applies); optimum 2 of 4" in out
    # With sharing the vit backbone (300 MB) is loaded once for birds and cars, without it twice:
    # 300 + 20 + 20 + 100 = 440 MB vs 320 + 320 + 100 = 740 MB.
    assert "loads 440.0 MB with sharing vs 740.0 MB without: saves 300.0 MB" in out
    rows = [line.split() for line in out.splitlines() if line.startswith("c1") or line.startswith("c2")]
    assert rows[0][:5] == ["c1", "300.00", "1", "birds", "20.00"]
    assert rows[1][:5] == ["c2", "100.00", "1", "dogs", "0.00"]


def test_inspect_general_instance_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inst = random_instance(3, n_users=6, n_models=6, structure="general", deadlines="per_user")
    path = tmp_path / "general.json"
    write_instance(inst, path)
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "structure: general sharing" in out
    assert "dp with sharing: does not apply: users have 6 different deadlines" in out
    assert "of the same cluster" in out
    assert "dp without sharing: does not apply: users have 6 different deadlines" in out


def test_solve_method_dp_refuses_general_instance(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inst = random_instance(3, n_users=6, n_models=6, structure="general")
    path = tmp_path / "general.json"
    out_file = tmp_path / "sol.json"
    write_instance(inst, path)
    assert main(["solve", str(path), "--method", "dp", "--output", str(out_file)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("partialloading: error: dp is exact only for backbone sharing")
    assert "of the same cluster" in err and "Traceback" not in err
    assert not out_file.exists()
    # Without sharing the same instance is in the DP's exact case.
    assert main(["solve", str(path), "--method", "dp", "--no-sharing"]) == 0


def test_inspect_bad_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{")
    assert main(["inspect", str(path)]) == 2
    assert "invalid JSON" in capsys.readouterr().err
