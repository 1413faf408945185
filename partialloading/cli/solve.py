"""``partialloading solve FILE``: solve an instance and print (or write) the solution."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO, TypeVar

from partialloading.cli.common import instance_path, number
from partialloading.errors import MethodNotApplicableError, ParameterError
from partialloading.instance import Instance
from partialloading.io import read_problem
from partialloading.memory import memory_of
from partialloading.methods import METHOD_NAMES, METHODS
from partialloading.network import Network
from partialloading.output import check_output
from partialloading.params import parse_assignments, read_params_file
from partialloading.plot import printable
from partialloading.portfolio import initial_indices
from partialloading.progress import showing
from partialloading.result import Reporting, Result, Status
from partialloading.servers import NetworkResult
from partialloading.solution import Solution
from partialloading.solution_io import batch_numbers, read_solution
from partialloading.solve import solve
from partialloading.stop import interrupted, interruptible
from partialloading.timing import TIMING_NAMES
from partialloading.tolerance import reaches

WRITE_RESERVE_S = 0.2
"""Seconds of ``--time-limit`` kept for printing and writing the solution (at 300 users both take
a few tens of milliseconds)."""


def register(sub: Any) -> None:
    p = sub.add_parser("solve", help="solve an instance file")
    p.add_argument("file", help="instance JSON file")
    p.add_argument("--method", default="auto", choices=METHOD_NAMES, help="solution method (default: auto)")
    p.add_argument("--no-sharing", action="store_true", help="load whole models (the no-sharing baseline)")
    p.add_argument(
        "--timing",
        choices=TIMING_NAMES,
        help="timing model, overriding the file's 'timing' field (frame: the server starts after the last "
        "upload; pipelined: the GPU loads while users upload)",
    )
    p.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="SECONDS",
        help="wall-clock limit of the whole command: reading, warm start, building, solving and writing",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of randomized methods (default 0)")
    p.add_argument("--output", "-o", metavar="SOLUTION.json", help="write the solution JSON ('-': stdout)")
    p.add_argument(
        "--table", type=int, default=50, metavar="N", help="show at most N rows of the schedule (0: all; default 50)"
    )
    p.add_argument("--quiet", action="store_true", help="print the summary lines only, no schedule table")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a parameter of the method, VALUE as in TOML (e.g. --param effort=1e5, --param formulation=compact)",
    )
    p.add_argument(
        "--params",
        metavar="FILE.toml",
        help="the method's parameters from a TOML file: its [METHOD] table, else the top-level keys",
    )
    p.add_argument(
        "--initial",
        metavar="SOLUTION.json",
        help="start from the schedule of a solution file (heuristics improve it, exact methods warm-start)",
    )
    p.add_argument(
        "--cold",
        action="store_true",
        help="exact methods start from nothing instead of greedy's schedule and bound (to study the models alone)",
    )
    milp = p.add_argument_group("MILP options (with --method milp)")
    milp.add_argument("--solver", help="Pyomo name of the MIP solver (default: highs, through highspy)")
    milp.add_argument(
        "--formulation",
        choices=("auto", "general", "compact"),
        help="MILP formulation (default auto: compact when all deadlines are equal)",
    )
    p.set_defaults(run=run)


def method_params(args: argparse.Namespace, method: str) -> dict[str, Any]:
    """The parameters of ``method`` from ``--params FILE`` overridden by each ``--param KEY=VALUE``."""
    values = {} if args.params is None else read_params_file(args.params, method)
    values.update(parse_assignments(args.param))
    return values


def time_left(args: argparse.Namespace) -> float | None:
    """The seconds of ``--time-limit`` left for the solve: what the command has used since it
    started, and :data:`WRITE_RESERVE_S` for printing and writing the answer, are taken off."""
    if args.time_limit is None:
        return None
    used = time.perf_counter() - getattr(args, "started", time.perf_counter())
    return max(args.time_limit - used - WRITE_RESERVE_S, 0.01)


def _initial_users(path: str, instance: Instance) -> tuple[list[str], tuple[int, ...] | None]:
    """The service order of the solution file ``path``, each user checked against ``instance``
    (a mistake names the file and the entry, as ``schedule[0].user``), and its batch numbers
    (``None`` when the file has none)."""
    schedule = read_solution(path)["schedule"]
    users = [entry["user"] for entry in schedule]
    initial_indices(instance, users, f"{path}: schedule[{{}}].user".format)
    return users, batch_numbers(schedule, f"{path}: ")


def run(args: argparse.Namespace) -> int:
    options = {name: getattr(args, name) for name in ("solver", "formulation") if getattr(args, name) is not None}
    if options and args.method != "milp":
        flags = " and ".join(f"--{name}" for name in options)
        verb = "applies" if len(options) == 1 else "apply"
        raise MethodNotApplicableError(f"{flags} only {verb} to --method milp (got --method {args.method})")
    if (args.param or args.params) and args.method == "auto":
        raise ParameterError("--param and --params need an explicit --method (auto chooses the method itself)")
    if args.table < 0:
        raise ParameterError(f"--table must be non-negative (got {args.table})")
    if args.time_limit is not None and not args.time_limit > 0:
        raise ParameterError(f"--time-limit: time limit must be positive (got {args.time_limit})")
    rows = 0 if args.quiet else (None if args.table == 0 else args.table)
    args.file = instance_path(args.file)
    if args.output not in (None, "-"):
        check_output(args.output, inputs=[args.file, *([args.initial] if args.initial else [])])
    problem = read_problem(args.file)
    if args.timing is not None:
        problem = dataclasses.replace(problem, timing=args.timing)
    params = method_params(args, args.method) if args.method != "auto" else {}
    if args.initial is not None and args.cold:
        raise ParameterError("--cold and --initial exclude each other")
    start: dict[str, Any]
    if isinstance(problem, Network):
        start = {"initial": _initial_servers(args.initial, problem) if args.initial else ({} if args.cold else None)}
    elif args.initial is not None:
        initial, initial_batch = _initial_users(args.initial, problem)
        start = {"initial": initial, "initial_batch": initial_batch}
    else:
        start = {"initial": [] if args.cold else None}
    if args.method in METHODS:
        # Compiled code loads (the first time ever, compiles) within the command's limit.
        METHODS[args.method].prepare()
    # Ctrl-C (or SIGTERM) ends the search as its time limit would: the best schedule found,
    # checked like any other, is printed and written, and the command exits 130.
    # On a terminal, a long exact solve shows its incumbent and bound as it goes (stderr).
    with interruptible(), showing(sys.stderr):
        result = solve(
            problem,
            args.method,
            sharing=not args.no_sharing,
            time_limit=time_left(args),
            seed=args.seed,
            params=params,
            **start,
            **options,
        )
        stopped = interrupted()
    if stopped:
        result = _interrupted(result)
    return _report(args, result, functools.partial(print_result, result, rows=rows), stopped)


def print_result(result: Result | NetworkResult, out: TextIO, rows: int | None = None) -> None:
    """:func:`print_summary`, or :func:`print_network_summary` for several servers."""
    if isinstance(result, NetworkResult):
        print_network_summary(result, out, rows)
    else:
        print_summary(result, out, rows)


def _report(args: argparse.Namespace, result: Reporting, summary: Callable[[TextIO], None], stopped: bool) -> int:
    """Print the summary and write the solution (``-o -``: the JSON alone on stdout)."""
    if args.output == "-":
        # stdout carries the JSON document alone; the summary goes to stderr.
        summary(sys.stderr)
        sys.stdout.write(result.dumps())
    else:
        summary(sys.stdout)
        if args.output:
            result.write(args.output)
            print(f"solution written to {args.output}")
    if stopped:
        print("partialloading: interrupted: the best schedule found is the answer", file=sys.stderr)
        return 130
    return 0


def _initial_servers(path: str, network: Network) -> dict[str, list[str]]:
    """The schedule of the solution file ``path`` per server (an entry without ``server`` is on
    the first server)."""
    start: dict[str, list[str]] = {}
    for entry in read_solution(path)["schedule"]:
        start.setdefault(entry.get("server", network.servers[0].id), []).append(entry["user"])
    return start


def _totals(result: Reporting, head: str, served: int, users: int, out: TextIO) -> None:
    """The two first lines of a summary: ``head`` with the sharing mode, status and runtime;
    the users served, the objective, the bound and the gap."""
    bound = "-" if result.bound is None else number(result.bound)
    gap = "" if result.gap is None else f"  gap {100 * result.gap:.2f}%"
    sharing = "sharing" if result.sharing else "no sharing"
    print(f"{head} ({sharing}), status {result.status.value}, runtime {result.runtime:.3f}s", file=out)
    print(f"served {served}/{users} users, objective {number(result.objective)}, bound {bound}{gap}", file=out)


def print_network_summary(result: NetworkResult, out: TextIO, rows: int | None = None) -> None:
    """The summary of a several-server result: totals, then one block per server."""
    sol = result.solution
    net = sol.network
    head = f"instance {net.name!r} on {net.num_servers} servers: method {result.method}"
    _totals(result, head, len(sol.admitted), net.num_users, out)
    for n, (server, part) in enumerate(zip(net.servers, sol.parts, strict=True)):
        print(
            f"\nserver {printable(server.id)!r}: {server.bandwidth_hz / 1e6:g} MHz, "
            f"{server.load_speed_bytes_per_s / 1e9:g} GB/s; served {len(part.order)} of the "
            f"{len(net.reach[n])} users it can serve, weight {number(part.objective)}",
            file=out,
        )
        print_schedule(part, out, rows, rejected=False)
    if sol.rejected:
        print(file=out)
        _print_rejected(sol.rejected, out)


R = TypeVar("R", bound=Result | NetworkResult)


def _interrupted(result: R) -> R:
    """``result`` of an interrupted solve: ``feasible`` unless its bound proves it optimal
    anyway, and ``info["interrupted"]``."""
    proven = result.bound is not None and reaches(result.objective, result.bound)
    status = Status.OPTIMAL if proven else Status.FEASIBLE
    return dataclasses.replace(result, status=status, info={**result.info, "interrupted": True})


def _listed(blocks: tuple[str, ...], limit: int = 4) -> str:
    if not blocks:
        return "-"
    shown = ", ".join(printable(b) for b in blocks[:limit])
    return shown + (f" (+{len(blocks) - limit})" if len(blocks) > limit else "")


def _method_text(result: Result) -> str:
    """The method of the summary line; under ``auto``, every method it ran, so that the runtime
    is explained."""
    steps = result.info.get("auto_steps")
    if isinstance(steps, list):
        return f"auto ({' then '.join(map(str, steps))}; the schedule is {result.method}'s)"
    if result.info.get("chosen_by") == "auto":
        return f"auto ({result.method})"
    return result.method


def _print_batches(sol: Solution, out: TextIO) -> None:
    """The batches line (only for a schedule that batches)."""
    if sol.batch is None:
        return
    sizes = [len(b) for b in sol.batches]
    print(
        f"{len(sizes)} batches for {len(sol.order)} requests (mean {len(sol.order) / len(sizes):.2f}, "
        f"largest {max(sizes)}); a batch's members share its load, start and finish",
        file=out,
    )


def print_summary(result: Result, out: TextIO, rows: int | None = None) -> None:
    """Readable summary: status, objective, timeline table (at most ``rows`` rows; ``None``: all,
    0: none), bytes, bandwidth split. Ids are shown with control characters escaped."""
    sol = result.solution
    inst = sol.instance
    _totals(result, f"instance {inst.name!r}: method {_method_text(result)}", len(sol.order), inst.num_users, out)
    warm = result.info.get("warm_start")
    if isinstance(warm, dict):
        source = {
            "greedy": "greedy's schedule",
            "method": f"{result.method}'s search",
            "initial": "the initial schedule",
        }
        came = source.get(str(result.info.get("incumbent_from")), "?")
        print(
            f"warm start: greedy {number(warm['objective'])} in {warm['runtime_s']:.3f}s; the schedule is {came}",
            file=out,
        )
    print_schedule(result.solution, out, rows)


def print_schedule(sol: Solution, out: TextIO, rows: int | None = None, rejected: bool = True) -> None:
    """One server's schedule: its uploads, the timeline table, batches, bytes and (with
    ``rejected``) the users not served."""
    inst = sol.instance
    tl = sol.timeline
    pipelined = inst.timing != "frame"
    capacity = memory_of(inst).evictions_in_files
    if capacity:
        print(f"GPU memory: {number(float(inst.memory_bytes or 0) / 1e6)} MB, blocks kept while they fit", file=out)
    if pipelined:
        print(
            f"timing {inst.timing}: the last upload ends at {tl.upload_end:.6f}s; "
            "each request starts when its load is done and its own input has arrived",
            file=out,
        )
    else:
        print(f"uploads end at {tl.upload_end:.6f}s (all admitted uploads finish together)", file=out)
    shown_rows = sol.order if rows is None else sol.order[:rows]
    if rows == 0:
        shown_rows = ()
    if shown_rows:
        # Columns as wide as the longest id shown (capped so that a row stays on one line).
        uw = min(max(4, *(len(printable(inst.users[k].id)) for k in shown_rows)), 24)
        mw = min(max(5, *(len(printable(inst.users[k].model)) for k in shown_rows)), 32)
        batched = sol.batch is not None
        header = (
            f"{'#':>3} " + (f"{'batch':>5} " if batched else "") + f"{'user':<{uw}} {'model':<{mw}} {'bw MHz':>8} "
            f"{'load MB':>8} {'load s':>9} {'start s':>9} {'finish s':>9} {'deadline':>9}"
            + (f" {'upload s':>9} {'infer s':>9}" if pipelined else "")
            + (f" {'resident MB':>11} evicted" if capacity else "")
        )
        evicted = sol.evicted_ids if capacity else ()
        print(header, file=out)
        for q, k in enumerate(shown_rows):
            user = inst.users[k]
            print(
                f"{q + 1:>3} "
                + (f"{tl.batch[q] + 1:>5} " if batched else "")
                + f"{printable(user.id):<{uw}.{uw}} {printable(user.model):<{mw}.{mw}} "
                f"{sol.bandwidth[q] / 1e6:>8.3f} "
                f"{tl.loaded_bytes[q] / 1e6:>8.1f} {tl.load[q]:>9.4f} {tl.start[q]:>9.4f} {tl.finish[q]:>9.4f} "
                f"{user.deadline_s:>9.4f}"
                + (f" {tl.upload_ends[q]:>9.4f} {tl.infer_start[q]:>9.4f}" if pipelined else "")
                + (f" {tl.resident_bytes[q] / 1e6:>11.1f} {_listed(evicted[q])}" if capacity else ""),
                file=out,
            )
        if len(shown_rows) < len(sol.order):  # pragma: no branch
            print(f"... {len(sol.order) - len(shown_rows)} more rows (--table 0 shows all)", file=out)
    _print_batches(sol, out)
    print(
        f"loaded {sol.loaded_bytes / 1e6:.1f} MB, reused {sol.reused_bytes / 1e6:.1f} MB already in GPU memory",
        file=out,
    )
    if rejected:
        _print_rejected(sol.rejected, out)


def _print_rejected(rejected: tuple[str, ...], out: TextIO) -> None:
    if rejected:
        shown = ", ".join(printable(r) for r in rejected[:20]) + (" ..." if len(rejected) > 20 else "")
        print(f"rejected ({len(rejected)}): {shown}", file=out)
