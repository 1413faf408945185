"""Running the command line in a child process and killing it in the middle (``from processes import ...``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path


def kill_midway(argv: Sequence[str], cwd: Path, rows: Callable[[], int], timeout: float = 120.0) -> int:
    """Run ``partialloading ARGV`` and SIGKILL its whole process group once ``rows()`` is at least 1.

    Returns ``rows()`` after the kill. The child runs outside the repository (there ``-m`` would
    import the source folder, which lacks the subpackages the installation maps in) and in its own
    process group, so that the kill takes its pool workers too.
    """
    errors = cwd / "killed-stderr.txt"
    with errors.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "partialloading", *argv],
            cwd=cwd,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            limit = time.monotonic() + timeout
            while rows() < 1 and proc.poll() is None and time.monotonic() < limit:
                time.sleep(0.02)
            assert proc.poll() is None, f"the command ended before the kill: {errors.read_text()}"
            os.killpg(proc.pid, signal.SIGKILL)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return rows()
