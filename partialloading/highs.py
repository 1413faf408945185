"""What every direct use of HiGHS (highspy) in the process needs: a silent solver object, and a
thread scheduler that a single-threaded solve can use whoever solved before.

highspy is imported by the functions here, when a solve needs it, never by importing this module.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import highspy


def reset_threads() -> None:
    """Let the next HiGHS solve choose its thread count again.

    HiGHS keeps one thread scheduler per process, created by the first solve: once another
    caller in the process (a user's own Pyomo model, the MILP method) has solved with the
    default threads, a solve asking for ``threads=1`` fails (``kError``, no model status and a
    dual bound of 0) — which, read as a bound, would be a false proof of optimality.
    """
    try:
        import highspy

        highspy.Highs.resetGlobalScheduler(True)
    except (ImportError, AttributeError):  # pragma: no cover - an older highspy without the call
        pass


_BANNER_SHOWN = False


def quiet_highs() -> highspy.Highs:
    """A silent ``Highs`` object; the first one of a process prints a banner, kept off stdout."""
    import highspy

    global _BANNER_SHOWN
    if _BANNER_SHOWN:
        highs = highspy.Highs()
    else:
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "w") as sink:
                os.dup2(sink.fileno(), 1)
                highs = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        _BANNER_SHOWN = True
    highs.setOptionValue("output_flag", False)
    return highs
