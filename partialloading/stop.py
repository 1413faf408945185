"""One stopping object: a wall-clock :class:`Deadline` that every backend checks.

``solve(..., time_limit=T)`` makes one deadline ``T`` seconds from its start; every step of the
solve reads it instead of keeping a clock of its own: the warm start gets a share of what is left
(:meth:`Deadline.share`), a side computation a capped part (:meth:`Deadline.capped`), an
external solver the seconds left (:meth:`Deadline.seconds`), a search loop asks
:meth:`Deadline.expired` (or calls the deadline, which takes and ignores a node count, so it is
a ready ``stop`` callback).

An interrupt ends every deadline at once: :func:`interruptible` turns the first Ctrl-C (or
SIGTERM) into :func:`interrupt`, after which every deadline has expired, so every search stops
as at its time limit and returns its best schedule; the external solvers are told through their
own interrupt hooks (HiGHS's callback, CP-SAT's ``stop_search``, SCIP's own Ctrl-C handling).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

_INTERRUPTED = threading.Event()


def interrupt() -> None:
    """End every deadline now (the searches stop as at their time limit)."""
    _INTERRUPTED.set()


def interrupted() -> bool:
    """Whether :func:`interrupt` was called (since :func:`interruptible` began)."""
    return _INTERRUPTED.is_set()


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Within: the first SIGINT or SIGTERM calls :func:`interrupt` (the solve ends with its best
    schedule), a second one stops at once (:class:`KeyboardInterrupt`). On the main thread only;
    elsewhere signals keep their handlers."""

    def handle(signum: int, frame: object) -> None:
        if _INTERRUPTED.is_set():
            raise KeyboardInterrupt
        interrupt()

    _INTERRUPTED.clear()
    main = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)} if main else {}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _INTERRUPTED.clear()


@dataclass(frozen=True)
class Deadline:
    """A point in time (``time.perf_counter()``) after which work stops; ``end=None``: never.

    Attributes
    ----------
    end
        The ``time.perf_counter()`` value of the deadline, or ``None`` for no limit.
    """

    end: float | None = None

    @classmethod
    def after(cls, seconds: float | None) -> Deadline:
        """The deadline ``seconds`` from now (``None``: never)."""
        return cls(None if seconds is None else time.perf_counter() + float(seconds))

    @property
    def limited(self) -> bool:
        """Whether there is a deadline at all."""
        return self.end is not None

    def remaining(self) -> float | None:
        """Seconds left (never negative), ``None`` without a deadline (0 once interrupted)."""
        if _INTERRUPTED.is_set():
            return 0.0
        return None if self.end is None else max(self.end - time.perf_counter(), 0.0)

    def seconds(self, floor: float = 0.01) -> float | None:
        """Seconds left for a solver that takes a time limit: at least ``floor`` (a solver given
        0 s may refuse to return even its start), ``None`` without a deadline."""
        left = self.remaining()
        return None if left is None else max(left, floor)

    def expired(self) -> bool:
        """Whether the deadline has passed (or the work was interrupted)."""
        return _INTERRUPTED.is_set() or (self.end is not None and time.perf_counter() > self.end)

    def __call__(self, nodes: int = 0) -> bool:
        """:meth:`expired`, as a ``stop(nodes)`` callback of a search."""
        return self.expired()

    def share(self, fraction: float) -> Deadline:
        """A deadline ``fraction`` of the time left from now (the same one without a limit)."""
        if self.end is None:
            return self
        now = time.perf_counter()
        return Deadline(now + fraction * max(self.end - now, 0.0))

    def capped(self, seconds: float) -> Deadline:
        """This deadline, or ``seconds`` from now if that comes first."""
        end = time.perf_counter() + seconds
        return Deadline(end if self.end is None else min(end, self.end))


NEVER = Deadline()
"""No deadline."""
