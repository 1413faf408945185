"""Tests of the model zoo: published totals, per-layer formulas, and the fine-tuned families."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from partialloading import zoo
from partialloading.instance import Block, Instance, Model, User

ROOT = Path(__file__).resolve().parents[1]

# Published totals: torchvision weights meta ``num_params`` (ResNet18_Weights.IMAGENET1K_V1,
# ResNet50_Weights.IMAGENET1K_V1, ViT_B_16_Weights.IMAGENET1K_V1) and the parameter counts of
# Hugging Face's BertModel("bert-base-uncased", with pooler) and LlamaForCausalLM("Llama-2-7b-hf").
PUBLISHED = {
    "resnet18": 11_689_512,
    "resnet50": 25_557_032,
    "vit_b_16": 86_567_656,
    "bert_base_uncased": 109_482_240,
    "llama2_7b": 6_738_415_616,
}


def test_zoo_lists_the_five_architectures():
    assert set(zoo.names()) == set(PUBLISHED)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_totals_equal_the_published_figures(name):
    arch = zoo.load(name)
    # The sum of the shipped per-layer counts, not a stored total.
    assert sum(x.params for x in arch.layers) + (arch.head.params if arch.head else 0) == PUBLISHED[name]
    assert arch.total_params == arch.published_params == PUBLISHED[name]


def test_per_layer_counts_match_hand_computed_formulas():
    r18 = {x.id: x.params for x in zoo.load("resnet18").layers}
    # conv1 7·7·3·64 = 9408 weights + BN γ,β 2·64 = 128.
    assert r18["stem"] == 9_536
    # Two 3×3 64→64 convs (2·36,864) and two BNs (2·128).
    assert r18["layer1.0"] == 73_984
    # 3×3 256→512, 3×3 512→512, two BNs, downsample 1×1 256→512 + BN.
    assert r18["layer4.0"] == 1_179_648 + 2_359_296 + 2_048 + 131_072 + 1_024
    vit = zoo.load("vit_b_16")
    # ln_1, ln_2: 2·1536; qkv 768·2304 + 2304; out 768² + 768; MLP 768·3072 + 3072 + 3072·768 + 768.
    assert vit.layers[1].params == 3_072 + 1_771_776 + 590_592 + 2_362_368 + 2_360_064
    assert vit.head is not None and vit.head.params == 769_000  # 768·1000 + 1000
    llama = zoo.load("llama2_7b")
    # q,k,v,o 4·4096²; gate, up, down 3·4096·11008; two RMSNorm weights 2·4096.
    assert llama.layers[1].params == 67_108_864 + 135_266_304 + 8_192
    assert llama.head is not None
    assert llama.layers[0].params == llama.head.params == 32_000 * 4_096  # untied embedding and LM head
    bert = zoo.load("bert_base_uncased")
    assert bert.head is None and bert.layers[-1].params == 590_592  # pooler 768² + 768
    assert bert.depth == 14 and vit.depth == 14 and llama.depth == 34 and zoo.load("resnet50").depth == 17


def test_shipped_data_is_what_the_tool_computes():
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "zoo_layers.py"), "--check"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_precision_scales_sizes():
    assert zoo.param_bytes(1000, "fp32") == 4000
    assert zoo.param_bytes(1000, "fp16") == 2000
    assert zoo.param_bytes(1000, "int8") == 1000
    with pytest.raises(zoo.ZooError, match="precision"):
        zoo.param_bytes(1000, "fp8")


def _sharers(family: zoo.Family) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {b.id: set() for b in family.blocks}
    for m in family.models:
        for b in m.blocks:
            out[b].add(m.id)
    return out


def _as_instance(family: zoo.Family) -> Instance:
    # The family must make a valid instance (ids unique, every block known).
    users = tuple(User(f"u{i}", m.id, 1e5, 1.0, spectral_efficiency=5.0) for i, m in enumerate(family.models))
    return Instance(family.blocks, family.models, users, 1e7, 5e9)


@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_heads_family_is_backbone_sharing(precision):
    vit = zoo.load("vit_b_16")
    fam = zoo.heads_family(vit, [10, 100, 1000], precision=precision, infer_time_s=0.002)
    _as_instance(fam)
    every = {m.id for m in fam.models}
    sharers = _sharers(fam)
    assert all(s == every or len(s) == 1 for s in sharers.values())
    assert sum(len(s) == 1 for s in sharers.values()) == 3  # one head each
    per = zoo.PRECISION_BYTES[precision]
    sizes = {b.id: b.size_bytes for b in fam.blocks}
    assert sizes["vit_b_16.task1.head"] == (768 * 100 + 100) * per
    # A task model with the ImageNet width is exactly the published model.
    assert sum(sizes[b] for b in fam.models[2].blocks) == PUBLISHED["vit_b_16"] * per


def test_freeze_family_shares_the_bottom_layers_at_each_depth():
    r50 = zoo.load("resnet50")
    depths = [0, 4, 9, 17]
    fam = zoo.freeze_family(r50, depths, include_base=True, precision="fp16")
    _as_instance(fam)
    base = fam.models[0]
    assert len(base.blocks) == r50.depth + 1
    for k, model in zip(depths, fam.models[1:], strict=True):
        shared = set(model.blocks) & set(base.blocks)
        assert shared == set(base.blocks[:k])
        # Its own fine-tuned copies and head make it as large as the published model (1000 classes).
        size = sum(b.size_bytes for b in fam.blocks if b.id in model.blocks)
        assert size == PUBLISHED["resnet50"] * 2
    # Variants share with each other exactly the bottom min(k, k') layers: general sharing.
    a, b = fam.models[2], fam.models[3]
    assert set(a.blocks) & set(b.blocks) == set(base.blocks[:4])
    with pytest.raises(zoo.ZooError, match="freeze depth"):
        zoo.freeze_family(r50, [18])


def test_lora_family_adds_rank_r_blocks_on_a_shared_base():
    llama = zoo.load("llama2_7b")
    fam = zoo.lora_family(llama, 3, rank=16, layers=[1, 2, 3], precision="fp16")
    _as_instance(fam)
    sharers = _sharers(fam)
    every = {m.id for m in fam.models}
    base_ids = [b for b, s in sharers.items() if s == every]
    assert len(base_ids) == llama.depth + 1  # every layer group and the LM head
    own = [b for b in fam.blocks if len(sharers[b.id]) == 1]
    assert len(own) == 3 * 3
    # q_proj and v_proj: 2 matrices × 2·r·d parameters × 2 bytes.
    assert all(b.size_bytes == 2 * 2 * 16 * 4096 * 2 for b in own)
    with pytest.raises(zoo.ZooError, match="transformer"):
        zoo.lora_family("resnet18", 2)
    with pytest.raises(zoo.ZooError, match="adapted layers"):
        zoo.lora_family(llama, 2, layers=[0])


def test_families_combine_with_distinct_prefixes():
    fam = zoo.heads_family("resnet18", [10], prefix="a") + zoo.heads_family("resnet18", [10], prefix="b")
    inst = _as_instance(fam)
    assert inst.num_models == 2 and not (set(inst.models[0].blocks) & set(inst.models[1].blocks))
    assert isinstance(fam.blocks[0], Block) and isinstance(fam.models[0], Model)


def test_unknown_architecture_is_a_user_error():
    with pytest.raises(zoo.ZooError, match="unknown architecture"):
        zoo.load("alexnet")
