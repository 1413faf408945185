"""Command line: ``partialloading SUBCOMMAND ...`` (see ``partialloading --help``).

Each subcommand lives in its own module of this package with a ``register(subparsers)``
function that adds its parser and sets ``run`` (a function of the parsed arguments returning
the exit status). User mistakes (:class:`PartialLoadingError`) become one line on stderr and
exit status 2; nothing is written in that case.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from typing import NoReturn

from partialloading import __version__
from partialloading.errors import PartialLoadingError

_IMPORTED = time.perf_counter()


def process_age() -> float:
    """Seconds since this process started: Python's own start and the imports count against a
    command's ``--time-limit``. From ``/proc`` where there is one (Linux), else since this module
    was imported."""
    try:
        with open("/proc/self/stat", encoding="ascii") as handle:
            # Field 22, the start time in clock ticks since boot; fields are counted after the
            # command name, which may hold spaces and ends at the last ")".
            start = int(handle.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime", encoding="ascii") as handle:
            uptime = float(handle.read().split()[0])
        age = uptime - start / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - _IMPORTED
    # /proc/uptime counts in hundredths: never less than what this module saw itself.
    return max(age, time.perf_counter() - _IMPORTED)


SUBCOMMANDS = (
    "demo",
    "validate",
    "solve",
    "verify",
    "inspect",
    "formulation",
    "generate",
    "blocks",
    "calibrate",
    "workload",
    "simulate",
    "plot",
    "study",
    "check",
)
"""Modules of this package that define a subcommand, in ``--help`` order."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage block), like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``partialloading`` command."""
    parser = _Parser(
        prog="partialloading",
        description="Scheduling and bandwidth allocation for parameter-sharing edge inference.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    started = time.perf_counter() - process_age()
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a one-line usage error (already printed)
        return exc.code if isinstance(exc.code, int) else 2
    # A command's --time-limit counts from the process's start: Python's start, the imports,
    # parsing, reading and writing are part of it.
    args.started = started
    # `kill` ends a command as Ctrl-C does: cleanly, with nothing half-written.
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if main_thread else None
    try:
        status: int = args.run(args)
    except PartialLoadingError as exc:
        print(f"partialloading: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("partialloading: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`partialloading solve ... | head`): stop quietly, and keep
        # Python from failing again while flushing stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    return status


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
