"""``partialloading workload FAMILY --rate R --duration S --seed N --out FILE``: generate a workload."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from partialloading.checkpoints import read_models
from partialloading.online import generate_workload, write_workload
from partialloading.online.trace_spec import FUNCTION_KEYS, TRACE_FORMATS, TraceSpec, detect_format
from partialloading.output import check_output
from partialloading.params import parse_assignments
from partialloading.scenarios import CONFIGS, ScenarioError
from partialloading.timing import TIMING_NAMES

TRACE_FAMILY = "backbone"
"""The configuration of a trace replayed on a catalog's models without a family (as ``generate
--models``): its uplink (20 MHz), loading speed (5 GB/s) and radio cell are the defaults every
configured family shares; its own fields only shape models, which the catalog gives."""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "workload",
        help="generate a workload: a server and requests arriving over time",
        description="Requests of a scenario family arriving over time: Poisson or bursty (Gamma inter-arrival "
        "times with a coefficient of variation), uniform or Zipf model popularity, deadlines relative to each "
        "request's isolated latency. Families: " + ", ".join(CONFIGS) + ".",
    )
    p.add_argument(
        "family",
        nargs="?",
        help="scenario family of the server and the users' radio; may be left out for --from-trace with "
        f"--models (then the uplink, loading speed and radio every family shares: {TRACE_FAMILY}'s)",
    )
    p.add_argument("--rate", type=float, metavar="R", help="mean arrivals per second (generated workloads)")
    p.add_argument(
        "--duration",
        type=float,
        metavar="S",
        help="length of the arrival window in seconds (generated: required; a trace: from --start, default to its end)",
    )
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
    p.add_argument(
        "--servers",
        type=int,
        metavar="N",
        help="N edge servers on the cells family's hexagonal grid, each request linked to the sites in reach",
    )
    p.add_argument("--csv", action="store_true", help="requests in a CSV table beside the JSON (default from 10,000)")
    p.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="a parameter of the family, VALUE as in TOML"
    )
    trace = p.add_argument_group("replaying a recorded trace (instead of --rate)")
    trace.add_argument("--from-trace", metavar="FILE", help="a request trace to replay")
    trace.add_argument("--format", choices=TRACE_FORMATS, help="the trace's layout")
    trace.add_argument(
        "--columns",
        metavar="time=COL,model=COL,input=COL,output=COL",
        help="with --format csv: the columns of the time (seconds or date-times), key, prompt and generated tokens",
    )
    trace.add_argument(
        "--map",
        default="auto",
        metavar="auto|rank|zipf:S|hash|FILE",
        help="how trace requests become models (default auto: rank for a trace with keys, hash without)",
    )
    trace.add_argument(
        "--key", default="function", choices=tuple(FUNCTION_KEYS), help="azure-functions: the key (default function)"
    )
    trace.add_argument("--start", type=float, default=0.0, metavar="S", help="seconds of the trace to skip (default 0)")
    trace.add_argument("--speed", type=float, default=1.0, metavar="X", help="replay X times faster (default 1)")
    trace.add_argument(
        "--bits-per-token",
        type=float,
        metavar="B",
        help="input bits per prompt token (default: the family's token_bits)",
    )
    p.set_defaults(run=run)


def _columns(text: str | None) -> dict[str, str]:
    if text is None:
        return {}
    out = {}
    for item in text.split(","):
        name, sep, column = item.partition("=")
        if not sep or not name.strip() or not column.strip():
            raise ScenarioError(f"--columns expects FIELD=COLUMN,... (got {item!r})")
        out[name.strip()] = column.strip()
    return out


def run_trace(args: argparse.Namespace, overrides: dict[str, Any]) -> int:
    """``workload FAMILY --from-trace FILE --format F``: the trace as a workload."""
    if args.rate is not None or args.cv != 1.0 or args.popularity != "uniform":
        raise ScenarioError("--rate, --cv and --popularity generate arrivals: a trace brings its own")
    if not Path(args.from_trace).is_file():
        raise ScenarioError(f"{args.from_trace}: no such trace file")
    if args.format is None and args.columns is None:
        # A published layout is known by its header (read whole lines of the first row only).
        from partialloading.online.trace_readers import read_header

        args.format = detect_format(read_header(args.from_trace))
    if args.format is None:
        raise ScenarioError(
            f"{args.from_trace}: no known trace layout in its header: give --format ({', '.join(TRACE_FORMATS)})"
        )
    from partialloading.online.traces import replay_trace  # pandas, for the replay alone

    spec = TraceSpec(
        path=args.from_trace,
        format=args.format,
        columns=_columns(args.columns),
        key=args.key,
        mapping=args.map,
        start_s=args.start,
        duration_s=args.duration,
        speed=args.speed,
        bits_per_token=args.bits_per_token,
        slo=args.slo,
        spread=args.spread,
        seed=args.seed,
    )
    catalog = read_models(args.models) if args.models is not None else None
    from tqdm import tqdm

    size = os.path.getsize(args.from_trace)
    with tqdm(total=None, unit=" rows", desc="trace", file=sys.stderr, disable=not sys.stderr.isatty()) as bar:

        def advance(rows: int) -> None:
            bar.update(rows - bar.n)

        replay = replay_trace(
            spec,
            args.family,
            args.out,
            catalog=catalog,
            catalog_source=args.models or "",
            timing=args.timing,
            progress=advance,
            **overrides,
        )
    shares = ", ".join(f"{m} {n}" for m, n in replay.per_model.items())
    print(
        f"wrote {', '.join(map(str, replay.written))}: {replay.requests} requests of {replay.rows} trace rows "
        f"({size / 1e6:.1f} MB) over {replay.span_s:.4g} s; per model: {shares}"
    )
    return 0


def run(args: argparse.Namespace) -> int:
    overrides = parse_assignments(args.set, "--set")
    if args.timing not in TIMING_NAMES:
        raise ScenarioError(f"--timing must be one of {', '.join(TIMING_NAMES)} (got {args.timing!r})")
    if args.from_trace is not None:
        if args.family is None and args.models is None:
            raise ScenarioError("--from-trace needs a FAMILY for the server's models, or --models FILE")
        args.family = args.family or TRACE_FAMILY
        return run_trace(args, overrides)
    if args.family is None:
        raise ScenarioError(f"a generated workload needs a FAMILY ({', '.join(CONFIGS)})")
    if args.format is not None or args.columns is not None:
        raise ScenarioError("--format and --columns describe a trace: give it with --from-trace")
    if args.rate is None or args.duration is None:
        raise ScenarioError("a generated workload needs --rate and --duration (or replay a trace with --from-trace)")
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
    out = Path(args.out)
    check_output(out)
    blocks = models = None
    if args.models is not None:
        catalog = read_models(args.models)
        blocks, models = catalog.instance_blocks(), catalog.instance_models(args.models)
    try:
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
            servers=args.servers,
            **overrides,
        )
    except ScenarioError as exc:
        raise ScenarioError(_as_flag(str(exc))) from None
    written = write_workload(workload, out, csv_table=True if args.csv else None)
    n = len(workload.requests)
    print(
        f"wrote {', '.join(map(str, written))}: {n} requests over {args.duration:g} s "
        f"({n / args.duration:.4g}/s), {len(workload.network.models)} models, {len(workload.network.blocks)} blocks"
        + (f", {len(workload.servers)} servers" if len(workload.servers) > 1 else "")
    )
    return 0


_FLAGS = {name: f"--{name}" for name in ("rate", "duration", "cv", "slo", "spread", "seed")}


def _as_flag(message: str) -> str:
    """A refusal of :func:`generate_workload` in the words of the command line: the flag the
    user typed (``--rate must be ...``), not the function's parameter (``rate must be ...``)."""
    name, _, rest = message.partition(" ")
    return f"{_FLAGS[name]} {rest}" if name in _FLAGS and rest.startswith("must") else message
