"""Checkpoint hashing: throughput against a plain read of the same file, and peak memory.

Writes a safetensors checkpoint of ``--size-gb`` GB (tensors of ``--tensor-mb`` MB of random
float16, streamed to disk, so the benchmark itself never holds the file), checks it with the
``safetensors`` package, then measures side by side, each the best of ``--repeats`` passes with
the file in the page cache (the passes of the three interleaved):

1. ``cat FILE > /dev/null``: the machine's plain read throughput;
2. the same read in Python (``readinto`` into the buffer size the digester uses);
3. :func:`partialloading.checkpoints.digest_tensors`: reading and XXH3-128 hashing every tensor;
4. ``partialloading blocks FILE`` as a separate process, with its peak resident memory
   (``wait4``), against the same command on a one-tensor checkpoint: the difference is what
   the 2 GB file costs in memory, to compare with one tensor.

A cold figure for ``cat`` (pages dropped with ``posix_fadvise``) is printed for reference.
The bar is the faster of the two plain reads. Exits 1 when hashing runs below 70% of it or the
memory difference reaches one tensor.

Run::

    python benchmarks/checkpoint_hashing.py                 # 2.2 GB file in a temporary folder
    python benchmarks/checkpoint_hashing.py --size-gb 0.5   # quick look
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

from partialloading.checkpoints import digest_tensors
from partialloading.checkpoints.safetensors_file import CHUNK_BYTES

from measure import best

MB = 1 << 20


def write_checkpoint(path: Path, size_bytes: int, tensor_bytes: int, seed: int) -> int:
    """Stream a float16 safetensors file of about ``size_bytes``; returns the tensor count."""
    count = max(1, size_bytes // tensor_bytes)
    elements = tensor_bytes // 2
    header: dict[str, object] = {"__metadata__": {"written_by": "benchmarks/checkpoint_hashing.py"}}
    for i in range(count):
        header[f"layers.{i}.weight"] = {
            "dtype": "F16",
            "shape": [elements // 1024, 1024],
            "data_offsets": [i * tensor_bytes, (i + 1) * tensor_bytes],
        }
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)  # the format pads the header to a multiple of 8
    rng = np.random.default_rng(seed)
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(text)))
        handle.write(text)
        for _ in range(count):
            handle.write(rng.integers(0, 256, tensor_bytes, dtype=np.uint8).tobytes())
    return count


def python_read(path: Path) -> None:
    view = memoryview(bytearray(CHUNK_BYTES))
    with open(path, "rb", buffering=0) as handle:
        while handle.readinto(view):
            pass


def drop_pages(path: Path) -> None:
    with open(path, "rb") as handle:
        os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def peak_rss_mb(args: list[str]) -> tuple[float, float]:
    """Run a command; return its peak resident memory (MB) and its wall time (s)."""
    start = time.perf_counter()
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed with status {process.returncode}")
    return usage.ru_maxrss / 1024, elapsed  # Linux reports kilobytes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=2.2, help="checkpoint size in GB (default 2.2)")
    parser.add_argument("--tensor-mb", type=int, default=128, help="size of each tensor in MiB (default 128)")
    parser.add_argument("--repeats", type=int, default=5, help="timed passes, the best counts (default 5)")
    parser.add_argument("--dir", help="folder for the checkpoint (default: a temporary folder, removed)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    folder = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="pl-hash-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        big = folder / "big.safetensors"
        tensor_bytes = args.tensor_mb * MB
        count = write_checkpoint(big, int(args.size_gb * 1e9), tensor_bytes, args.seed)
        size = big.stat().st_size
        with safe_open(str(big), framework="numpy") as check:  # the reference reader accepts it
            assert len(check.keys()) == count
        small = folder / "small.safetensors"
        save_file({"w": np.zeros((4, 4), dtype=np.float16)}, str(small))
        print(
            f"checkpoint: {size / 1e9:.2f} GB, {count} tensors of {tensor_bytes / 1e6:.0f} MB; "
            f"read buffer {CHUNK_BYTES / 1e6:.1f} MB"
        )

        python_read(big)  # into the page cache
        # Interleaved passes, so that all three see the same machine (another process, a cache flush).
        cat = plain = digest = float("inf")
        for _ in range(args.repeats):
            cat = min(cat, best(1, lambda: subprocess.run(["cat", str(big)], stdout=subprocess.DEVNULL, check=True)))
            plain = min(plain, best(1, lambda: python_read(big)))
            digest = min(digest, best(1, lambda: digest_tensors(str(big))))
        drop_pages(big)
        cold = best(1, lambda: subprocess.run(["cat", str(big)], stdout=subprocess.DEVNULL, check=True))

        exe = [sys.executable, "-m", "partialloading", "blocks", "--quiet", "-o", os.devnull]
        base_rss, _ = peak_rss_mb([*exe, str(small)])
        big_rss, wall = peak_rss_mb([*exe, str(big)])

        reference = min(cat, plain)  # the faster of the two plain reads is the bar

        def row(label: str, seconds: float) -> None:
            rate = size / seconds / 1e9
            print(f"  {label:<44} {seconds:>8.3f} s {rate:>8.2f} GB/s {reference / seconds:>9.0%}")

        print(
            f"  {'(warm page cache, best of ' + str(args.repeats) + ')':<44} {'time':>10} {'rate':>13} {'of read':>9}"
        )
        row("cat FILE > /dev/null", cat)
        row("Python readinto loop", plain)
        row("digest_tensors (read + XXH3-128)", digest)
        row("partialloading blocks (whole command)", wall)
        print(f"  cold cat after posix_fadvise(DONTNEED): {size / cold / 1e9:.2f} GB/s (for reference)")
        delta = big_rss - base_rss
        print(
            f"  peak RSS: {big_rss:.0f} MB on the {size / 1e9:.1f} GB file, {base_rss:.0f} MB on a one-tensor file: "
            f"+{delta:.0f} MB, one tensor is {tensor_bytes / 1e6:.0f} MB"
        )
        ratio = reference / digest
        failures = []
        if ratio < 0.70:
            failures.append(f"hashing at {ratio:.0%} of the plain read's throughput (gate: 70%)")
        if delta >= tensor_bytes / 1e6:
            failures.append(f"memory grew by {delta:.0f} MB, not below one tensor ({tensor_bytes / 1e6:.0f} MB)")
        for failure in failures:
            print(f"FAIL: {failure}")
        if not failures:
            print(
                f"gates passed: hashing at {ratio:.0%} of the faster plain read (>= 70%), "
                f"memory +{delta:.0f} MB (< one tensor)"
            )
        return 1 if failures else 0
    finally:
        if not args.dir:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
