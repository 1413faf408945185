"""``partialloading calibrate PATH...``: measure the loading speed for an instance file."""

from __future__ import annotations

import argparse
import json
from typing import Any

from partialloading.checkpoints import calibrate


def register(sub: Any) -> None:
    p = sub.add_parser(
        "calibrate",
        help="measure checkpoint read and host-to-GPU copy throughput; suggest load_speed_bytes_per_s",
        description="Read the checkpoint files (warm page cache, then with the cached pages dropped) and, "
        "with PyTorch and a CUDA GPU, time a pinned host-to-GPU copy; print the load speed to put in the "
        "instance's server.load_speed_bytes_per_s, with the figures behind it.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="checkpoint files or folders")
    p.add_argument("--repeats", type=int, default=3, metavar="N", help="timed passes, the best counts (default 3)")
    p.add_argument(
        "--source", default="warm", metavar="warm|cold", help="read figure the suggestion uses (default warm)"
    )
    p.add_argument("--no-gpu", action="store_true", help="skip the host-to-GPU measurement")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    result = calibrate(args.paths, repeats=args.repeats, source=args.source, gpu=not args.no_gpu)
    if args.json:
        doc = {
            "files": list(result.files),
            "total_bytes": result.total_bytes,
            "warm_read_bytes_per_s": result.warm_read,
            "cold_read_bytes_per_s": result.cold_read,
            "host_to_gpu_bytes_per_s": result.host_to_gpu,
            "source": result.source,
            "load_speed_bytes_per_s": result.load_speed_bytes_per_s,
            "notes": list(result.notes),
        }
        print(json.dumps(doc, indent=2))
        return 0

    def rate(value: float | None) -> str:
        return "not measured" if value is None else f"{value / 1e9:.3f} GB/s"

    print(f"{len(result.files)} file(s), {result.total_bytes / 1e6:,.1f} MB, best of {args.repeats}")
    print(f"  read, warm page cache : {rate(result.warm_read)}")
    print(f"  read, pages dropped   : {rate(result.cold_read)}")
    print(f"  host-to-GPU copy      : {rate(result.host_to_gpu)}")
    for note in result.notes:
        print(f"  note: {note}")
    stages = f"{result.source} read" + (" then copy" if result.host_to_gpu is not None else "")
    print(f"load_speed_bytes_per_s = {result.load_speed_bytes_per_s:.6g}   ({stages})")
    return 0
