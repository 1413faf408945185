"""Helpers shared by the subcommands."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

from partialloading import instances


def instance_path(text: str) -> str:
    """An instance argument: a file, or the name of a bundled instance (``tiny``, ``edge20``)."""
    if not Path(text).exists() and text in instances.names():
        return str(instances.path(text))
    return text


def number(x: float) -> str:
    """A count or weight in full (``1000002``, ``7000000000006``, ``2.5``), never ``1e+06``."""
    value = float(x)
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


T = TypeVar("T")


def progress_lines(items: Iterable[T], total: int, desc: str, steps: int = 10) -> Iterator[T]:
    """Progress for a log file: one plain line per tenth of ``total`` (no carriage returns)."""
    marks = {max(1, round(total * i / steps)) for i in range(1, steps + 1)}
    for done, item in enumerate(items, start=1):
        yield item
        if done in marks:
            print(f"{desc}: {done}/{total}", file=sys.stderr, flush=True)
