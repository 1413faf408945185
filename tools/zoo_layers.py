"""Compute the per-layer parameter counts of the model zoo and write ``instances/zoo/*.json``.

Pure Python: every count is a closed-form formula over the architecture's configuration
(torchvision model definitions, Hugging Face ``config.json`` values); nothing is downloaded and
neither torch nor transformers is needed. The totals are checked against the published figures
before anything is written.

Usage::

    python tools/zoo_layers.py            # (re)write instances/zoo/*.json
    python tools/zoo_layers.py --check    # exit 1 if the shipped files differ from what this computes

Provenance of every configuration and figure: ``instances/zoo/README.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "instances" / "zoo"

PUBLISHED = {
    # torchvision.models weights meta "num_params"
    "resnet18": 11_689_512,
    "resnet50": 25_557_032,
    "vit_b_16": 86_567_656,
    # Hugging Face BertModel (with pooler) for bert-base-uncased; LlamaForCausalLM for Llama-2-7b-hf
    "bert_base_uncased": 109_482_240,
    "llama2_7b": 6_738_415_616,
}

# torchvision weights meta "_ops" (GFLOPS as torchvision reports them: multiply-accumulates, 224x224 input).
TORCHVISION_GMACS = {"resnet18": 1.814, "resnet50": 4.089, "vit_b_16": 17.564}

PROMPT_TOKENS = 512
"""Prompt length used for the compute estimate of the text models."""


def conv(c_in: int, c_out: int, k: int, bias: bool = False) -> int:
    """Weights (and bias) of a ``k×k`` convolution."""
    return c_in * c_out * k * k + (c_out if bias else 0)


def norm(width: int, bias: bool = True) -> int:
    """BatchNorm / LayerNorm affine parameters (γ and β), or RMSNorm (γ only)."""
    return 2 * width if bias else width


def linear(d_in: int, d_out: int, bias: bool = True) -> int:
    """Weight matrix (and bias) of a dense layer."""
    return d_in * d_out + (d_out if bias else 0)


def layer(ident: str, params: int, detail: str) -> dict[str, Any]:
    return {"id": ident, "params": params, "detail": detail}


def resnet(name: str, title: str, bottleneck: bool, depths: list[int]) -> dict[str, Any]:
    """torchvision ResNet (v1.5: stride on the 3×3 conv; BN after every conv; no conv biases)."""
    layers = [layer("stem", conv(3, 64, 7) + norm(64), "conv1 7x7 3->64, bn1")]
    inplanes = 64
    expansion = 4 if bottleneck else 1
    for stage, (planes, depth) in enumerate(zip([64, 128, 256, 512], depths, strict=True), start=1):
        for b in range(depth):
            stride_or_widen = b == 0 and (stage > 1 or inplanes != planes * expansion)
            if bottleneck:
                p = conv(inplanes, planes, 1) + norm(planes)
                p += conv(planes, planes, 3) + norm(planes)
                p += conv(planes, planes * expansion, 1) + norm(planes * expansion)
                detail = f"bottleneck 1x1 {inplanes}->{planes}, 3x3 {planes}->{planes}, 1x1 {planes}->{planes * 4}"
            else:
                p = conv(inplanes, planes, 3) + norm(planes) + conv(planes, planes, 3) + norm(planes)
                detail = f"basic block 3x3 {inplanes}->{planes}, 3x3 {planes}->{planes}"
            if stride_or_widen:
                p += conv(inplanes, planes * expansion, 1) + norm(planes * expansion)
                detail += f", downsample 1x1 {inplanes}->{planes * expansion}"
            detail += ", BN after each conv"
            layers.append(layer(f"layer{stage}.{b}", p, detail))
            inplanes = planes * expansion
    feature = 512 * expansion
    return {
        "name": name,
        "title": title,
        "modality": "image",
        "feature_dim": feature,
        "layers": layers,
        "head": {**layer("fc", linear(feature, 1000), f"fc {feature}->1000 with bias"), "classes": 1000},
        "lora": None,
        "flops_per_request": 2 * TORCHVISION_GMACS[name] * 1e9,
    }


def vit_b_16() -> dict[str, Any]:
    """torchvision ``vit_b_16``: patch 16, 224×224 input, d=768, 12 layers, MLP 3072, 197 tokens."""
    d, mlp, n_layers, tokens = 768, 3072, 12, (224 // 16) ** 2 + 1
    emb = conv(3, d, 16, bias=True) + d + tokens * d
    per_layer = norm(d) + linear(d, 3 * d) + linear(d, d) + norm(d) + linear(d, mlp) + linear(mlp, d)
    layers = [layer("embeddings", emb, "conv_proj 16x16 3->768 with bias, class_token, pos_embedding 197x768")]
    layers += [
        layer(
            f"encoder.layer{i}",
            per_layer,
            "ln_1, self-attention (in_proj 768->2304 + bias, out_proj 768->768 + bias), ln_2, MLP 768->3072->768",
        )
        for i in range(n_layers)
    ]
    layers.append(layer("encoder.ln", norm(d), "final LayerNorm"))
    return {
        "name": "vit_b_16",
        "title": "ViT-B/16",
        "modality": "image",
        "feature_dim": d,
        "layers": layers,
        "head": {**layer("heads.head", linear(d, 1000), "head 768->1000 with bias"), "classes": 1000},
        "lora": {"dim": d, "matrices": ["query", "value"], "layers": list(range(1, 1 + n_layers))},
        "flops_per_request": 2 * TORCHVISION_GMACS["vit_b_16"] * 1e9,
    }


def text_flops(non_embedding: int, n_layers: int, d_attn: int, tokens: int) -> float:
    """Forward FLOPs of a ``tokens``-long prompt: ``2N + 2·n_layer·n_ctx·d_attn`` per token (Kaplan et al. 2020)."""
    return float(tokens * (2 * non_embedding + 2 * n_layers * tokens * d_attn))


def bert_base_uncased() -> dict[str, Any]:
    """Hugging Face ``bert-base-uncased`` (BertModel with pooler): vocab 30522, d=768, 12 layers, FFN 3072."""
    vocab, d, ffn, n_layers, max_pos, type_vocab = 30522, 768, 3072, 12, 512, 2
    emb = vocab * d + max_pos * d + type_vocab * d + norm(d)
    per_layer = 3 * linear(d, d) + linear(d, d) + norm(d) + linear(d, ffn) + linear(ffn, d) + norm(d)
    layers = [layer("embeddings", emb, "word 30522x768, position 512x768, token_type 2x768, LayerNorm")]
    layers += [
        layer(
            f"encoder.layer{i}",
            per_layer,
            "query/key/value/output 768x768 + bias, LayerNorm, intermediate 768->3072, output 3072->768, LayerNorm",
        )
        for i in range(n_layers)
    ]
    layers.append(layer("pooler", linear(d, d), "pooler dense 768x768 + bias"))
    non_embedding = n_layers * per_layer + linear(d, d)
    return {
        "name": "bert_base_uncased",
        "title": "BERT-base (uncased)",
        "modality": "text",
        "feature_dim": d,
        "layers": layers,
        # BertModel has no task head: a fine-tuned model adds its own classifier (d·C + C).
        "head": None,
        "lora": {"dim": d, "matrices": ["query", "value"], "layers": list(range(1, 1 + n_layers))},
        "flops_per_request": text_flops(non_embedding, n_layers, d, PROMPT_TOKENS),
    }


def llama2_7b() -> dict[str, Any]:
    """Llama-2-7B (``meta-llama/Llama-2-7b-hf``): vocab 32000, d=4096, 32 layers, FFN 11008, no biases."""
    vocab, d, ffn, n_layers = 32000, 4096, 11008, 32
    per_layer = 4 * linear(d, d, bias=False) + 3 * linear(d, ffn, bias=False) + 2 * norm(d, bias=False)
    layers = [layer("embed_tokens", vocab * d, "token embedding 32000x4096")]
    layers += [
        layer(
            f"layers{i}",
            per_layer,
            "q/k/v/o 4096x4096, gate/up 4096->11008, down 11008->4096 (no biases), 2 RMSNorm",
        )
        for i in range(n_layers)
    ]
    layers.append(layer("norm", norm(d, bias=False), "final RMSNorm"))
    return {
        "name": "llama2_7b",
        "title": "Llama-2-7B",
        "modality": "text",
        "feature_dim": d,
        "layers": layers,
        "head": {
            **layer("lm_head", linear(d, vocab, bias=False), "lm_head 4096->32000, untied, no bias"),
            "classes": vocab,
        },
        "lora": {"dim": d, "matrices": ["q_proj", "v_proj"], "layers": list(range(1, 1 + n_layers))},
        "flops_per_request": text_flops(n_layers * per_layer, n_layers, d, PROMPT_TOKENS),
    }


def build_all() -> list[dict[str, Any]]:
    """Every architecture, checked against its published total."""
    archs = [
        resnet("resnet18", "ResNet-18", False, [2, 2, 2, 2]),
        resnet("resnet50", "ResNet-50", True, [3, 4, 6, 3]),
        vit_b_16(),
        bert_base_uncased(),
        llama2_7b(),
    ]
    out = []
    for arch in archs:
        total = sum(x["params"] for x in arch["layers"]) + (arch["head"]["params"] if arch["head"] else 0)
        if total != PUBLISHED[arch["name"]]:
            raise SystemExit(f"{arch['name']}: computed {total:,} parameters, published {PUBLISHED[arch['name']]:,}")
        out.append(
            {
                "format": "partialloading/zoo-architecture",
                "version": 1,
                **arch,
                "total_params": total,
                "published_params": PUBLISHED[arch["name"]],
            }
        )
    return out


def render(arch: dict[str, Any]) -> str:
    return json.dumps(arch, indent=1) + "\n"


def table(archs: list[dict[str, Any]]) -> str:
    """Markdown table: parameters, layer groups, sizes per precision, GFLOP per request."""
    rows = [
        "| architecture | parameters | layer groups | largest group | fp32 MB | fp16 MB | int8 MB | GFLOP/request |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for a in archs:
        n = a["total_params"]
        largest = max(x["params"] for x in a["layers"])
        rows.append(
            f"| {a['title']} | {n:,} | {len(a['layers'])}{' + head' if a['head'] else ', no head'} | {largest:,} "
            f"| {4 * n / 1e6:,.1f} | {2 * n / 1e6:,.1f} | {n / 1e6:,.1f} | {a['flops_per_request'] / 1e9:,.1f} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the shipped files instead of writing")
    parser.add_argument("--out", type=Path, default=OUT, help=f"output folder (default {OUT})")
    parser.add_argument("--table", action="store_true", help="print a Markdown summary table instead of writing")
    args = parser.parse_args(argv)
    if args.table:
        print(table(build_all()))
        return 0
    stale = []
    for arch in build_all():
        target = args.out / f"{arch['name']}.json"
        text = render(arch)
        if args.check:
            if not target.exists() or target.read_text("utf-8") != text:
                stale.append(target.name)
        else:
            target.write_text(text, "utf-8")
            print(f"{target}: {arch['total_params']:,} parameters in {len(arch['layers'])} layer groups")
    if stale:
        print(f"out of date: {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
