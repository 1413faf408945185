"""Progress of a long exact solve: its incumbent and bound as it goes.

Backends tell :func:`report` what they have (the weight of their best schedule, the bound they
have proven) where they already look at the clock; nothing is shown unless a caller installed a
reporter with :func:`showing` (``partialloading solve`` does, on a terminal only: piped or
redirected output stays clean). Reporting is cheap: a reporter shows at most one line every
:data:`EVERY_S` seconds.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from typing import TextIO

EVERY_S = 0.5
"""Seconds between two progress lines."""


class _Line:
    """One progress line on ``stream``, rewritten in place (``\\r``)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.started = time.perf_counter()
        self.shown = -math.inf
        self.width = 0

    def show(self, method: str, incumbent: float, bound: float | None) -> None:
        now = time.perf_counter()
        if now - self.shown < EVERY_S:
            return
        self.shown = now
        text = f"{method}: best {incumbent:g}"
        if bound is not None and math.isfinite(bound):
            gap = 0.0 if bound <= 0 else max(bound - incumbent, 0.0) / bound
            text += f", bound {bound:g} (gap {100 * gap:.1f}%)"
        text += f", {now - self.started:.1f} s"
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()
        self.width = len(text)

    def close(self) -> None:
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()


_LINE: _Line | None = None


def report(method: str, incumbent: float, bound: float | None = None) -> None:
    """Tell the reporter, if any, that ``method`` has a schedule of weight ``incumbent`` and has
    proven ``bound`` (``None``: none yet)."""
    if _LINE is not None:
        _LINE.show(method, incumbent, bound)


@contextlib.contextmanager
def showing(stream: TextIO) -> Iterator[None]:
    """Within: progress shown on ``stream`` when it is a terminal (else nothing), the line erased
    at the end."""
    global _LINE
    if not stream.isatty():
        yield
        return
    _LINE = _Line(stream)
    try:
        yield
    finally:
        _LINE.close()
        _LINE = None
