"""Writing output files: whole or not at all, through links and devices, never over an input.

Every file the toolkit writes (solutions, instances, CSV tables, catalogs, workloads, plots, LP
and MPS models) goes through :func:`write_file`:

* the path is resolved first: a symbolic link is followed and its target written (the link
  stays a link);
* a regular file (new or existing) is written to a temporary file beside it
  (``.NAME.PID.XXXXXXXX.tmp.SUFFIX``; those a killed writer left are swept by the next write of
  the same file) and renamed over it,
  so an interrupted write leaves the old file or nothing, never half a file; the new file gets
  the permissions a plain ``open()`` would give it (``0666`` less the umask), an existing one
  keeps its own;
* anything else that exists — a character device such as ``/dev/null`` or ``/dev/stdout``, a
  FIFO — is written through directly: renaming over it would replace the device node;
* a folder, a missing parent folder, or one of the command's own input files is refused with
  one line (:class:`OutputError`) before anything is written.
"""

from __future__ import annotations

import contextlib
import glob
import os
import stat
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from .errors import PartialLoadingError


class OutputError(PartialLoadingError, OSError):
    """An output file cannot be written (a folder, a missing folder, an input, a failing device)."""


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_output(path: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]] = ()) -> Path:
    """The resolved path to write ``path`` to, or :class:`OutputError` if it cannot be.

    Call it before the work whose result is written, so that a bad path fails at once.
    """
    shown = os.fspath(path)
    if not shown:
        raise OutputError("output path is empty")
    real = Path(os.path.realpath(path))
    if real.is_dir():
        raise OutputError(f"{shown}: is a folder (give a file name)")
    if not real.parent.is_dir():
        raise OutputError(f"{shown}: folder {str(Path(shown).parent)!r} does not exist")
    for source in inputs:
        if os.path.realpath(source) == str(real):
            raise OutputError(f"{shown}: is the input file {os.fspath(source)}: refusing to overwrite it")
    if not real.exists() or real.is_file():
        # Only creating a file says whether the folder takes one (permissions, read-only or
        # special file systems such as /proc): try, and remove it at once. Overwriting a file
        # needs it as well: the new one is written beside it and renamed over it.
        try:
            fd, probe = tempfile.mkstemp(dir=real.parent, prefix=f".{real.name}.{os.getpid()}.", suffix=".probe")
        except OSError as exc:
            raise OutputError(f"{shown}: cannot write in {str(real.parent)!r} ({exc.strerror or exc})") from None
        os.close(fd)
        os.unlink(probe)
    return real


def check_folder(path: str | os.PathLike[str]) -> Path:
    """The folder ``path`` (existing, or to be created), or :class:`OutputError` if it cannot
    be: it is a file, lies below a file, or its nearest existing folder is not writable.

    Call it before the work whose results go there; :func:`make_folder` creates it afterwards.
    """
    shown = os.fspath(path)
    if not shown:
        raise OutputError("output folder is empty")
    real = Path(os.path.realpath(path))
    probe = real
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        what = "is a file" if probe == real else f"lies below the file {str(probe)!r}"
        raise OutputError(f"{shown}: {what}, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputError(f"{shown}: cannot write in {str(probe)!r} (permission denied)")
    return real


def make_folder(path: str | os.PathLike[str]) -> Path:
    """Create the folder ``path`` (checked by :func:`check_folder`) with its parents."""
    real = check_folder(path)
    try:
        real.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{os.fspath(path)}: cannot create the folder ({exc.strerror or exc})") from None
    return real


def write_file(
    path: str | os.PathLike[str],
    write: Callable[[Path], None],
    *,
    inputs: Iterable[str | os.PathLike[str]] = (),
) -> None:
    """Write ``path`` with ``write(target)``, which writes a whole file at the path it is given.

    The path given to ``write`` keeps the suffix of ``path`` (tools such as matplotlib and Pyomo
    choose the format from it).

    Raises
    ------
    OutputError
        The path is a folder, its folder does not exist, it is an input, or the write fails
        (``No space left on device``, ``Permission denied``, ...).
    """
    shown = os.fspath(path)
    real = check_output(path, inputs)
    try:
        mode = real.stat().st_mode if real.exists() else None
    except OSError as exc:
        raise OutputError(f"{shown}: cannot write ({exc.strerror or exc})") from None
    if mode is not None and not stat.S_ISREG(mode):
        # A device or a FIFO: write through it, as a shell redirection would.
        try:
            write(real)
        except OSError as exc:
            raise OutputError(f"{shown}: cannot write ({exc.strerror or exc})") from None
        return
    _sweep_stale(real)
    try:
        fd, tmp_name = tempfile.mkstemp(
            dir=real.parent, prefix=f".{real.name}.{os.getpid()}.", suffix=f".tmp{real.suffix}"
        )
    except OSError as exc:
        raise OutputError(f"{shown}: cannot write in {str(real.parent)!r} ({exc.strerror or exc})") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, stat.S_IMODE(mode) if mode is not None else 0o666 & ~_umask())
        os.replace(tmp, real)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{shown}: cannot write ({exc.strerror or exc})") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _sweep_stale(real: Path) -> None:
    """Remove the temporary files that killed writers of ``real`` left beside it (their names
    carry the writer's process id; a live writer's file is left alone)."""
    for tmp in real.parent.glob(f".{glob.escape(real.name)}.*.tmp{glob.escape(real.suffix)}"):
        pid = tmp.name[len(real.name) + 2 :].partition(".")[0]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                tmp.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


def write_text(path: str | os.PathLike[str], text: str, *, inputs: Iterable[str | os.PathLike[str]] = ()) -> None:
    """Write ``text`` (UTF-8) to ``path`` as :func:`write_file` does."""

    def put(target: Path) -> None:
        with open(target, "w", encoding="utf-8") as handle:
            handle.write(text)

    write_file(path, put, inputs=inputs)
