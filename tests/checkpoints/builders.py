"""Small checkpoints written in the tests themselves (``safetensors.numpy.save_file``).

Every tensor is float32 unless a test says otherwise, so a tensor of shape ``(r, c)`` holds
``4 r c`` bytes and the expected block sizes below are simple sums.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

Tensors = dict[str, np.ndarray]


def tensor(seed: int, *shape: int) -> np.ndarray:
    """A float32 tensor whose bytes depend on ``seed`` only."""
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def save(path: Path, tensors: Mapping[str, np.ndarray]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(dict(tensors), str(path))
    return path


def save_sharded(folder: Path, tensors: Mapping[str, np.ndarray], shards: int) -> Path:
    """A Hugging Face sharded folder: ``model-0000i-of-0000n.safetensors`` plus the index."""
    folder.mkdir(parents=True, exist_ok=True)
    names = list(tensors)
    weight_map = {}
    for i in range(shards):
        file = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        part = {n: tensors[n] for n in names[i::shards]}
        save_file(part, str(folder / file))
        weight_map.update(dict.fromkeys(part, file))
    index = {"metadata": {"total_size": sum(t.nbytes for t in tensors.values())}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    return folder


def save_adapter(folder: Path, base: str, tensors: Mapping[str, np.ndarray]) -> Path:
    """A PEFT adapter folder naming ``base`` as its base model."""
    folder.mkdir(parents=True, exist_ok=True)
    config = {"base_model_name_or_path": base, "peft_type": "LORA", "r": 2, "target_modules": ["q"]}
    (folder / "adapter_config.json").write_text(json.dumps(config))
    save_file(dict(tensors), str(folder / "adapter_model.safetensors"))
    return folder


def backbone_tensors() -> Tensors:
    # 4*(4*4) + 4*(8*4) + 4*(10*4) = 64 + 128 + 160 = 352 bytes
    return {"encoder.layer.0.w": tensor(1, 4, 4), "encoder.layer.1.w": tensor(2, 8, 4), "embed.w": tensor(3, 10, 4)}


@pytest.fixture
def make() -> Callable[..., Path]:
    return save
