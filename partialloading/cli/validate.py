"""``partialloading validate FILE``: check an instance file."""

from __future__ import annotations

import argparse
from typing import Any

from partialloading.cli.common import instance_path
from partialloading.io import read_instance


def register(sub: Any) -> None:
    p = sub.add_parser("validate", help="check an instance file (exit 0 if valid, 2 if not)")
    p.add_argument("file", help="instance JSON file")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    args.file = instance_path(args.file)
    inst = read_instance(args.file)
    print(
        f"{args.file}: valid instance {inst.name!r}: {len(inst.blocks)} blocks, "
        f"{inst.num_models} models, {inst.num_users} users"
    )
    return 0
