"""Tests of the scenario generators and the ``generate`` command."""

from __future__ import annotations

import math

import numpy as np
import pytest

from partialloading import scenarios
from partialloading.cli import main
from partialloading.errors import InstanceTooLargeError
from partialloading.instance import Instance
from partialloading.io import dumps_instance, loads_instance, read_instance
from partialloading.memory import memory_of
from partialloading.solve import solve
from partialloading.validation.verify import verify_solution

BACKBONE_FAMILIES = ("backbone", "zoo-heads", "zoo-lora")
GENERAL_FAMILIES = ("general", "zoo-freeze", "zoo-mixed")


def sharing_structure(instance: Instance) -> str:
    """``"backbone"`` when every block is owned by one model or shared by its whole cluster
    (clusters: connected components of the models that share blocks), else ``"general"``."""
    sharers: dict[str, set[int]] = {}
    for m, model in enumerate(instance.models):
        for b in model.blocks:
            sharers.setdefault(b, set()).add(m)
    cluster = list(range(instance.num_models))

    def find(i: int) -> int:
        while cluster[i] != i:
            i = cluster[i]
        return i

    for s in sharers.values():
        first = min(s)
        for m in s:
            cluster[find(m)] = find(first)
    members: dict[int, set[int]] = {}
    for m in range(instance.num_models):
        members.setdefault(find(m), set()).add(m)
    ok = all(len(s) == 1 or s == members[find(min(s))] for s in sharers.values())
    return "backbone" if ok else "general"


def test_families_are_listed():
    configured = ("backbone", "general", "zoo-heads", "zoo-freeze", "zoo-lora", "zoo-mixed", "adapters")
    random = ("random-backbone", "random-general", "random-none")
    assert (*random, *configured, "zoo-freeze-depth") == scenarios.FAMILIES
    assert set(scenarios.CONFIGS) == set(configured)


@pytest.mark.parametrize("family", ["random-backbone", "random-general", "random-none", "zoo-freeze-depth"])
def test_one_registry_generates_every_family(family: str) -> None:
    params = {"frozen_fraction": 0.5, "n_users": 6} if family == "zoo-freeze-depth" else {"n_users": 6}
    first = scenarios.generate(family, 3, **params)
    assert first == scenarios.generate(family, 3, **params)
    assert first.num_users == 6


def test_registry_errors_name_the_family() -> None:
    with pytest.raises(scenarios.ScenarioError, match="unknown family 'nope'"):
        scenarios.generate("nope", 0)
    with pytest.raises(scenarios.ScenarioError, match="random-general"):
        scenarios.generate("random-general", 0, bogus=1)
    with pytest.raises(scenarios.ScenarioError, match="zoo-freeze-depth"):
        scenarios.generate("zoo-freeze-depth", 0, frozen_fraction=2)


@pytest.mark.parametrize("family", tuple(scenarios.CONFIGS))
def test_deterministic_per_seed_and_seeds_differ(family):
    a = dumps_instance(scenarios.generate(family, 7, n_users=8))
    assert a == dumps_instance(scenarios.generate(family, 7, n_users=8))
    # The file passes every check of the reader (what `validate` runs) and round-trips exactly.
    assert dumps_instance(loads_instance(a, "generated")) == a
    assert a != dumps_instance(scenarios.generate(family, 8, n_users=8))


@pytest.mark.parametrize("family", tuple(scenarios.CONFIGS))
def test_models_do_not_depend_on_the_number_of_users(family):
    few = scenarios.generate(family, 3, n_users=5)
    many = scenarios.generate(family, 3, n_users=40)
    assert few.blocks == many.blocks and few.models == many.models


@pytest.mark.parametrize("family", BACKBONE_FAMILIES)
def test_backbone_families_are_backbone_sharing(family):
    from partialloading.solvers.dp import why_not_exact

    for seed in range(5):
        inst = scenarios.generate(family, seed, n_models=7)
        assert sharing_structure(inst) == "backbone"
        assert why_not_exact(inst) is None


@pytest.mark.parametrize("family", GENERAL_FAMILIES)
def test_general_families_are_not_backbone_sharing(family):
    for seed in range(5):
        for m in (3, 6, 10):
            assert sharing_structure(scenarios.generate(family, seed, n_models=m)) == "general"


