"""Build the bundled realistic instance ``edge20.json`` (documented in ``README.md`` here).

Run ``python -m partialloading.instances.make_edge20 PATH`` to rewrite the file; the tests check
that the bundled file is exactly what this script produces.
"""

from __future__ import annotations

import sys

import numpy as np

from partialloading.instance import Block, Instance, Model, User
from partialloading.io import dumps_instance

BYTES_PER_PARAM = 4
"""fp32 weights."""

RESNET50_PARAMS = 25_557_032
"""torchvision ``resnet50`` (ImageNet-1k weights), including its 1000-class fc layer."""

VIT_B16_PARAMS = 86_567_656
"""torchvision ``vit_b_16`` (ImageNet-1k weights), including its 1000-class head."""

FEATURES = {"resnet50": 2048, "vit_b16": 768}
"""Width of the feature vector each backbone hands to its classifier head."""

TOTAL_PARAMS = {"resnet50": RESNET50_PARAMS, "vit_b16": VIT_B16_PARAMS}

INFER_TIME_S = {"resnet50": 0.004, "vit_b16": 0.009}
"""Assumed batch-1 inference times on the edge GPU."""

TASKS = (
    ("resnet50", "imagenet", 1000),
    ("resnet50", "food101", 101),
    ("resnet50", "places365", 365),
    ("vit_b16", "imagenet", 1000),
    ("vit_b16", "cub200", 200),
    ("vit_b16", "cars196", 196),
    ("vit_b16", "flowers102", 102),
)
"""(backbone, task, number of classes) of each model: a linear head on a frozen backbone."""

BANDWIDTH_HZ = 2.0e7
LOAD_SPEED_BYTES_PER_S = 6.0e9
DEADLINE_S = 0.3
N_USERS = 20
SEED = 20


def head_params(backbone: str, classes: int) -> int:
    """Parameters of a linear classifier head: ``features·C`` weights plus ``C`` biases."""
    return FEATURES[backbone] * classes + classes


def build() -> Instance:
    """The edge20 instance."""
    blocks = [
        Block(f"{bb}.backbone", float((TOTAL_PARAMS[bb] - head_params(bb, 1000)) * BYTES_PER_PARAM))
        for bb in ("resnet50", "vit_b16")
    ]
    models = []
    for bb, task, classes in TASKS:
        blocks.append(Block(f"{bb}.{task}.head", float(head_params(bb, classes) * BYTES_PER_PARAM)))
        models.append(Model(f"{bb}.{task}", (f"{bb}.backbone", f"{bb}.{task}.head"), INFER_TIME_S[bb]))
    rng = np.random.default_rng(SEED)
    users = []
    for k in range(N_USERS):
        model = models[int(rng.integers(len(models)))].id
        jpeg_kb = int(rng.integers(40, 201))  # a 224×224 JPEG photo: 40–200 kB
        snr_db = float(np.round(rng.uniform(5.0, 25.0), 1))
        users.append(
            User(f"u{k + 1:02d}", model, data_bits=float(jpeg_kb * 8000), deadline_s=DEADLINE_S, snr_db=snr_db)
        )
    return Instance(
        blocks=tuple(blocks),
        models=tuple(models),
        users=tuple(users),
        bandwidth_hz=BANDWIDTH_HZ,
        load_speed_bytes_per_s=LOAD_SPEED_BYTES_PER_S,
        name="edge20",
    )


def main(argv: list[str]) -> int:
    text = dumps_instance(build())
    if argv:
        with open(argv[0], "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
