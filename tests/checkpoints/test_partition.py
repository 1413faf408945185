"""The derived blocks of hand-built checkpoints, asserted exactly (sizes in bytes)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from partialloading.checkpoints import CheckpointError, derive, read_models, write_models
from partialloading.checkpoints.safetensors_file import digest_tensors

from builders import backbone_tensors, save, save_adapter, save_sharded, tensor


def partition_of(catalog) -> dict[frozenset[str], float]:
    """Block size by the set of models holding the block."""
    member = catalog.membership
    ids = [m.id for m in catalog.models]
    out: dict[frozenset[str], float] = {}
    for b, block in enumerate(catalog.blocks):
        owners = frozenset(ids[m] for m in np.flatnonzero(member[:, b]))
        assert owners not in out, "two blocks with one model set: not the coarsest partition"
        out[owners] = block.size_bytes
    return out


def test_backbone_with_heads(tmp_path: Path) -> None:
    bb = backbone_tensors()  # 352 bytes
    birds = save(
        tmp_path / "birds.safetensors", {**bb, "classifier.weight": tensor(10, 3, 4), "classifier.bias": tensor(11, 3)}
    )
    cars = save(
        tmp_path / "cars.safetensors", {**bb, "classifier.weight": tensor(20, 5, 4), "classifier.bias": tensor(21, 5)}
    )
    catalog = derive([birds, cars])
    assert [m.id for m in catalog.models] == ["birds", "cars"]
    # The backbone is one block, each head another: 48 + 12 and 80 + 20 bytes.
    assert [(b.id, b.size_bytes, b.tensors) for b in catalog.blocks] == [
        ("shared/embed+encoder[3]", 352.0, 3),
        ("birds/classifier[2]", 60.0, 2),
        ("cars/classifier[2]", 100.0, 2),
    ]
    assert catalog.models[0].blocks == ("shared/embed+encoder[3]", "birds/classifier[2]")
    assert catalog.model_sizes.tolist() == [412.0, 452.0]
    assert catalog.models[0].source == str(birds)


def test_freeze_k_fine_tunes(tmp_path: Path) -> None:
    # Base: four 4x4 layers (64 bytes each) and a 2x4 head (32 bytes). Fine-tune ft_k keeps the
    # bottom k layers of the base and retrains the rest and the head.
    layers = {f"layers.{i}.w": tensor(i, 4, 4) for i in range(4)}
    paths = [save(tmp_path / "base.safetensors", {**layers, "head.w": tensor(9, 2, 4)})]
    for k in (1, 2, 3):
        tuned = {n: (t if i < k else t + np.float32(k)) for i, (n, t) in enumerate(layers.items())}
        paths.append(save(tmp_path / f"ft{k}.safetensors", {**tuned, "head.w": tensor(100 + k, 2, 4)}))
    catalog = derive(paths)
    f = frozenset
    assert partition_of(catalog) == {
        f({"base", "ft1", "ft2", "ft3"}): 64.0,  # layer 0
        f({"base", "ft2", "ft3"}): 64.0,  # layer 1
        f({"base", "ft3"}): 64.0,  # layer 2
        f({"base"}): 96.0,  # layer 3 and the head
        f({"ft1"}): 64.0 * 3 + 32,
        f({"ft2"}): 64.0 * 2 + 32,
        f({"ft3"}): 64.0 + 32,
    }
    assert catalog.blocks[0].id == "shared/layers.0.w[1]"
    assert catalog.model_sizes.tolist() == [288.0] * 4


def test_byte_identical_duplicates_are_one_block(tmp_path: Path) -> None:
    a = save(tmp_path / "a.safetensors", backbone_tensors())
    b = tmp_path / "b.safetensors"
    shutil.copyfile(a, b)
    catalog = derive([a, b])
    assert [(blk.id, blk.size_bytes) for blk in catalog.blocks] == [("shared/embed+encoder[3]", 352.0)]
    assert catalog.models[0].blocks == catalog.models[1].blocks


def test_renamed_tensors_with_the_same_bytes_are_shared(tmp_path: Path) -> None:
    a = save(tmp_path / "a.safetensors", {"x.w": tensor(1, 4, 4)})
    b = save(tmp_path / "b.safetensors", {"y.w": tensor(1, 4, 4)})
    catalog = derive([a, b])
    assert [(blk.id, blk.size_bytes) for blk in catalog.blocks] == [("shared/x.w[1]", 64.0)]


def test_same_bytes_other_shape_are_not_shared(tmp_path: Path) -> None:
    t = tensor(1, 4, 4)
    a = save(tmp_path / "a.safetensors", {"w": t})
    b = save(tmp_path / "b.safetensors", {"w": t.reshape(2, 8)})
    assert partition_of(derive([a, b])) == {frozenset({"a"}): 64.0, frozenset({"b"}): 64.0}


def test_repeated_tensor_within_a_model_counts_twice(tmp_path: Path) -> None:
    # "tied" holds the same 64 bytes under two names; "single" holds them once: one copy is
    # shared, the second copy is tied's own, and each model's size is the sum of its tensors.
    t = tensor(5, 4, 4)
    tied = save(tmp_path / "tied.safetensors", {"embed.w": t, "lm_head.w": t.copy()})
    single = save(tmp_path / "single.safetensors", {"embed.w": t})
    catalog = derive([tied, single])
    assert partition_of(catalog) == {frozenset({"tied", "single"}): 64.0, frozenset({"tied"}): 64.0}
    assert catalog.model_sizes.tolist() == [128.0, 64.0]


def test_sharded_folder_equals_the_single_file(tmp_path: Path) -> None:
    tensors = {**backbone_tensors(), "head.w": tensor(7, 2, 4)}
    single = save(tmp_path / "one" / "model.safetensors", tensors).parent
    sharded = save_sharded(tmp_path / "sharded", tensors, shards=3)
    catalog = derive([single, sharded])
    assert [m.id for m in catalog.models] == ["one", "sharded"]
    assert partition_of(catalog) == {frozenset({"one", "sharded"}): 352.0 + 32}


def test_sharded_folder_reads_only_what_the_index_maps(tmp_path: Path) -> None:
    folder = save_sharded(tmp_path / "m", backbone_tensors(), shards=2)
    # A tensor in a shard that the index does not name is not part of the model.
    shard = folder / "model-00001-of-00002.safetensors"
    extra = {**{n: t for n, t in backbone_tensors().items() if n in ("encoder.layer.0.w", "embed.w")}}
    save(shard, {**extra, "stray.w": tensor(99, 4, 4)})
    catalog = derive([folder])
    assert catalog.model_sizes.tolist() == [352.0]


def test_peft_adapters_on_a_base(tmp_path: Path) -> None:
    base = save(tmp_path / "llama" / "model.safetensors", backbone_tensors()).parent
    # One adapter names its base by path, the other by model id; 2x4 and 4x2 LoRA factors.
    lora = {"base_model.model.q.lora_A.weight": tensor(30, 2, 4), "base_model.model.q.lora_B.weight": tensor(31, 4, 2)}
    a1 = save_adapter(tmp_path / "a1", str(base), lora)
    a2 = save_adapter(tmp_path / "a2", "llama", {k: v + 1 for k, v in lora.items()})
    catalog = derive([base, a1, a2])
    assert [(b.id, b.size_bytes) for b in catalog.blocks] == [
        ("shared/embed+encoder[3]", 352.0),
        ("a1/base_model.model.q[2]", 64.0),
        ("a2/base_model.model.q[2]", 64.0),
    ]
    assert catalog.model_sizes.tolist() == [352.0, 416.0, 416.0]


def test_peft_base_found_as_a_local_folder(tmp_path: Path) -> None:
    base = save(tmp_path / "hub" / "org" / "base" / "model.safetensors", backbone_tensors()).parent
    a1 = save_adapter(tmp_path / "a1", str(base), {"lora.w": tensor(1, 2, 2)})
    a2 = save_adapter(tmp_path / "a2", str(base), {"lora.w": tensor(2, 2, 2)})
    catalog = derive([a1, a2])
    # The base is not a model of its own, but its tensors are both adapters' shared block.
    assert partition_of(catalog) == {frozenset({"a1", "a2"}): 352.0, frozenset({"a1"}): 16.0, frozenset({"a2"}): 16.0}


def test_ids_are_stable_and_names_override(tmp_path: Path) -> None:
    a = save(tmp_path / "a.safetensors", backbone_tensors())
    b = save(tmp_path / "b.safetensors", {**backbone_tensors(), "head": tensor(4, 2)})
    first, second = derive([a, b]), derive([a, b])
    assert first == second
    named = derive([a, b], names=["alpha", "beta"])
    assert [m.id for m in named.models] == ["alpha", "beta"]
    assert [blk.id for blk in named.blocks] == ["shared/embed+encoder[3]", "beta/head[1]"]


def test_catalog_round_trips_through_its_file(tmp_path: Path) -> None:
    a = save(tmp_path / "a.safetensors", backbone_tensors())
    b = save(tmp_path / "b.safetensors", {**backbone_tensors(), "head": tensor(4, 2)})
    catalog = derive([a, b]).with_infer_times({"a": 0.01, "b": 0.02})
    write_models(catalog, tmp_path / "models.json")
    assert read_models(tmp_path / "models.json") == catalog


def test_streaming_reads_tensors_larger_than_the_buffer(tmp_path: Path) -> None:
    # A 40 KB tensor through a 4 KB buffer gives the digest of the whole tensor.
    import xxhash

    big = tensor(1, 100, 100)
    path = save(tmp_path / "big.safetensors", {"w": big, "v": tensor(2, 3)})
    digests = {d.name: d for d in digest_tensors(str(path), buffer=bytearray(4096))}
    assert digests["w"].digest == xxhash.xxh3_128(big.tobytes()).hexdigest()
    assert digests["w"].nbytes == 40_000


def test_a_model_with_no_tensors_is_refused(tmp_path: Path) -> None:
    empty = save(tmp_path / "empty.safetensors", {})
    with pytest.raises(CheckpointError, match=r"empty\.safetensors: holds no tensors"):
        derive([empty])
