"""``partialloading check CHECK ...``: numerical checks of the toolkit's theorems.

Each check is a sub-subcommand registered by a function in :data:`CHECKS`; add yours there.
A check exits 0 when it passes and 1 when it does not.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from partialloading.errors import PartialLoadingError

PROGRESS_MIN_INSTANCES = 20
"""Show a progress bar (on stderr) from this many instances on."""


def register(sub: Any) -> None:
    p = sub.add_parser("check", help="numerical checks of the theory (exit 0 when the check passes)")
    checks = p.add_subparsers(dest="check", required=True, metavar="CHECK")
    for add in CHECKS:
        add(checks)


def _register_decomposition(checks: Any) -> None:
    p = checks.add_parser(
        "decomposition",
        help="joint problem (bandwidth as variables, SCIP) vs decomposed problem on generated instances",
    )
    p.add_argument("--instances", type=_positive, default=50, metavar="N", help="number of instances (default 50)")
    p.add_argument("--seed", type=_seed, default=0, help="seed of the instance generator (default 0)")
    p.add_argument("--no-milp", action="store_true", help="do not also solve the decomposed problem with the MILP")
    p.set_defaults(run=run_decomposition)


def run_decomposition(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from partialloading.cli.common import progress_lines

    try:
        from partialloading.validation.decomposition import check_decomposition
    except ImportError as exc:
        if exc.name not in ("cvxpy",):
            raise
        raise PartialLoadingError(
            "check decomposition needs cvxpy, from the 'decomposition' extra: "
            "pip install 'partialloading[decomposition]'"
        ) from None

    def progress(items: Any) -> Any:
        if sys.stderr.isatty():
            return tqdm(items, total=args.instances, file=sys.stderr, desc="instances", unit="inst")
        return progress_lines(items, args.instances, "instances")

    report = check_decomposition(
        args.instances,
        args.seed,
        use_milp=False if args.no_milp else None,
        progress=progress if args.instances >= PROGRESS_MIN_INSTANCES else None,
    )
    print(report.table())
    print(report.summary())
    return 0 if report.ok else 1


def _seed(text: str) -> int:
    value = int(text)
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must be an integer from 0 to 2**63 - 1 (got {value})")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {value})")
    return value


CHECKS: tuple[Callable[[Any], None], ...] = (_register_decomposition,)
"""Functions that add one check's parser to the ``check`` subparsers."""
