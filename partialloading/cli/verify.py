"""``partialloading verify FILE SOLUTION.json``: independent check of a solution file."""

from __future__ import annotations

import argparse
from typing import Any

from partialloading.cli.common import instance_path
from partialloading.validation.files import verify_files


def register(sub: Any) -> None:
    p = sub.add_parser(
        "verify", help="check a solution file against its instance (exit 0 valid, 1 violations, 2 bad files)"
    )
    p.add_argument("file", help="instance JSON file")
    p.add_argument("solution", help="solution JSON file (as written by `solve --output`)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    args.file = instance_path(args.file)
    report = verify_files(args.file, args.solution)
    if report.ok:
        print(f"{args.solution}: valid solution for instance {report.instance!r}")
        print(
            "  checked: every rule of the schedule (uploads, bandwidth, loads, deadlines) and that status, "
            "objective and bound agree; not re-proved: that an 'optimal' schedule is optimal"
        )
        return 0
    print(f"{args.solution}: {len(report.violations)} violation(s) against instance {report.instance!r}:")
    for violation in report.violations:
        print(f"  {violation}")
    return 1
