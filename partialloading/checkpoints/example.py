"""A small folder of checkpoints in every layout, to try ``blocks`` on (about 50 MB).

``python -m partialloading.checkpoints.example DIR`` writes a miniature vision transformer and
four models derived from it, each in another layout the toolkit reads:

* ``vit-base/model.safetensors``: the base (6 layers of width 256, float16);
* ``birds.safetensors``, ``cars.safetensors``: task heads (200 and 196 classes) on the frozen base;
* ``ft-top2/``: a fine-tune of the top 2 layers and a new head, sharded in two files with a
  ``model.safetensors.index.json``;
* ``lora-captions/``: a PEFT LoRA adapter (rank 8 on every query projection) on ``vit-base``.

The bytes are random (seeded): only the sharing between the files matters.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

WIDTH = 256
LAYERS = 6


def _base(rng: np.random.Generator) -> dict[str, np.ndarray]:
    def w(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.02).astype(np.float16)

    tensors = {"embeddings.patch.weight": w(WIDTH, 3 * 16 * 16), "embeddings.position": w(197, WIDTH)}
    for i in range(LAYERS):
        p = f"encoder.layer.{i}"
        tensors |= {
            f"{p}.attn.q.weight": w(WIDTH, WIDTH),
            f"{p}.attn.k.weight": w(WIDTH, WIDTH),
            f"{p}.attn.v.weight": w(WIDTH, WIDTH),
            f"{p}.attn.out.weight": w(WIDTH, WIDTH),
            f"{p}.mlp.up.weight": w(4 * WIDTH, WIDTH),
            f"{p}.mlp.down.weight": w(WIDTH, 4 * WIDTH),
        }
    return tensors


def write_example(folder: str | Path, seed: int = 0) -> list[Path]:
    """Write the example checkpoints into ``folder``; returns the five model paths in order."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    base = _base(rng)
    (root / "vit-base").mkdir(exist_ok=True)
    save_file(base, str(root / "vit-base" / "model.safetensors"))
    paths = [root / "vit-base"]
    for name, classes in (("birds", 200), ("cars", 196)):
        head = {"head.weight": rng.standard_normal((classes, WIDTH)).astype(np.float16)}
        save_file(base | head, str(root / f"{name}.safetensors"))
        paths.append(root / f"{name}.safetensors")

    tuned = dict(base)
    for name in base:
        if name.startswith("encoder.layer.") and int(name.split(".")[2]) >= LAYERS - 2:
            tuned[name] = (base[name] + rng.standard_normal(base[name].shape) * 1e-3).astype(np.float16)
    tuned["head.weight"] = rng.standard_normal((10, WIDTH)).astype(np.float16)
    shard_dir = root / "ft-top2"
    shard_dir.mkdir(exist_ok=True)
    names = list(tuned)
    weight_map: dict[str, str] = {}
    for i, part in enumerate((names[: len(names) // 2], names[len(names) // 2 :])):
        file = f"model-{i + 1:05d}-of-00002.safetensors"
        save_file({n: tuned[n] for n in part}, str(shard_dir / file))
        weight_map |= dict.fromkeys(part, file)
    index = {"metadata": {"total_size": sum(t.nbytes for t in tuned.values())}, "weight_map": weight_map}
    (shard_dir / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    paths.append(shard_dir)

    lora_dir = root / "lora-captions"
    lora_dir.mkdir(exist_ok=True)
    lora = {}
    for i in range(LAYERS):
        p = f"base_model.model.encoder.layer.{i}.attn.q"
        lora[f"{p}.lora_A.weight"] = rng.standard_normal((8, WIDTH)).astype(np.float16)
        lora[f"{p}.lora_B.weight"] = np.zeros((WIDTH, 8), dtype=np.float16)
    save_file(lora, str(lora_dir / "adapter_model.safetensors"))
    config = {"base_model_name_or_path": "vit-base", "peft_type": "LORA", "r": 8, "target_modules": ["q"]}
    (lora_dir / "adapter_config.json").write_text(json.dumps(config, indent=2))
    paths.append(lora_dir)
    return paths


if __name__ == "__main__":  # pragma: no cover - exercised through the docs test
    if len(sys.argv) != 2:
        sys.exit("usage: python -m partialloading.checkpoints.example DIR")
    for path in write_example(sys.argv[1]):
        print(path)