def test_zoo_heads_use_one_cluster_per_architecture():
    inst = scenarios.generate("zoo-heads", 1, n_models=6, architectures=("resnet18", "vit_b_16"))
    prefixes = sorted(m.id.split(".")[0] for m in inst.models)
    assert prefixes == ["resnet18"] * 3 + ["vit_b_16"] * 3
    # Task heads d·C + C in fp16 on top of the shared backbone.
    head_sizes = {b.size_bytes for b in inst.blocks if b.id.endswith(".head")}
    assert all(s % 2 == 0 and s > 0 for s in head_sizes)


def test_snr_follows_the_path_loss_model():
    cell = scenarios.Cell()
    # At the cell edge (250 m), no shadowing, over 1 MHz: PL = 128.1 + 37.6·log10(0.25) = 105.463 dB,
    # noise = −174 + 60 + 5 = −109 dBm, SNR = 23 − 105.463 + 109 = 26.537 dB.
    assert cell.snr_db(np.array([250.0]), np.array([0.0]), 1e6)[0] == pytest.approx(26.537, abs=1e-3)
    # 10 m away the Shannon SNR would be ~79 dB: capped at 30 dB.
    assert cell.snr_db(np.array([10.0]), np.array([0.0]), 1e6)[0] == 30.0
    d = cell.distances(np.random.default_rng(0), 10_000)
    assert d.min() >= 10 and d.max() <= 250
    # Uniform in area: the median distance is sqrt((10² + 250²)/2) ≈ 177 m.
    assert np.median(d) == pytest.approx(math.sqrt((10**2 + 250**2) / 2), rel=0.03)


def test_users_carry_snr_and_real_input_sizes():
    raw = scenarios.generate("zoo-heads", 2, n_users=30, image_encoding="raw")
    for u in raw.users:
        assert u.snr_db is not None and u.spectral_efficiency is None and u.snr_db <= 30
        text = u.model.startswith("bert")
        assert u.data_bits == (512 * 16 if text else 224 * 224 * 3 * 8)
    jpeg = scenarios.generate("zoo-heads", 2, n_users=30)
    image_bits = [u.data_bits for u in jpeg.users if not u.model.startswith("bert")]
    assert image_bits and all(224 * 224 * 0.75 <= b <= 224 * 224 * 2.0 for b in image_bits)


@pytest.mark.parametrize("family", tuple(scenarios.CONFIGS))
def test_deadlines_common_and_per_user(family):
    common = scenarios.generate(family, 4, tightness=0.3)
    ref = scenarios.reference_time(common)
    assert len(set(common.deadlines)) == 1 and common.deadlines[0] == pytest.approx(0.3 * ref, abs=1e-6)
    per = scenarios.generate(family, 4, tightness=0.3, deadlines="per_user")
    d = per.deadlines
    assert len(set(d)) > 1 and d.min() >= 0.5 * 0.3 * ref - 1e-6 and d.max() <= 1.5 * 0.3 * ref + 1e-6


def test_load_speed_precision_and_inference_overrides():
    fp32 = scenarios.generate(
        "zoo-lora", 1, precision="fp32", load_speed_bytes_per_s=scenarios.LOAD_SPEEDS["pcie4-pinned"]
    )
    int8 = scenarios.generate("zoo-lora", 1, precision="int8")
    assert fp32.load_speed_bytes_per_s == 25e9 and int8.load_speed_bytes_per_s == 5e9
    np.testing.assert_allclose(fp32.block_sizes, 4 * int8.block_sizes)
    # Llama-2-7B on a 512-token prompt: ~6.7 TFLOP at 48 TFLOP/s plus 1 ms.
    assert fp32.models[0].infer_time_s == pytest.approx(0.001 + 6.7004e12 / 48e12, rel=1e-4)


def test_bad_overrides_are_user_errors():
    with pytest.raises(scenarios.ScenarioError, match="unknown family"):
        scenarios.generate("nope", 0)
    with pytest.raises(scenarios.ScenarioError, match="no parameter 'n_user'"):
        scenarios.generate("backbone", 0, n_user=3)
    with pytest.raises(scenarios.ScenarioError, match="type int"):
        scenarios.generate("backbone", 0, n_users=2.5)
    with pytest.raises(scenarios.ScenarioError, match="tightness"):
        scenarios.generate("backbone", 0, tightness=0)
    with pytest.raises(scenarios.ScenarioError, match="not a transformer"):
        scenarios.generate("zoo-lora", 0, architecture="resnet50")
    with pytest.raises(scenarios.ScenarioError, match="unknown architecture"):
        scenarios.generate("zoo-freeze", 0, architecture="alexnet")
    with pytest.raises(scenarios.ScenarioError, match="seed"):
        scenarios.generate("backbone", -1)
    cell = scenarios.generate("backbone", 0, cell={"radius_m": 500.0})
    assert cell.meta["config"]["cell"]["radius_m"] == 500.0


