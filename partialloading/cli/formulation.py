"""``partialloading formulation FILE --write model.lp``: write the MILP of an instance.

The file format follows the extension (``.lp`` CPLEX LP, ``.mps`` free MPS); components keep the
names of ``docs/formulation.md`` (``assign``, ``switch``, ``meet_deadline``, ...) so the file can
be read, taught, or given to another solver. Times are in milliseconds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from partialloading.cli.common import instance_path
from partialloading.errors import PartialLoadingError
from partialloading.io import read_instance
from partialloading.output import check_output, write_file

FORMATS = {".lp": "CPLEX LP", ".mps": "free MPS"}
"""File extensions :func:`run` can write, and the format of each."""


class FormulationError(PartialLoadingError):
    """A bad request to the ``formulation`` subcommand (e.g. an unknown file extension)."""


def register(sub: Any) -> None:
    p = sub.add_parser("formulation", help="write the MILP of an instance to an LP or MPS file")
    p.add_argument("file", help="instance JSON file")
    p.add_argument("--write", "-w", required=True, metavar="MODEL.lp|MODEL.mps", help="output file (.lp or .mps)")
    p.add_argument(
        "--formulation",
        default="auto",
        choices=("auto", "general", "compact"),
        help="auto: compact when all deadlines are equal, else general (default: auto)",
    )
    p.add_argument("--no-sharing", action="store_true", help="loading times without parameter sharing")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    target = Path(args.write)
    if target.suffix.lower() not in FORMATS:
        raise FormulationError(
            f"{args.write}: unknown model file extension {target.suffix or '(none)'!r} (use .lp or .mps)"
        )
    args.file = instance_path(args.file)
    check_output(args.write, inputs=[args.file])
    instance = read_instance(args.file)
    # Pyomo is imported only for this command (it takes a second to import).
    from partialloading.solvers.milp import build_model

    model = build_model(instance.unshared() if args.no_sharing else instance, formulation=args.formulation)
    if args.formulation == "compact" and len(set(instance.deadlines.tolist())) > 1:
        print(
            "note: with per-user deadlines the compact model only covers schedules that load each model once; "
            "its optimum may be below the true one (docs/formulation.md, section 7)",
            file=sys.stderr,
        )
    # Pyomo picks the writer from this format, not from the name: a device such as /dev/stdout works.
    from pyomo.opt import ProblemFormat

    kind = ProblemFormat.cpxlp if target.suffix.lower() == ".lp" else ProblemFormat.mps

    def put(path: Path) -> None:
        try:
            model.write(str(path), format=kind, io_options={"symbolic_solver_labels": True})
        except RuntimeError as exc:
            if "Duplicate symbol" not in str(exc):
                raise
            # Two ids became the same name once made LP-safe (e.g. "a b" and "a_b"): fall back
            # on generic names (x1, c1, ...); the model itself is unchanged.
            print(f"note: readable names collide ({exc}); writing generic names", file=sys.stderr)
            model.write(str(path), format=kind, io_options={"symbolic_solver_labels": False})

    write_file(args.write, put, inputs=[args.file])
    print(
        f"{model.name}: {model.nvariables()} variables, {model.nconstraints()} constraints "
        f"(times in ms) written to {args.write}"
    )
    return 0
