"""``partialloading plot INSTANCE SOLUTION.json --output gantt.png``: draw a Gantt chart."""

from __future__ import annotations

import argparse
from typing import Any

from partialloading.io import read_instance, read_solution
from partialloading.result import Result


def register(sub: Any) -> None:
    p = sub.add_parser("plot", help="draw the Gantt chart of a solution file")
    p.add_argument("file", help="instance JSON file")
    p.add_argument("solution", help="solution JSON file (as written by `solve --output`)")
    p.add_argument("--output", "-o", required=True, metavar="GANTT.png", help="image file (.png, .pdf, .svg)")
    p.add_argument("--dpi", type=int, default=150, help="resolution of raster images (default 150)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    instance = read_instance(args.file)
    doc = read_solution(args.solution)
    solution = Result.from_dict(instance, doc, args.solution).solution

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from partialloading.plot import plot_gantt

    ax = plot_gantt(solution, subtitle=f"method {doc['method']}, status {doc['status']}")
    fig = ax.get_figure()
    if not isinstance(fig, Figure):  # pragma: no cover - plot_gantt draws on a Figure's axes
        raise TypeError("the Gantt chart is not drawn on a figure")
    fig.tight_layout()
    fig.savefig(args.output, dpi=args.dpi)
    plt.close(fig)
    print(f"Gantt chart written to {args.output}")
    return 0
