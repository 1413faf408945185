"""``partialloading simulate WORKLOAD --policy METHOD...``: serve a workload round by round."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from partialloading.errors import ParameterError
from partialloading.instance import spectral_efficiencies
from partialloading.methods import METHODS
from partialloading.online import (
    Policy,
    Simulation,
    Workload,
    read_workload,
    simulate,
    write_outcomes_csv,
    write_summaries,
)
from partialloading.online.records import write_rounds_csv
from partialloading.online.servers import ROUTERS, simulate_servers
from partialloading.output import check_output
from partialloading.params import make_params, parse_value, read_params_file
from partialloading.timing import TIMING_NAMES
from partialloading.tolerance import meets

NO_SHARING = "/no-sharing"


def register(sub: Any) -> None:
    p = sub.add_parser(
        "simulate",
        help="serve a workload round by round with solve() methods as policies",
        description="Rounds: each plans every pending request with the policy (any method; METHOD/no-sharing "
        "plans and runs without parameter sharing), the plan is verified and runs as its timeline says; "
        "rejected requests stay pending while they can still make it alone, else they are dropped.",
    )
    p.add_argument("workload", help="workload JSON file")
    p.add_argument(
        "--policy", nargs="+", default=["greedy"], metavar="METHOD", help="one or more policies (default greedy)"
    )
    p.add_argument("--no-sharing", action="store_true", help="every policy without parameter sharing")
    p.add_argument(
        "--timing", metavar="|".join(TIMING_NAMES), help="timing model of the rounds (default: the workload's)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the policies and of the random router (default 0)")
    p.add_argument(
        "--router",
        choices=ROUTERS,
        help="with several servers: which server each request goes to (default affinity: the server holding "
        "the most of its model's bytes, then the least pending work; joint: one queue, each round takes what "
        "its server reaches)",
    )
    p.add_argument("--round-cap", type=int, metavar="N", help="at most N pending requests planned per round")
    p.add_argument("--time-limit", type=float, metavar="S", help="planning time limit per round")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="[METHOD.]KEY=VALUE",
        help="a policy parameter, VALUE as in TOML (METHOD. needed with several policies)",
    )
    p.add_argument("--params", metavar="FILE.toml", help="policy parameters: one [METHOD] table each")
    p.add_argument("--requests-out", metavar="FILE.csv", help="one row per request ({policy} in the name with several)")
    p.add_argument(
        "--rounds-out",
        metavar="FILE.csv",
        help="one row per round: bytes loaded, evicted and resident over time ({policy} in the name with several)",
    )
    p.add_argument("--summary-out", metavar="FILE.json", help="the metrics of every policy")
    p.add_argument("--no-verify", action="store_true", help="skip the verifier on each round's plan")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def parse_policies(args: argparse.Namespace) -> list[Policy]:
    """The ``--policy`` values with their parameters, every name and value checked."""
    if args.seed < 0:
        raise ParameterError(f"--seed must be non-negative (got {args.seed})")
    if args.time_limit is not None and not args.time_limit > 0:
        raise ParameterError(f"--time-limit must be positive (got {args.time_limit})")
    specs = []
    for spec in args.policy:
        method, sharing = (spec[: -len(NO_SHARING)], False) if spec.endswith(NO_SHARING) else (spec, True)
        if method not in METHODS:
            raise ParameterError(f"--policy {spec!r}: unknown method (choose from {', '.join(METHODS)})")
        specs.append((method, sharing and not args.no_sharing))
    if len(set(specs)) != len(specs):
        raise ParameterError("--policy: a policy is given twice")
    methods = {m for m, _ in specs}
    assigned: dict[str, dict[str, Any]] = {m: {} for m in methods}
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep:
            raise ParameterError(f"--param {item!r}: expected [METHOD.]KEY=VALUE")
        method, dot, name = key.strip().rpartition(".")
        if not dot:
            if len(methods) != 1:
                raise ParameterError(f"--param {item!r}: name the policy (METHOD.KEY=VALUE) when there are several")
            method = next(iter(methods))
        if method not in assigned:
            raise ParameterError(f"--param {item!r}: {method!r} is not one of the policies")
        assigned[method][name] = parse_value(value.strip())
    policies = []
    for method, sharing in specs:
        values = {} if args.params is None else read_params_file(args.params, method)
        values.update(assigned[method])
        params = make_params(method, values)
        policies.append(Policy(method, params, sharing, args.time_limit, args.seed))
    return policies


def _outputs(args: argparse.Namespace, policies: list[Policy]) -> list[Path]:
    paths = []
    if args.requests_out is not None:
        if len(policies) > 1 and "{policy}" not in args.requests_out:
            raise ParameterError("--requests-out needs {policy} in the file name with several policies")
        paths += [Path(args.requests_out.replace("{policy}", _slug(p))) for p in policies]
    if args.rounds_out is not None:
        if len(policies) > 1 and "{policy}" not in args.rounds_out:
            raise ParameterError("--rounds-out needs {policy} in the file name with several policies")
        paths += [Path(args.rounds_out.replace("{policy}", _slug(p))) for p in policies]
    if args.summary_out is not None:
        paths.append(Path(args.summary_out))
    for path in paths:
        check_output(path, inputs=[args.workload])
    return paths


def _check_servable(path: str, workload: Workload) -> None:
    """Refuse a workload with nothing to serve: no requests, or none that could meet its
    deadline even alone with its model already in GPU memory (upload at full bandwidth, then
    inference)."""
    if not workload.requests:
        raise ParameterError(f"{path}: requests: the workload has no requests")
    model_time = {m.id: float(m.infer_time_s) for m in workload.network.models}
    requests = workload.requests
    bits = np.array([r.data_bits for r in requests], dtype=float)
    infer = np.array([model_time[r.model] if r.infer_time_s is None else r.infer_time_s for r in requests])
    best = np.full(len(requests), np.inf)
    for server in workload.servers:
        # Each request's radio towards this server (its link's, or its own), NaN where it has no link.
        radio = [r.link(server.id) or (r if r.reaches(server.id) else None) for r in requests]
        snr = np.array([np.nan if x is None or x.snr_db is None else x.snr_db for x in radio], dtype=float)
        given = np.array(
            [np.nan if x is None or x.spectral_efficiency is None else x.spectral_efficiency for x in radio]
        )
        eta = np.where(np.isnan(given), spectral_efficiencies(np.nan_to_num(snr)), given)
        eta = np.where(np.isnan(given) & np.isnan(snr), 0.0, eta)
        with np.errstate(divide="ignore"):
            best = np.minimum(best, bits / (eta * float(server.bandwidth_hz)) + infer)
    deadline = np.array([r.relative_deadline_s for r in requests], dtype=float)
    if not np.any(meets(best, deadline)):
        raise ParameterError(
            f"{path}: requests: no request can meet its deadline even alone with its model in GPU memory "
            f"(the closest needs {float(np.min(best - deadline)) * 1e3:.3g} ms more); check "
            "relative_deadline_s, data_bits and the server's bandwidth"
        )


def _slug(policy: Policy) -> str:
    return policy.method if policy.sharing else f"{policy.method}-no-sharing"


def run(args: argparse.Namespace) -> int:
    if args.round_cap is not None and args.round_cap < 1:
        raise ParameterError(f"--round-cap must be at least 1 (got {args.round_cap})")
    if args.timing is not None and args.timing not in TIMING_NAMES:
        raise ParameterError(f"--timing must be one of {', '.join(TIMING_NAMES)} (got {args.timing!r})")
    policies = parse_policies(args)
    _outputs(args, policies)
    workload = read_workload(args.workload)
    several = len(workload.servers) > 1
    if args.router is not None and not several:
        raise ParameterError(f"--router: {args.workload} has one server (routing needs several)")
    _check_servable(args.workload, workload)
    from tqdm import tqdm

    horizon = float(workload.arrivals.max()) if workload.requests else 0.0
    runs: list[Simulation] = []
    for policy in policies:
        with tqdm(
            total=round(horizon, 3),
            unit="s",
            desc=policy.label,
            file=sys.stderr,
            disable=args.quiet or not sys.stderr.isatty(),
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.3f}/{total:.3f} s simulated [{elapsed}<{remaining}]",
        ) as bar:

            def advance(now: float, bar: Any = bar) -> None:
                bar.n = round(min(now, horizon), 3)
                bar.refresh()

            options: dict[str, Any] = {
                "timing": args.timing,
                "round_cap": args.round_cap,
                "verify": not args.no_verify,
                "progress": advance,
            }
            if several:
                runs.append(
                    simulate_servers(workload, policy, router=args.router or "affinity", seed=args.seed, **options)
                )
            else:
                runs.append(simulate(workload, policy, **options))
    # Everything is computed before anything is written.
    if args.requests_out is not None:
        for run_ in runs:
            write_outcomes_csv(run_, args.requests_out.replace("{policy}", _slug(run_.policy)))
    if args.rounds_out is not None:
        for run_ in runs:
            write_rounds_csv(run_, args.rounds_out.replace("{policy}", _slug(run_.policy)))
    if args.summary_out is not None:
        write_summaries(runs, args.summary_out)
    print_table(workload.name, runs)
    return 0


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{1e3 * x:.1f}"


def print_table(name: str, runs: list[Simulation]) -> None:
    """The comparison table of the runs."""
    if not runs:
        return
    s0 = runs[0].summary
    print(f"workload {name!r}: {s0.arrivals} requests, timing {runs[0].timing}")
    header = (
        f"{'policy':<22} {'served':>8} {'on time':>8} {'weight':>9} {'dropped':>8} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'loaded GB':>10} {'reused GB':>10} {'evicted GB':>10} {'GPU busy':>8} {'rounds':>7} "
        f"{'plan ms':>8} {'max ms':>8}"
    )
    print(header)
    for r in runs:
        s = r.summary
        print(
            f"{r.policy.label:<22} {s.served:>8} {s.on_time_fraction:>8.1%} {s.served_weight:>9.6g} {s.dropped:>8} "
            f"{_ms(s.latency_p50_s):>8} {_ms(s.latency_p95_s):>8} {_ms(s.latency_p99_s):>8} "
            f"{s.loaded_bytes / 1e9:>10.3f} {s.reused_bytes / 1e9:>10.3f} {s.evicted_bytes / 1e9:>10.3f} "
            f"{s.gpu_busy_fraction:>8.1%} {s.rounds:>7} "
            f"{_ms(s.planning_time_mean_s):>8} {_ms(s.planning_time_max_s):>8}"
        )
    for r in runs:
        if r.summary.servers is not None:
            print(f"{r.policy.label}, router {r.router}, per server:")
            for srv in r.summary.servers:
                print(
                    f"  {srv.id:<12} served {srv.served:>7}, dropped {srv.dropped:>6}, "
                    f"loaded {srv.loaded_bytes / 1e9:.3f} GB, GPU busy {srv.busy_fraction:.1%}, {srv.rounds} rounds"
                )
    batched = [r for r in runs if r.summary.mean_batch_size is not None]
    if batched:
        parts = [
            f"{r.policy.label} {r.summary.mean_batch_size or 0.0:.2f} per batch, "
            f"{r.summary.gpu_seconds_saved or 0.0:.3f} GPU s saved"
            for r in batched
        ]
        print("batches (against one request at a time): " + "; ".join(parts))
