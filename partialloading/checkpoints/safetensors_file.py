"""One ``.safetensors`` file: its checked header and the digests of its tensors' bytes.

A safetensors file is an 8-byte little-endian header length ``N``, ``N`` bytes of JSON that
map each tensor name to its ``dtype``, ``shape`` and ``data_offsets`` (relative to the end of
the header), then the tensor bytes. The header is checked here with messages that say what is
wrong, then once more by the ``safetensors`` package itself, which is the reference reader. The
bytes are then streamed through one reusable buffer in offset order (memory stays at one buffer,
whatever the size of a tensor or the file) and hashed with XXH3-128 while the next part is read.
"""

from __future__ import annotations

import io
import json
import math
import os
import queue
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import xxhash
from safetensors import SafetensorError, safe_open

from .errors import CheckpointError

DTYPE_BYTES: dict[str, int] = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E5M2": 1,
    "F8_E4M3": 1,
    "F8_E8M0": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
    "C64": 8,
}
"""Bytes per element of the safetensors dtypes (sub-byte types like F4 are not supported)."""

MAX_HEADER_BYTES = 100_000_000
"""The safetensors package refuses headers beyond 100 MB; so does this reader."""

CHUNK_BYTES = 8 << 20
"""Size of the read buffer: large enough for full disk and page-cache speed, small for memory."""


@dataclass(frozen=True)
class TensorDigest:
    """One tensor of a checkpoint: where it is, what it holds, and the digest of its bytes.

    Parameters
    ----------
    name
        Tensor name in the file.
    dtype, shape
        As in the header.
    nbytes
        Size of the tensor's bytes.
    digest
        XXH3-128 of the bytes, as 32 hex digits.
    """

    name: str
    dtype: str
    shape: tuple[int, ...]
    nbytes: int
    digest: str

    @property
    def content(self) -> tuple[str, tuple[int, ...], int, str]:
        """What makes two tensors the same parameters: dtype, shape and bytes."""
        return (self.dtype, self.shape, self.nbytes, self.digest)


@dataclass(frozen=True)
class _Entry:
    name: str
    dtype: str
    shape: tuple[int, ...]
    start: int
    end: int


