"""``partialloading demo``: solve a bundled instance with every method and compare them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from partialloading import instances
from partialloading.errors import InstanceError, PartialLoadingError
from partialloading.instance import Instance
from partialloading.io import read_instance
from partialloading.solve import METHODS, solve
from partialloading.validation.verify import verify_solution

DEFAULT_INSTANCE = "edge20"
DEFAULT_TIME_LIMIT = 5.0


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="solve a bundled instance with every method, with and without sharing")
    p.add_argument(
        "--instance",
        default=DEFAULT_INSTANCE,
        metavar="NAME|FILE",
        help=f"bundled instance name ({', '.join(instances.names())}) or a JSON file (default: {DEFAULT_INSTANCE})",
    )
    p.add_argument(
        "--time-limit",
        type=float,
        default=DEFAULT_TIME_LIMIT,
        metavar="SECONDS",
        help=f"wall-clock limit per method (default {DEFAULT_TIME_LIMIT:g})",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of randomized methods (default 0)")
    p.set_defaults(run=run)


def load_instance(name_or_file: str) -> Instance:
    """A bundled instance by name, else an instance file."""
    if name_or_file in instances.names():
        return instances.load(name_or_file)
    if Path(name_or_file).suffix == ".json" or Path(name_or_file).exists():
        return read_instance(name_or_file)
    raise InstanceError("", f"no bundled instance or file {name_or_file!r} (bundled: {', '.join(instances.names())})")


def _short(reason: str, width: int = 64) -> str:
    # The first clause says why; advice after a semicolon does not fit in a table row.
    reason = reason.split("; ")[0]
    return reason if len(reason) <= width else reason[: width - 3] + "..."


def run(args: argparse.Namespace) -> int:
    instance = load_instance(args.instance)
    print(
        f"instance {instance.name!r}: {instance.num_users} users, {instance.num_models} models, "
        f"{len(instance.blocks)} blocks; time limit {args.time_limit:g}s per method"
    )
    header = (
        f"{'method':<10} {'sharing':<8} {'status':<11} {'served':>7} {'objective':>10} {'bound':>7} "
        f"{'runtime s':>10} {'verified':>8}"
    )
    print(header)
    print("-" * len(header))
    for name in METHODS:
        for sharing in (True, False):
            flag = "yes" if sharing else "no"
            try:
                result = solve(instance, name, sharing=sharing, time_limit=args.time_limit, seed=args.seed)
            except PartialLoadingError as exc:
                print(f"{name:<10} {flag:<8} {'n/a':<11} {_short(str(exc))}")
                continue
            bound = "-" if result.bound is None else f"{result.bound:g}"
            served = f"{len(result.solution.order)}/{instance.num_users}"
            verified = "yes" if verify_solution(instance, result.to_dict()).ok else "NO"
            print(
                f"{name:<10} {flag:<8} {result.status.value:<11} {served:>7} {result.objective:>10g} "
                f"{bound:>7} {result.runtime:>10.3f} {verified:>8}"
            )
            sys.stdout.flush()
    print(
        "served: users finishing by their deadline; bound: best proven upper bound ('-': none); "
        "verified: the independent verifier accepts the solution"
    )
    return 0