@pytest.mark.parametrize("family", tuple(scenarios.CONFIGS))
@pytest.mark.parametrize("method", ["edf", "enumerate"])
def test_small_instances_solve_and_verify(family, method):
    inst = scenarios.generate(family, 11, n_users=6, n_models=4, deadlines="per_user", tightness=0.4)
    if method == "enumerate" and memory_of(inst).name == "capacity":
        # The LoRA layers make hundreds of blocks: too many eviction sets to search exhaustively.
        with pytest.raises(InstanceTooLargeError, match="evictions over at most"):
            solve(inst, method)
        method = "greedy"
    for sharing in (True, False):
        result = solve(inst, method, sharing=sharing)
        assert result.solution.feasible
        assert not verify_solution(inst, result.to_dict()).violations


def test_sharing_pays_off_on_lora_adapters():
    # Six adapters on one Llama-2-7B base: with sharing only the first request loads the 13.5 GB
    # base; without, every switch reloads it, so at the default tightness far fewer users fit.
    inst = scenarios.generate("zoo-lora", 0, n_users=30)
    assert solve(inst, "edf").objective > solve(inst, "edf", sharing=False).objective


def test_generate_cli_writes_valid_identical_files(tmp_path, capsys):
    args = ["generate", "zoo-mixed", "--n", "3", "--seed", "5", "--users", "7", "--models", "6"]
    assert main([*args, "--out", str(tmp_path / "a"), "--deadlines", "per-user", "--tightness", "0.4"]) == 0
    assert main([*args, "--out", str(tmp_path / "b"), "--deadlines", "per-user", "--tightness", "0.4"]) == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "3 instance(s)" in out
    files = sorted((tmp_path / "a").glob("*.json"))
    assert [f.name for f in files] == [f"zoo-mixed-u7-m6-s{s}.json" for s in (5, 6, 7)]
    for f in files:
        assert f.read_bytes() == (tmp_path / "b" / f.name).read_bytes()
        inst = read_instance(f)
        assert inst.num_users == 7 and len(set(inst.deadlines)) > 1
        assert main(["validate", str(f)]) == 0


def test_generate_cli_set_overrides(tmp_path):
    out = tmp_path / "o"
    assert main(["generate", "zoo-freeze", "--out", str(out), "--set", "precision=int8", "--set", "n_models=3"]) == 0
    inst = read_instance(next(out.glob("*.json")))
    assert inst.num_models == 3 and inst.meta["config"]["precision"] == "int8"


@pytest.mark.parametrize(
    "extra",
    [
        ["nope"],
        ["backbone", "--n", "0"],
        ["backbone", "--users", "0"],
        ["backbone", "--deadlines", "sometimes"],
        ["backbone", "--tightness", "-1"],
        ["backbone", "--set", "n_users=2.5"],
        ["backbone", "--set", "bogus=1"],
        ["backbone", "--set", "novalue"],
    ],
)
def test_generate_cli_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, extra):
    out = tmp_path / "out"
    assert main(["generate", *extra, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("partialloading: error:") and err.count("\n") == 1
    assert not out.exists()


def test_the_adapters_family_keeps_the_base_and_a_share_of_the_adapters():
    # A 7B base in fp16 (about 13.5 GB) under 32 LoRA adapters; memory 1.2 × the largest model.
    inst = scenarios.generate("adapters", 0, n_users=10)
    assert memory_of(inst).name == "capacity"
    assert inst.memory_bytes == pytest.approx(1.2 * float(inst.model_sizes.max()))
    base = float(np.min(inst.model_sizes))
    assert 13e9 < base < 14e9
    adapters = inst.model_sizes - base
    assert float(adapters.max()) < 0.03 * base  # rank 64 on every attention layer: under 3 % of the base


def test_a_memory_setting_for_every_configured_family():
    for family in scenarios.CONFIGS:
        inst = scenarios.generate(family, 1, n_users=5, memory_models=2)
        assert inst.memory_bytes == pytest.approx(2 * float(inst.model_sizes.max()))
    with pytest.raises(scenarios.ScenarioError, match="memory_models"):
        scenarios.generate("zoo-heads", 1, memory_models=0.5)