def read_header(path: str) -> tuple[list[_Entry], int, int]:
    """The tensors of ``path`` sorted by offset, the offset of the data and the file size."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as handle:
            prefix = handle.read(8)
            if len(prefix) < 8:
                raise CheckpointError(
                    path, "", f"not a safetensors file: {size} bytes, shorter than the 8-byte header length"
                )
            (length,) = struct.unpack("<Q", prefix)
            if handle.read(1) not in (b"{", b""):
                raise CheckpointError(path, "header", "not a safetensors file: no JSON header after the 8-byte length")
            handle.seek(8)
            if length > size - 8:
                raise CheckpointError(
                    path,
                    "header",
                    f"header length {length} reaches beyond the end of the file ({size} bytes): truncated?",
                )
            if length > MAX_HEADER_BYTES:
                raise CheckpointError(
                    path, "header", f"header length {length} exceeds the {MAX_HEADER_BYTES}-byte limit"
                )
            raw = handle.read(length)
    except OSError as exc:
        raise CheckpointError(path, "", f"cannot read the file ({exc.strerror or exc})") from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise CheckpointError(path, "header", "not a safetensors file: the header is not JSON") from None
    if not isinstance(header, dict):
        raise CheckpointError(path, "header", "not a safetensors file: the header is not a JSON object")
    data_start = 8 + length
    entries = []
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        where = f"tensor {name!r}"
        if not isinstance(spec, dict) or not {"dtype", "shape", "data_offsets"} <= set(spec):
            raise CheckpointError(path, where, "needs dtype, shape and data_offsets")
        dtype, shape, offsets = spec["dtype"], spec["shape"], spec["data_offsets"]
        if dtype not in DTYPE_BYTES:
            raise CheckpointError(path, where, f"unsupported dtype {dtype!r}")
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise CheckpointError(path, where, f"shape must be a list of non-negative integers (got {shape!r})")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1]
        ):
            raise CheckpointError(
                path, where, f"data_offsets must be [begin, end] with 0 <= begin <= end (got {offsets!r})"
            )
        expected = math.prod(shape) * DTYPE_BYTES[dtype]
        if offsets[1] - offsets[0] != expected:
            raise CheckpointError(
                path, where, f"data_offsets span {offsets[1] - offsets[0]} bytes, dtype and shape need {expected}"
            )
        if data_start + offsets[1] > size:
            raise CheckpointError(
                path,
                where,
                f"data ends at byte {data_start + offsets[1]}, beyond the end of the file ({size} bytes): truncated?",
            )
        entries.append(_Entry(name, dtype, tuple(shape), offsets[0], offsets[1]))
    entries.sort(key=lambda e: (e.start, e.end, e.name))
    return entries, data_start, size


def read_checked_header(path: str) -> tuple[list[_Entry], int]:
    """The checked header of ``path`` (entries in offset order, data offset).

    Raises
    ------
    CheckpointError
        The file cannot be read, is not a safetensors file, is truncated, or the ``safetensors``
        package refuses it.
    """
    entries, data_start, _ = read_header(path)
    try:
        with safe_open(path, framework="numpy") as reference:
            names = set(reference.keys())
    except SafetensorError as exc:
        raise CheckpointError(path, "", f"not a valid safetensors file ({exc})") from None
    except OSError as exc:
        raise CheckpointError(path, "", f"cannot read the file ({exc.strerror or exc})") from None
    if names != {e.name for e in entries}:  # pragma: no cover - both readers parse one header
        raise CheckpointError(path, "header", "the safetensors package reads other tensor names")
    return entries, data_start


def _read_spans(
    handle: io.RawIOBase,
    spans: list[tuple[int, int]],
    halves: list[memoryview],
    free: queue.Queue[int],
    full: queue.Queue[Any],
) -> None:
    """Reader thread: fill the free buffer halves with the bytes of ``spans``, in order."""
    try:
        position = -1
        for begin, end in spans:
            if begin != position:
                handle.seek(begin)
            remaining = end - begin
            while remaining:
                half = free.get()
                if half < 0:  # the consumer gave up
                    return
                n = handle.readinto(halves[half][: min(remaining, len(halves[half]))])
                if not n:
                    raise EOFError
                full.put((half, n))
                remaining -= n
            position = end
        full.put(None)
    except BaseException as exc:  # handed to the consumer, which raises it with the file's name
        full.put(exc)


def digest_tensors(
    path: str,
    wanted: set[str] | None = None,
    buffer: bytearray | None = None,
    progress: Callable[[int], object] | None = None,
) -> list[TensorDigest]:
    """Digest the tensors of the safetensors file ``path`` (all, or those named in ``wanted``).

    A reader thread fills one half of the buffer while this thread hashes the other, so the
    read and the hash overlap (both release the interpreter lock for large buffers).

    Parameters
    ----------
    path
        The file.
    wanted
        Names to digest (``None``: every tensor). A name that is not in the file is an error.
    buffer
        The read buffer to reuse, split in two halves (default: a new one of :data:`CHUNK_BYTES`).
    progress
        Called with the number of bytes read after each read.

    Returns
    -------
    list of TensorDigest
        In offset order.
    """
    entries, data_start = read_checked_header(path)
    if wanted is not None:
        missing = sorted(wanted - {e.name for e in entries})
        if missing:
            raise CheckpointError(path, f"tensor {missing[0]!r}", "named by the shard index but not in this file")
        entries = [e for e in entries if e.name in wanted]
    buf = buffer if buffer is not None else bytearray(CHUNK_BYTES)
    view = memoryview(buf)
    middle = max(1, len(buf) // 2)
    halves = [view[:middle], view[middle:]] if len(buf) > 1 else [view, view]
    spans = [(data_start + e.start, data_start + e.end) for e in entries if e.end > e.start]
    free: queue.Queue[int] = queue.Queue()
    full: queue.Queue[Any] = queue.Queue()
    free.put(0)
    if halves[1] is not halves[0]:
        free.put(1)
    out = []
    try:
        with open(path, "rb", buffering=0) as handle:
            reader = threading.Thread(target=_read_spans, args=(handle, spans, halves, free, full), daemon=True)
            reader.start()
            try:
                for entry in entries:
                    hasher = xxhash.xxh3_128()
                    remaining = entry.end - entry.start
                    while remaining:
                        item = full.get()
                        if isinstance(item, EOFError) or item is None:
                            raise CheckpointError(path, f"tensor {entry.name!r}", "the file ended early (truncated?)")
                        if isinstance(item, BaseException):
                            raise item
                        half, n = item
                        hasher.update(halves[half][:n])
                        free.put(half)
                        remaining -= n
                        if progress is not None:
                            progress(n)
                    out.append(
                        TensorDigest(entry.name, entry.dtype, entry.shape, entry.end - entry.start, hasher.hexdigest())
                    )
            finally:
                free.put(-1)
                reader.join()
    except OSError as exc:
        raise CheckpointError(path, "", f"cannot read the file ({exc.strerror or exc})") from None
    return out
