"""``partialloading demo``: solve a bundled instance with every method and compare them."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from partialloading import instances
from partialloading.cli.common import number
from partialloading.errors import InstanceError, ParameterError, PartialLoadingError
from partialloading.instance import Instance
from partialloading.io import read_instance
from partialloading.methods import METHODS
from partialloading.solve import solve
from partialloading.timing import TIMING_NAMES
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
    p.add_argument(
        "--timing",
        choices=(*TIMING_NAMES, "all"),
        default="all",
        help="timing model(s) to solve under (default all: the instance's own, then the others)",
    )
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
    base = load_instance(args.instance)
    if args.time_limit is not None and not args.time_limit > 0:
        raise ParameterError(f"--time-limit must be positive (got {args.time_limit:g})")
    if args.seed < 0:
        raise ParameterError(f"--seed must be non-negative (got {args.seed})")
    timings = [base.timing, *(t for t in TIMING_NAMES if t != base.timing)] if args.timing == "all" else [args.timing]
    print(
        f"instance {base.name!r}: {base.num_users} users, {base.num_models} models, "
        f"{len(base.blocks)} blocks; time limit {args.time_limit:g}s per method"
    )
    header = (
        f"{'timing':<10} {'method':<10} {'sharing':<8} {'status':<11} {'served':>7} {'objective':>10} {'bound':>7} "
        f"{'runtime s':>10} {'verified':>8}"
    )
    print(header)
    print("-" * len(header))
    rows = [(t, name, sharing) for t in timings for name in METHODS for sharing in (True, False)]
    for timing, name, sharing in rows:
        instance = dataclasses.replace(base, timing=timing)
        flag = "yes" if sharing else "no"
        try:
            result = solve(instance, name, sharing=sharing, time_limit=args.time_limit, seed=args.seed)
        except PartialLoadingError as exc:
            print(f"{timing:<10} {name:<10} {flag:<8} {'n/a':<11} {_short(str(exc))}")
            continue
        bound = "-" if result.bound is None else number(result.bound)
        served = f"{len(result.solution.order)}/{instance.num_users}"
        verified = "yes" if verify_solution(instance, result.to_dict()).ok else "NO"
        print(
            f"{timing:<10} {name:<10} {flag:<8} {result.status.value:<11} {served:>7} {number(result.objective):>10} "
            f"{bound:>7} {result.runtime:>10.3f} {verified:>8}"
        )
        sys.stdout.flush()
    print(
        "frame: the server starts when the last upload has arrived; pipelined: the GPU loads while users upload\n"
        "served: users finishing by their deadline; bound: best proven upper bound ('-': none); "
        "verified: the independent verifier accepts the solution"
    )
    return 0
