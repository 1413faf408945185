"""``partialloading workload FAMILY --rate R --duration S --seed N --out FILE``: generate a workload."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from partialloading.checkpoints import read_models
from partialloading.online import generate_workload, write_workload
from partialloading.output import check_output
from partialloading.params import parse_assignments
from partialloading.scenarios import CONFIGS, ScenarioError
from partialloading.timing import TIMING_NAMES


def register(sub: Any) -> None:
    p = sub.add_parser(
        "workload",
        help="generate a workload: a server and requests arriving over time",
        description="Requests of a scenario family arriving over time: Poisson or bursty (Gamma inter-arrival "
        "times with a coefficient of variation), uniform or Zipf model popularity, deadlines relative to each "
        "request's isolated latency. Families: " + ", ".join(CONFIGS) + ".",
    )
    p.add_argument("family", help="scenario family of the server and the users' radio")
    p.add_argument("--rate", type=float, required=True, metavar="R", help="mean arrivals per second")
    p.add_argument("--duration", type=float, required=True, metavar="S", help="length of the arrival window in seconds")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--out", "-o", required=True, metavar="FILE", help="workload JSON to write")
    p.add_argument("--cv", type=float, default=1.0, help="coefficient of variation of inter-arrival times (1: Poisson)")
    p.add_argument(
        "--popularity", default="uniform", metavar="uniform|zipf:S", help="model popularity (default uniform)"
    )
    p.add_argument("--slo", type=float, default=3.0, help="relative deadline in isolated latencies (default 3)")
    p.add_argument("--spread", type=float, default=0.5, help="deadline factor uniform in [1-x, 1+x] (default 0.5)")
    p.add_argument("--timing", default="frame", metavar="|".join(TIMING_NAMES), help="timing model (default frame)")
    p.add_argument(
        "--models", metavar="FILE", help="model catalog (the output of `blocks`) instead of the family's models"
    )
    p.add_argument("--csv", action="store_true", help="requests in a CSV table beside the JSON (default from 10,000)")
    p.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="a parameter of the family, VALUE as in TOML"
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    overrides = parse_assignments(args.set, "--set")
    kind, _, exponent = args.popularity.partition(":")
    if kind == "uniform" and not exponent:
        overrides.setdefault("popularity_zipf", 0.0)
    elif kind == "zipf":
        try:
            overrides["popularity_zipf"] = float(exponent)
        except ValueError:
            raise ScenarioError(f"--popularity zipf:S needs a number S (got {args.popularity!r})") from None
    else:
        raise ScenarioError(f"--popularity must be uniform or zipf:S (got {args.popularity!r})")
    if args.timing not in TIMING_NAMES:
        raise ScenarioError(f"--timing must be one of {', '.join(TIMING_NAMES)} (got {args.timing!r})")
    out = Path(args.out)
    check_output(out)
    blocks = models = None
    if args.models is not None:
        catalog = read_models(args.models)
        blocks, models = catalog.instance_blocks(), catalog.instance_models(args.models)
    workload = generate_workload(
        args.family,
        args.rate,
        args.duration,
        args.seed,
        cv=args.cv,
        slo=args.slo,
        spread=args.spread,
        blocks=blocks,
        models=models,
        timing=args.timing,
        **overrides,
    )
    written = write_workload(workload, out, csv_table=True if args.csv else None)
    n = len(workload.requests)
    print(
        f"wrote {', '.join(map(str, written))}: {n} requests over {args.duration:g} s "
        f"({n / args.duration:.4g}/s), {workload.server.num_models} models, {len(workload.server.blocks)} blocks"
    )
    return 0
