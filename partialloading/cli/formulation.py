"""``partialloading formulation FILE --write model.lp``: write the model ``solve --method milp``
solves for an instance (the one-model MILP, the capacity MILP with ``server.memory_bytes``, the
pipelined MINLP under pipelined timing).

The file format follows the extension (``.lp`` CPLEX LP, ``.mps`` free MPS); components keep the
names of ``docs/formulation.md`` (``assign``, ``switch``, ``meet_deadline``, ...) so the file can
be read, taught, or given to another solver. Times are in milliseconds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from partialloading.cli.common import instance_path
from partialloading.errors import MethodNotApplicableError, PartialLoadingError
from partialloading.io import read_instance
from partialloading.output import check_output, write_file

if TYPE_CHECKING:
    from partialloading.solvers.milp.written import WrittenModel

FORMATS = {".lp": "CPLEX LP", ".mps": "free MPS"}
"""File extensions :func:`run` can write, and the format of each (as
:data:`partialloading.solvers.milp.written.FORMATS`, which is not imported before it is needed)."""


class FormulationError(PartialLoadingError):
    """A bad request to the ``formulation`` subcommand (e.g. an unknown file extension)."""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "formulation",
        help="write the model `solve --method milp` solves (MILP, capacity MILP, pipelined MINLP) to an LP or MPS file",
    )
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
    # Pyomo (and SCIP) are imported only for this command (they take a second to import).
    from partialloading.solvers.milp.written import write_model

    work = instance.unshared() if args.no_sharing else instance
    if args.formulation == "compact" and len(set(instance.deadlines.tolist())) > 1:
        print(
            "note: with per-user deadlines the compact model only covers schedules that load each model once; "
            "its optimum may be below the true one (docs/formulation.md, section 7)",
            file=sys.stderr,
        )
    written: list[WrittenModel] = []

    def put(path: Path) -> None:
        written.append(write_model(work, path, formulation=args.formulation))

    try:
        write_file(args.write, put, inputs=[args.file])
    except MethodNotApplicableError as exc:
        raise FormulationError(f"{args.file}: {exc}") from None
    model = written[0]
    print(
        f"{model.name} ({model.formulation}): {model.variables} variables, {model.constraints} constraints "
        f"(times in ms) written to {args.write}"
    )
    return 0
