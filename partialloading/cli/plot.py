"""``partialloading plot INSTANCE SOLUTION.json --output gantt.png``: draw a Gantt chart.

The solution is checked by the independent verifier first: an invalid schedule is still drawn,
with its late requests in red and the title saying it is invalid (and what the first problem is).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from partialloading.cli.common import instance_path
from partialloading.io import read_problem
from partialloading.network import Network
from partialloading.output import OutputError, check_output, write_file
from partialloading.result import Result
from partialloading.servers import NetworkResult
from partialloading.solution_io import read_solution

MIN_DPI, MAX_DPI = 10, 1200
MAX_PIXELS = 2**15
"""Largest side of a raster image (matplotlib's renderer refuses larger ones)."""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "plot", help="draw the Gantt chart of a solution file (verified first; several servers: a lane each)"
    )
    p.add_argument("file", help="instance JSON file (or a bundled instance name)")
    p.add_argument("solution", help="solution JSON file (as written by `solve --output`)")
    p.add_argument("--output", "-o", required=True, metavar="GANTT.png", help="image file (.png, .pdf, .svg, ...)")
    p.add_argument(
        "--dpi", type=int, default=150, help=f"resolution of raster images ({MIN_DPI}-{MAX_DPI}, default 150)"
    )
    p.set_defaults(run=run)


def image_format(output: str) -> str:
    """The matplotlib format of the image file ``output`` (from its extension), or :class:`OutputError`."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    supported = Figure().canvas.get_supported_filetypes()
    suffix = Path(output).suffix.lower().lstrip(".")
    if not suffix:
        raise OutputError(
            f"{output}: give the image format as an extension ({', '.join(f'.{k}' for k in sorted(supported))})"
        )
    if suffix not in supported:
        raise OutputError(
            f"{output}: unknown image format .{suffix} (use {', '.join(f'.{k}' for k in sorted(supported))})"
        )
    return suffix


def run(args: argparse.Namespace) -> int:
    args.file = instance_path(args.file)
    if not MIN_DPI <= args.dpi <= MAX_DPI:
        raise OutputError(f"--dpi must be from {MIN_DPI} to {MAX_DPI} (got {args.dpi})")
    kind = image_format(args.output)
    check_output(args.output, inputs=[args.file, args.solution])
    problem = read_problem(args.file)
    doc = read_solution(args.solution)

    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from partialloading.plot import plot_gantt, plot_servers
    from partialloading.validation.servers import verify_network_solution
    from partialloading.validation.verify import verify_solution

    subtitle = f"method {doc['method']}, claimed status {doc['status']}"
    if isinstance(problem, Network):
        # One lane per server, stacked on one time axis.
        report = verify_network_solution(problem, doc, args.solution)
        network_solution = NetworkResult.from_dict(problem, doc, args.solution).solution
        violations = [str(v) for v in report.violations]
        ax = plot_servers(network_solution, subtitle=subtitle, violations=violations)[0]
    else:
        report = verify_solution(problem, doc, args.solution)
        solution = Result.from_dict(problem, doc, args.solution).solution
        ax = plot_gantt(solution, subtitle=subtitle, violations=[str(v) for v in report.violations])
    fig = ax.get_figure()
    if not isinstance(fig, Figure):  # pragma: no cover - plot_gantt draws on a Figure's axes
        raise TypeError("the Gantt chart is not drawn on a figure")
    fig.tight_layout()
    width, height = fig.get_size_inches() * args.dpi
    if kind in ("png", "jpg", "jpeg", "tif", "tiff", "webp", "raw", "rgba") and max(width, height) > MAX_PIXELS:
        plt.close(fig)
        raise OutputError(
            f"--dpi {args.dpi}: the image would be {width:.0f}×{height:.0f} pixels (at most {MAX_PIXELS})"
        )
    write_file(args.output, lambda path: fig.savefig(path, dpi=args.dpi, format=kind))
    plt.close(fig)
    verdict = "valid" if report.ok else f"INVALID, {len(report.violations)} violation(s) marked in red"
    print(f"Gantt chart written to {args.output} (schedule {verdict})")
    return 0
