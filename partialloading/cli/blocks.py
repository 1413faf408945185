"""``partialloading blocks PATH... --out models.json``: the block structure of checkpoints."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from partialloading.checkpoints import (
    CheckpointError,
    ModelCatalog,
    digest_models,
    parse_infer_times,
    partition,
    resolve,
    total_bytes,
    write_models,
)
from partialloading.cli.inspect import print_catalog
from partialloading.output import check_output

HELP = (
    "Hash the tensors of safetensors checkpoints and write the coarsest blocks that lose no sharing "
    "(all tensors held by exactly the same models form one block). Each PATH is one model: a .safetensors "
    "file, a folder with model.safetensors or a *.safetensors.index.json shard index, or a PEFT adapter folder "
    "whose base is another PATH or a local folder."
)


def register(sub: Any) -> None:
    p = sub.add_parser("blocks", help="derive blocks and models from safetensors checkpoints", description=HELP)
    p.add_argument("paths", nargs="+", metavar="PATH", help="checkpoint of one model (file or folder)")
    p.add_argument("--out", "-o", required=True, metavar="FILE", help="model catalog JSON to write")
    p.add_argument(
        "--name", action="append", metavar="ID", help="model id of each PATH in order (default: file or folder name)"
    )
    p.add_argument(
        "--infer-time",
        action="append",
        default=[],
        metavar="[MODEL=]SECONDS",
        help="inference time per request, of every model or of one (repeatable)",
    )
    p.add_argument("--quiet", action="store_true", help="print only the summary line")
    p.set_defaults(run=run)


def check_output_path(out: str, inputs: list[str]) -> None:
    """Refuse an output that cannot be written or would replace a checkpoint, before any work."""
    real = check_output(out)
    for path in inputs:
        if os.path.realpath(path) == str(real):
            raise CheckpointError(out, "", "is one of the checkpoint files: refusing to overwrite it")


def run(args: argparse.Namespace) -> int:
    sources = resolve(args.paths, args.name)
    check_output_path(args.out, [part.path for s in sources for part in s.parts])
    ids = [s.id for s in sources]
    times = parse_infer_times(args.infer_time, ids)
    total = total_bytes(sources)
    from tqdm import tqdm

    with tqdm(
        total=total, unit="B", unit_scale=True, desc="hashing", file=sys.stderr, disable=not sys.stderr.isatty()
    ) as bar:
        catalog: ModelCatalog = partition(digest_models(sources, bar.update)).with_infer_times(times)
    write_models(catalog, args.out)
    sizes = catalog.model_sizes
    stored = float(catalog.block_sizes.sum())
    print(
        f"wrote {args.out}: {len(catalog.models)} models, {len(catalog.blocks)} blocks; "
        f"{sizes.sum() / 1e6:,.1f} MB as separate models, {stored / 1e6:,.1f} MB stored once"
    )
    if not args.quiet:
        print_catalog(catalog, sys.stdout)
    return 0
