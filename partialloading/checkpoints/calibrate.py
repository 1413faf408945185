"""Measured loading speed: checkpoint read throughput and host-to-GPU copy throughput.

Loading a model means reading its bytes (from the page cache when the server has served it
recently, from the disk otherwise) and copying them to GPU memory. :func:`calibrate` measures
both on this machine:

* **warm read**: the files are read once, then timed while in the page cache;
* **cold read**: each file's cached pages are dropped first (``posix_fadvise(DONTNEED)``, which
  needs no privileges but which the OS may ignore: the result says when the cold figure is
  no slower than the warm one);
* **host to GPU**: with PyTorch and a CUDA GPU (the ``gpu`` extra), a pinned host buffer copied
  to the device; skipped with a note otherwise.

The suggested ``load_speed_bytes_per_s`` treats reading and copying as two stages one after the
other (the bytes pass through both), ``1 / (1/read + 1/copy)``: what a loader that does not
overlap them achieves, and a lower bound for one that does.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CheckpointError
from .safetensors_file import read_checked_header
from .sources import resolve

_CHUNK = 16 << 20


@dataclass(frozen=True)
class Calibration:
    """Measured throughputs (bytes per second) and the loading speed they suggest.

    Parameters
    ----------
    files
        The files read.
    total_bytes
        Their size.
    warm_read, cold_read
        Read throughput from the page cache, and after dropping the cached pages (``None``: the
        OS does not offer the call).
    host_to_gpu
        Copy throughput from pinned host memory to the GPU (``None``: no GPU measurement).
    notes
        What was skipped or may be off, one sentence each.
    source
        ``"warm"`` or ``"cold"``: the read figure the suggestion uses.
    """

    files: tuple[str, ...]
    total_bytes: int
    warm_read: float
    cold_read: float | None
    host_to_gpu: float | None
    source: str = "warm"
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def load_speed_bytes_per_s(self) -> float:
        """The suggested instance ``server.load_speed_bytes_per_s``."""
        read = self.cold_read if self.source == "cold" and self.cold_read is not None else self.warm_read
        if self.host_to_gpu is None:
            return read
        return 1.0 / (1.0 / read + 1.0 / self.host_to_gpu)


def checkpoint_files(paths: Sequence[str | os.PathLike[str]]) -> tuple[str, ...]:
    """The distinct safetensors files behind ``paths`` (checkpoints as :func:`~.sources.resolve` reads them)."""
    files: dict[str, None] = {}
    for source in resolve(paths):
        for part in source.parts:
            files.setdefault(os.path.realpath(part.path))
    for name in files:
        # Timing a file that is not a checkpoint would suggest a speed from nothing real.
        read_checked_header(name)
    return tuple(files)


def _read_all(files: Sequence[str], buffer: bytearray, drop: bool) -> tuple[float, int]:
    view = memoryview(buffer)
    total = 0
    elapsed = 0.0
    for name in files:
        with open(name, "rb", buffering=0) as handle:
            if drop:
                os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
            start = time.perf_counter()
            while n := handle.readinto(view):
                total += n
            elapsed += time.perf_counter() - start
    return elapsed, total


def _gpu_copy(nbytes: int, repeats: int) -> tuple[float | None, str | None]:
    try:
        import torch
    except ImportError:
        return None, "host-to-GPU copy skipped: PyTorch is not installed (pip install 'partialloading[gpu]')"
    if not torch.cuda.is_available():
        return None, "host-to-GPU copy skipped: PyTorch finds no CUDA GPU"
    size = max(1 << 20, min(nbytes, 1 << 30))
    host = torch.empty(size, dtype=torch.uint8, pin_memory=True)
    device = torch.empty(size, dtype=torch.uint8, device="cuda")
    device.copy_(host, non_blocking=True)  # the first copy pays for setting up the context
    torch.cuda.synchronize()
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        device.copy_(host, non_blocking=True)
        torch.cuda.synchronize()
        best = max(best, size / (time.perf_counter() - start))
    return best, None


def calibrate(
    paths: Sequence[str | os.PathLike[str]], repeats: int = 3, source: str = "warm", gpu: bool = True
) -> Calibration:
    """Measure the read and copy throughput for the checkpoints at ``paths``.

    Parameters
    ----------
    paths
        Checkpoints (files or folders, as for :func:`~.partition.derive`).
    repeats
        Timed passes of each measurement; the best one counts (the others lost to noise).
    source
        ``"warm"`` or ``"cold"``: which read figure the suggested speed uses.
    gpu
        Measure the host-to-GPU copy when PyTorch and a GPU are present.

    Raises
    ------
    CheckpointError
        A path is not a checkpoint, ``repeats`` is below 1 or ``source`` unknown.
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise CheckpointError("", "--repeats", f"must be a positive integer (got {repeats!r})")
    if source not in ("warm", "cold"):
        raise CheckpointError("", "--source", f"must be warm or cold (got {source!r})")
    files = checkpoint_files(paths)
    size = sum(Path(f).stat().st_size for f in files)
    if size == 0:
        raise CheckpointError(files[0], "", "the files are empty: nothing to time")
    buffer = bytearray(_CHUNK)
    notes: list[str] = []
    _read_all(files, buffer, drop=False)  # bring every page into the cache
    warm = max(total / elapsed for elapsed, total in (_read_all(files, buffer, False) for _ in range(repeats)))
    cold: float | None = None
    if hasattr(os, "posix_fadvise"):
        cold = max(total / elapsed for elapsed, total in (_read_all(files, buffer, True) for _ in range(repeats)))
        if cold >= 0.8 * warm:
            notes.append(
                "cold read is close to warm: the OS kept the pages (or the disk is as fast as the cache); "
                "drop the caches as root (echo 1 > /proc/sys/vm/drop_caches) for a true cold figure"
            )
        _read_all(files, buffer, drop=False)  # leave the files cached, as they were
    else:  # pragma: no cover - every Linux and macOS Python has it
        notes.append("cold read skipped: this OS offers no posix_fadvise")
    if size < (64 << 20):
        notes.append(f"only {size / 1e6:.1f} MB read: figures for small files are dominated by per-call costs")
    copy, note = _gpu_copy(size, repeats) if gpu else (None, "host-to-GPU copy not measured (--no-gpu)")
    if note:
        notes.append(note)
    return Calibration(files, size, warm, cold, copy, source, tuple(notes))
