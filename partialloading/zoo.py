"""Model zoo: real architectures as parameter blocks, and fine-tuned families built on them.

The per-layer parameter counts of ResNet-18, ResNet-50, ViT-B/16, BERT-base (uncased) and a
Llama-2-7B-shaped decoder ship as JSON in ``partialloading.instances`` (folder ``zoo``), computed
from the architecture definitions by ``tools/zoo_layers.py``; their totals equal the published
figures (see ``instances/zoo/README.md`` for provenance). One *layer group* (stem, residual
block, encoder/decoder layer, embeddings, final norm, head) becomes one :class:`Block`.

Three kinds of fine-tuned families turn an architecture into models that share blocks:

* :func:`heads_family` — task heads on a frozen backbone (backbone sharing);
* :func:`freeze_family` — "freeze the bottom ``k`` layer groups" variants with different ``k``
  (sharing at varying depth: the general case);
* :func:`lora_family` — LoRA adapters on a shared base model.

Example::

    from partialloading import zoo

    vit = zoo.load("vit_b_16")
    family = zoo.heads_family(vit, classes=[10, 100, 200], precision="fp16", infer_time_s=0.002)
    family.models[0].blocks   # 14 shared backbone blocks + the model's own head
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

from .errors import PartialLoadingError
from .instance import Block, Model

PRECISION_BYTES: dict[str, int] = {"fp32": 4, "fp16": 2, "int8": 1}
"""Bytes per parameter of each precision (int8 ignores the few per-channel scales)."""

Modality = Literal["image", "text"]


class ZooError(PartialLoadingError, ValueError):
    """A zoo request that cannot be met (unknown architecture, bad depth, rank or precision)."""


@dataclass(frozen=True)
class Layer:
    """One layer group of an architecture.

    Parameters
    ----------
    id
        Name of the group (e.g. ``"layer3.1"``, ``"encoder.layer5"``, ``"embeddings"``).
    params
        Number of parameters.
    detail
        What the group contains (the formula's terms).
    """

    id: str
    params: int
    detail: str = ""


@dataclass(frozen=True)
class Architecture:
    """A real architecture as a sequence of layer groups.

    Parameters
    ----------
    name
        Zoo name (``"resnet18"``, ``"resnet50"``, ``"vit_b_16"``, ``"bert_base_uncased"``, ``"llama2_7b"``).
    title
        Human-readable name.
    modality
        ``"image"`` (input: a 224×224 RGB image) or ``"text"`` (input: a token prompt).
    feature_dim
        Width ``d`` of the features a task head reads (head params ``d·C + C`` for ``C`` classes).
    layers
        The backbone's layer groups, input to output.
    head
        The published model's own output layer (ImageNet classifier, LM head), or ``None`` when
        the published model has none (BERT's ``BertModel``).
    head_classes
        Output width of :attr:`head` (0 without a head).
    lora_dim
        Width ``d`` of the square attention matrices LoRA adapts (``None``: not a transformer).
    lora_matrices
        Names of the adapted matrices in each adaptable layer (query and value, as in Hu et al. 2021).
    lora_layers
        Indices into :attr:`layers` of the layers that carry those matrices.
    flops_per_request
        Forward FLOPs of one request (image: 2 × torchvision's multiply-accumulate count; text: a
        512-token prompt, Kaplan et al. 2020's ``2N + 2·n_layer·n_ctx·d`` per token).
    published_params
        The published total parameter count.
    """

    name: str
    title: str
    modality: Modality
    feature_dim: int
    layers: tuple[Layer, ...]
    head: Layer | None
    head_classes: int
    lora_dim: int | None
    lora_matrices: tuple[str, ...]
    lora_layers: tuple[int, ...]
    flops_per_request: float
    published_params: int

    @property
    def total_params(self) -> int:
        """Sum of the per-layer counts (backbone and head)."""
        return sum(x.params for x in self.layers) + (self.head.params if self.head else 0)

    @property
    def depth(self) -> int:
        """Number of backbone layer groups."""
        return len(self.layers)

    def head_params(self, classes: int) -> int:
        """Parameters of a new linear task head with ``classes`` outputs: ``d·C + C``."""
        if classes < 1:
            raise ZooError(f"a task head needs at least one class (got {classes})")
        return self.feature_dim * classes + classes


def names() -> tuple[str, ...]:
    """Names of the architectures in the zoo."""
    root = resources.files("partialloading.instances").joinpath("zoo")
    return tuple(sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".json")))


@cache
def load(name: str) -> Architecture:
    """Read the architecture ``name`` from the shipped per-layer data."""
    if name not in names():
        raise ZooError(f"unknown architecture {name!r} (zoo: {', '.join(names())})")
    text = resources.files("partialloading.instances").joinpath("zoo", f"{name}.json").read_text("utf-8")
    data = json.loads(text)
    head = data["head"]
    lora = data["lora"]
    return Architecture(
        name=data["name"],
        title=data["title"],
        modality=data["modality"],
        feature_dim=int(data["feature_dim"]),
        layers=tuple(Layer(x["id"], int(x["params"]), x.get("detail", "")) for x in data["layers"]),
        head=None if head is None else Layer(head["id"], int(head["params"]), head.get("detail", "")),
        head_classes=0 if head is None else int(head["classes"]),
        lora_dim=None if lora is None else int(lora["dim"]),
        lora_matrices=() if lora is None else tuple(lora["matrices"]),
        lora_layers=() if lora is None else tuple(int(i) for i in lora["layers"]),
        flops_per_request=float(data["flops_per_request"]),
        published_params=int(data["published_params"]),
    )


def param_bytes(params: int, precision: str) -> float:
    """Size in bytes of ``params`` parameters stored in ``precision``."""
    if precision not in PRECISION_BYTES:
        raise ZooError(f"unknown precision {precision!r} (choose from {', '.join(PRECISION_BYTES)})")
    return float(params * PRECISION_BYTES[precision])


@dataclass(frozen=True)
class Family:
    """Blocks and models of a fine-tuned family (ready to put into an :class:`~partialloading.Instance`).

    Parameters
    ----------
    blocks
        Every block the models use, each listed once.
    models
        The family's models.
    """

    blocks: tuple[Block, ...]
    models: tuple[Model, ...]

    def __add__(self, other: Family) -> Family:
        """Both families side by side (their ids must differ: give them different prefixes)."""
        return Family(self.blocks + other.blocks, self.models + other.models)


def _arch(arch: Architecture | str) -> Architecture:
    return load(arch) if isinstance(arch, str) else arch


def _base_blocks(arch: Architecture, prefix: str, precision: str) -> list[Block]:
    return [Block(f"{prefix}.{x.id}", param_bytes(x.params, precision)) for x in arch.layers]


def heads_family(
    arch: Architecture | str,
    classes: Sequence[int],
    *,
    precision: str = "fp16",
    prefix: str | None = None,
    infer_time_s: float = 0.0,
) -> Family:
    """Task heads on one frozen backbone: backbone sharing.

    Every model is the whole backbone (every layer group, shared by all models) plus its own
    linear head with ``classes[j]`` outputs (``d·C + C`` parameters).

    Parameters
    ----------
    arch
        The architecture (or its zoo name).
    classes
        Number of classes of each task; one model per entry.
    precision
        ``"fp32"``, ``"fp16"`` or ``"int8"``.
    prefix
        Prefix of every block and model id (default: the architecture's name).
    infer_time_s
        Inference time of every model.
    """
    arch = _arch(arch)
    prefix = prefix or arch.name
    backbone = _base_blocks(arch, prefix, precision)
    blocks = list(backbone)
    models = []
    for j, c in enumerate(classes):
        head = Block(f"{prefix}.task{j}.head", param_bytes(arch.head_params(int(c)), precision))
        blocks.append(head)
        models.append(Model(f"{prefix}.task{j}", (*tuple(b.id for b in backbone), head.id), infer_time_s))
    return Family(tuple(blocks), tuple(models))


def freeze_family(
    arch: Architecture | str,
    freeze_depths: Sequence[int],
    *,
    classes: Sequence[int] | None = None,
    include_base: bool = True,
    precision: str = "fp16",
    prefix: str | None = None,
    infer_time_s: float = 0.0,
) -> Family:
    """Fine-tunes that froze the bottom ``k`` layer groups, for several ``k``: general sharing.

    Model ``j`` shares the base model's layer groups ``0 … k_j − 1`` and owns fine-tuned copies of
    the groups ``k_j …`` plus its own task head. Two variants therefore share the bottom
    ``min(k_j, k_j')`` groups: sharing at varying depth, not a backbone structure.

    Parameters
    ----------
    arch
        The architecture (or its zoo name).
    freeze_depths
        ``k_j`` for each variant, ``0 ≤ k_j ≤`` :attr:`Architecture.depth` (0: fully fine-tuned;
        ``depth``: only the head is new).
    classes
        Classes of each variant's head (default: the published head's width; for BERT, 2).
    include_base
        Also include the published model itself (all base groups and its own head, when it has one).
    precision, prefix, infer_time_s
        As in :func:`heads_family`.
    """
    arch = _arch(arch)
    prefix = prefix or arch.name
    base = _base_blocks(arch, prefix, precision)
    blocks = list(base)
    models = []
    if include_base:
        own = []
        if arch.head is not None:
            own = [Block(f"{prefix}.{arch.head.id}", param_bytes(arch.head.params, precision))]
            blocks += own
        models.append(Model(f"{prefix}.base", tuple(b.id for b in base + own), infer_time_s))
    if classes is not None and len(classes) != len(freeze_depths):
        raise ZooError(f"give one class count per variant ({len(freeze_depths)} variants, {len(classes)} counts)")
    for j, k in enumerate(freeze_depths):
        if not 0 <= k <= arch.depth:
            raise ZooError(f"freeze depth must be in 0..{arch.depth} for {arch.name} (got {k})")
        c = int(classes[j]) if classes is not None else (arch.head_classes or 2)
        copies = [Block(f"{prefix}.ft{j}.{x.id}", param_bytes(x.params, precision)) for x in arch.layers[int(k) :]]
        head = Block(f"{prefix}.ft{j}.head", param_bytes(arch.head_params(c), precision))
        blocks += [*copies, head]
        ids = (*tuple(b.id for b in base[: int(k)] + copies), head.id)
        models.append(Model(f"{prefix}.freeze{j}", ids, infer_time_s))
    return Family(tuple(blocks), tuple(models))


def lora_family(
    arch: Architecture | str,
    n_adapters: int,
    *,
    rank: int = 16,
    layers: Sequence[int] | None = None,
    include_base: bool = False,
    precision: str = "fp16",
    prefix: str | None = None,
    infer_time_s: float = 0.0,
) -> Family:
    """LoRA adapters on a shared base model.

    Every model is the whole base model (shared) plus one adapter block per adapted layer group,
    holding ``A ∈ R^{r×d}`` and ``B ∈ R^{d×r}`` for each adapted matrix: ``2·r·d`` parameters per
    matrix. The base is shared by all models and each adapter block owned by one: backbone sharing.

    Parameters
    ----------
    arch
        A transformer of the zoo (``vit_b_16``, ``bert_base_uncased``, ``llama2_7b``) or its name.
    n_adapters
        Number of adapter models.
    rank
        LoRA rank ``r``.
    layers
        Indices (into :attr:`Architecture.layers`) of the adapted layer groups (default: every
        attention layer).
    include_base
        Also include the base model without adapters.
    precision, prefix, infer_time_s
        As in :func:`heads_family`.
    """
    arch = _arch(arch)
    if arch.lora_dim is None:
        raise ZooError(f"{arch.name} has no attention matrices to adapt (LoRA families need a transformer)")
    if rank < 1:
        raise ZooError(f"LoRA rank must be at least 1 (got {rank})")
    chosen = tuple(arch.lora_layers if layers is None else layers)
    bad = [i for i in chosen if i not in arch.lora_layers]
    if bad or not chosen or len(set(chosen)) != len(chosen):
        raise ZooError(f"adapted layers must be distinct indices among {list(arch.lora_layers)} (got {list(chosen)})")
    prefix = prefix or arch.name
    base = list(_base_blocks(arch, prefix, precision))
    if arch.head is not None:
        base.append(Block(f"{prefix}.{arch.head.id}", param_bytes(arch.head.params, precision)))
    base_ids = tuple(b.id for b in base)
    blocks = list(base)
    models = [Model(f"{prefix}.base", base_ids, infer_time_s)] if include_base else []
    per_layer = len(arch.lora_matrices) * 2 * rank * arch.lora_dim
    for j in range(n_adapters):
        own = [Block(f"{prefix}.lora{j}.{arch.layers[i].id}", param_bytes(per_layer, precision)) for i in chosen]
        blocks += own
        models.append(Model(f"{prefix}.lora{j}", base_ids + tuple(b.id for b in own), infer_time_s))
    return Family(tuple(blocks), tuple(models))
