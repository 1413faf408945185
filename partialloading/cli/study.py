"""``partialloading study throughput|gap``: parallel, resumable studies over generated instances.

See ``docs/studies.md`` for the sweep options and the database schema.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from partialloading.output import check_output, write_file
from partialloading.params import parse_assignments, parse_value
from partialloading.study import (
    EXACT,
    TRANSFORMS,
    GapSample,
    ParamValue,
    ResultStore,
    RunSummary,
    StudyError,
    Sweep,
    compare,
    families,
    format_table,
    gap_samples,
    gap_stats,
    plot_gaps,
    plot_throughput,
    run_sweep,
    throughput_points,
    write_csv,
)

SHARING_MODES = {"both": (True, False), "on": (True,), "off": (False,)}


def register(sub: Any) -> None:
    p = sub.add_parser(
        "study",
        help="throughput and optimality-gap studies (parallel, resumable, SQLite)",
        description="Run a study over generated instances; results go to an SQLite database, one row per solve. "
        "Rerunning the same command resumes an interrupted study and then only rewrites the CSV and plot.",
    )
    kinds = p.add_subparsers(dest="study", required=True, metavar="STUDY")

    t = kinds.add_parser("throughput", help="tasks served against a swept parameter, with and without sharing")
    t.add_argument("--family", required=True, help="instance family (random-backbone, random-general, zoo-...)")
    t.add_argument("--param", required=True, help="swept parameter (e.g. tightness, n_users, bandwidth_scale)")
    t.add_argument("--methods", nargs="+", default=["greedy", "edf"], help="methods (default: greedy edf)")
    t.add_argument("--sharing", choices=SHARING_MODES, default="both", help="sharing modes (default both)")
    t.add_argument("--fraction", action="store_true", help="plot the fraction of users served")
    _common(t, default_seeds=10)
    t.set_defaults(run=run_throughput)

    g = kinds.add_parser("gap", help="optimality gap of heuristics against the exact optimum")
    g.add_argument("--family", required=True, nargs="+", help="instance families (one table block per family)")
    g.add_argument("--param", default="n_users", help="swept parameter (default n_users)")
    g.add_argument("--methods", nargs="+", default=["greedy", "dp", "edf"], help="methods (default: greedy dp edf)")
    g.add_argument("--sharing", choices=SHARING_MODES, default="on", help="sharing modes (default on)")
    _common(g, default_seeds=20)
    g.set_defaults(run=run_gap)

    o = kinds.add_parser(
        "online",
        help="serving under load: on-time fraction and latency against arrival rate (or another parameter)",
        description="One generated workload per value and seed, simulated with each policy (METHOD or "
        "METHOD/no-sharing); one row per simulation. --set fixes workload settings (rate, duration, cv, slo, "
        "spread) and family parameters (bandwidth_hz, load_speed_bytes_per_s, popularity_zipf, ...).",
    )
    o.add_argument("--family", required=True, help="configured scenario family (zoo-heads, zoo-mixed, ...)")
    o.add_argument("--param", default="rate", help="swept parameter (default rate; servers, router: several servers)")
    o.add_argument(
        "--routers",
        nargs="+",
        default=[],
        metavar="ROUTER",
        help="with several servers (--set servers=N, or --param servers): run each policy with each router",
    )
    o.add_argument(
        "--policies",
        nargs="+",
        default=["greedy", "greedy/no-sharing", "edf", "fifo"],
        help="policies (default: greedy greedy/no-sharing edf fifo)",
    )
    o.add_argument("--timing", default="frame", help="timing model of the rounds (default frame)")
    o.add_argument("--round-cap", type=int, metavar="N", help="at most N requests planned per round")
    o.add_argument("--cdf", metavar="FILE", help="latency CDF plot at the largest value (default: PLOT-cdf.png)")
    _common(o, default_seeds=3)
    o.set_defaults(run=run_online, time_limit=None)


def _common(p: argparse.ArgumentParser, default_seeds: int) -> None:
    p.add_argument(
        "--values", nargs="+", required=True, type=parse_value, help="values of the swept parameter, as in TOML"
    )
    p.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="NAME=VALUE",
        help=f"fixed generator parameters, VALUE as in TOML (any family also takes {', '.join(TRANSFORMS)})",
    )
    p.add_argument("--seeds", type=int, default=default_seeds, help=f"instances per value (default {default_seeds})")
    p.add_argument("--first-seed", type=int, default=0, help="first generator seed (default 0)")
    p.add_argument("--time-limit", type=float, default=10.0, metavar="SECONDS", help="per solve (default 10)")
    p.add_argument("--db", default="study.sqlite", help="SQLite results database (default study.sqlite)")
    p.add_argument("--csv", help="aggregate CSV (default derived from the study)")
    p.add_argument("--plot", help="plot file, PNG/PDF/SVG (default: the CSV name with .png)")
    p.add_argument("--workers", type=int, default=None, help="local worker processes (default: all cores)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on this Dask scheduler instead")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    p.add_argument("--retry-errors", action="store_true", help="solve again the tasks stored with status error")


def _fixed(items: list[str]) -> dict[str, ParamValue]:
    fixed = parse_assignments(items, "--set")
    for name, value in fixed.items():
        _check_value(f"--set {name}", value)
    return fixed


def _check_value(where: str, value: object) -> None:
    if isinstance(value, list | dict):
        raise StudyError(f"{where}: a study parameter is a number, true/false or a word (got {value!r})")


def _values(args: argparse.Namespace) -> tuple[ParamValue, ...]:
    for value in args.values:
        _check_value("--values", value)
    return tuple(args.values)


def _sweep(args: argparse.Namespace, family: str, methods: list[str]) -> Sweep:
    if args.seeds < 1:
        raise StudyError(f"--seeds must be at least 1 (got {args.seeds})")
    if args.workers is not None and args.workers < 1:
        raise StudyError(f"--workers must be at least 1 (got {args.workers})")
    if family not in families():
        raise StudyError(f"unknown family {family!r} (choose from {', '.join(families())})")
    return Sweep(
        family=family,
        parameter=args.param,
        values=_values(args),
        methods=tuple(methods),
        sharing=SHARING_MODES[args.sharing],
        seeds=tuple(range(args.first_seed, args.first_seed + args.seeds)),
        time_limit=args.time_limit,
        fixed=tuple(_fixed(args.set).items()),
    )


def _run(args: argparse.Namespace, sweep: Sweep) -> RunSummary:
    summary = run_sweep(
        sweep,
        args.db,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=not args.no_progress,
        retry_errors=args.retry_errors,
    )
    print(
        f"{sweep.family}: {summary.tasks} tasks, {summary.solved} solved now, {summary.skipped} already in "
        f"{args.db}, {len(summary.errors)} failed ({summary.elapsed_s:.1f}s)",
        file=sys.stderr,
    )
    if summary.errors:
        with ResultStore(args.db) as store:
            for row in store.rows(summary.errors[:5]):
                print(f"  failed: {row.key}: {row.message}", file=sys.stderr)
    return summary


def _outputs(args: argparse.Namespace, stem: str) -> tuple[Path, Path]:
    csv_path = Path(args.csv or f"{stem}.csv")
    plot_path = Path(args.plot) if args.plot else csv_path.with_suffix(".png")
    # Every output is checked before the first solve, not after the last one.
    from partialloading.cli.plot import image_format

    image_format(str(plot_path))
    for path in (csv_path, plot_path):
        check_output(path, inputs=[args.db])
    return csv_path, plot_path


def run_throughput(args: argparse.Namespace) -> int:
    sweep = _sweep(args, args.family, args.methods)
    csv_path, plot_path = _outputs(args, f"throughput-{args.family}-{args.param}")
    summary = _run(args, sweep)
    with ResultStore(args.db) as store:
        rows = store.rows(t.key for t in sweep.tasks())
    points = throughput_points(sweep, rows)
    columns = ["value", "method", "sharing", "n", "served_mean", "served_ci95", "fraction_mean", "runtime_mean_s"]
    print(format_table(points, columns, markdown=args.markdown))
    comparisons = []
    if len(sweep.sharing) == 2:
        comparisons += [c for m in sweep.methods for c in compare(sweep, rows, (m, True), (m, False))]
    if "edf" in sweep.methods and True in sweep.sharing:
        others = [m for m in sweep.methods if m != "edf"]
        comparisons += [c for m in others for c in compare(sweep, rows, (m, True), ("edf", True))]
        if False in sweep.sharing:
            comparisons += [c for m in others for c in compare(sweep, rows, (m, True), ("edf", False))]
    if comparisons:
        print()
        print(
            format_table(
                comparisons,
                ["value", "variant", "baseline", "n", "diff_mean", "diff_ci95", "gain"],
                markdown=args.markdown,
            )
        )
    write_csv(csv_path, points)
    outputs = [csv_path]
    if comparisons:
        gains_path = csv_path.with_name(f"{csv_path.stem}-gains.csv")
        write_csv(gains_path, comparisons)
        outputs.append(gains_path)

    def draw(ax: Any) -> None:
        plot_throughput(points, ax, fraction=args.fraction)

    _save(plot_path, [draw])
    print(f"wrote {', '.join(map(str, [*outputs, plot_path]))}", file=sys.stderr)
    return 1 if summary.errors else 0


def run_gap(args: argparse.Namespace) -> int:
    methods = list(dict.fromkeys([EXACT, *args.methods]))
    sweeps = [_sweep(args, family, methods) for family in dict.fromkeys(args.family)]
    csv_path, plot_path = _outputs(args, f"gap-{'-'.join(s.family for s in sweeps)}-{args.param}")
    failed = 0
    stats = []
    samples = []
    for sweep in sweeps:
        failed += len(_run(args, sweep).errors)
        with ResultStore(args.db) as store:
            rows = store.rows(t.key for t in sweep.tasks())
        stats += gap_stats(sweep, rows)
        samples.append(gap_samples(sweep, rows))
    columns = ["family", "value", "method", "sharing", "n", "n_optimal", "mean", "median", "p95", "max"]
    print(format_table(stats, [*columns, "n_unproven", "n_not_applicable"], markdown=args.markdown))
    write_csv(csv_path, stats)
    _save(plot_path, [functools.partial(_draw_gaps, s) for s in samples])
    print(f"wrote {csv_path}, {plot_path}", file=sys.stderr)
    return 1 if failed else 0


def run_online(args: argparse.Namespace) -> int:
    from partialloading.online.study import LoadStore, LoadSweep, run_load_sweep
    from partialloading.online.study_analysis import load_comparisons, load_points
    from partialloading.online.study_plots import plot_latency_cdf, plot_loaded, plot_on_time

    if args.seeds < 1:
        raise StudyError(f"--seeds must be at least 1 (got {args.seeds})")
    if args.workers is not None and args.workers < 1:
        raise StudyError(f"--workers must be at least 1 (got {args.workers})")
    if args.round_cap is not None and args.round_cap < 1:
        raise StudyError(f"--round-cap must be at least 1 (got {args.round_cap})")
    sweep = LoadSweep(
        family=args.family,
        parameter=args.param,
        values=_values(args),
        policies=tuple(args.policies),
        seeds=tuple(range(args.first_seed, args.first_seed + args.seeds)),
        settings=tuple(_fixed(args.set).items()),
        timing=args.timing,
        round_cap=args.round_cap,
        time_limit=args.time_limit,
        routers=tuple(args.routers),
    )
    csv_path, plot_path = _outputs(args, f"online-{args.family}-{args.param}")
    cdf_path = Path(args.cdf) if args.cdf else plot_path.with_name(f"{plot_path.stem}-cdf{plot_path.suffix}")
    loaded_path = plot_path.with_name(f"{plot_path.stem}-loaded{plot_path.suffix}")
    from partialloading.cli.plot import image_format

    image_format(str(cdf_path))
    check_output(cdf_path, inputs=[args.db])
    check_output(loaded_path, inputs=[args.db])
    summary = run_load_sweep(
        sweep, args.db, workers=args.workers, scheduler=args.scheduler, progress=not args.no_progress
    )
    print(
        f"{sweep.family}: {summary.tasks} simulations, {summary.solved} run now, {summary.skipped} already in "
        f"{args.db}, {len(summary.errors)} failed ({summary.elapsed_s:.1f}s)",
        file=sys.stderr,
    )
    with LoadStore(args.db) as store:
        rows = store.rows(sweep.tasks())
    for row in rows:
        if row.status != "ok":
            print(f"  failed: {row.task.key}: {row.message}", file=sys.stderr)
    points = load_points(sweep, rows)
    columns = [
        "value",
        "policy",
        "n",
        "on_time_mean",
        "on_time_ci95",
        "latency_p95_mean_s",
        "gpu_busy_mean",
        "planning_mean_ms",
        "planning_max_ms",
    ]
    print(format_table(points, columns, markdown=args.markdown))
    write_csv(csv_path, points)
    first = sweep.labels[0]
    comparisons = [c for other in sweep.labels[1:] for c in load_comparisons(sweep, rows, first, other)]
    if comparisons:
        print()
        print(
            format_table(
                comparisons, ["value", "policy", "baseline", "n", "diff_mean", "diff_ci95"], markdown=args.markdown
            )
        )
        write_csv(csv_path.with_name(f"{csv_path.stem}-gains.csv"), comparisons)
    _save(plot_path, [functools.partial(plot_on_time, points)])
    _save(cdf_path, [functools.partial(plot_latency_cdf, sweep, rows, sweep.values[-1])])
    _save(loaded_path, [functools.partial(plot_loaded, points)])
    print(f"wrote {csv_path}, {plot_path}, {cdf_path}, {loaded_path}", file=sys.stderr)
    return 1 if summary.errors else 0


def _draw_gaps(samples: list[GapSample], ax: Any) -> None:
    plot_gaps(samples, ax)


def _save(path: Path, panels: list[Callable[[Any], Any]]) -> None:
    """Draw one panel per function side by side and save the figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(len(panels), 2)
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.4 * cols, 4.2 * rows), squeeze=False)
    for ax, draw in zip(axes.flat, panels, strict=False):
        draw(ax)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    fig.tight_layout()
    write_file(path, lambda target: fig.savefig(target, dpi=110, format=path.suffix.lower().lstrip(".")))
    plt.close(fig)
