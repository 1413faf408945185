"""Speed and memory of replaying a request trace: rows per second and peak memory, by trace size.

Writes traces in the Azure LLM inference layout (``TIMESTAMP,ContextTokens,GeneratedTokens``;
arrivals 5 ms apart, token counts drawn like the published trace's: prompts of 2 to 4,000 tokens,
outputs of 10 to 600) of each size, and converts each with ``partialloading workload zoo-lora
--from-trace FILE --format azure-llm --map hash`` as a separate process. It reports the wall
time of the conversion, the rows per second and the process's peak resident memory (``ru_maxrss``
of the child), side by side, so that the memory of a million rows reads against ten thousand.

Run::

    python benchmarks/trace_replay.py                    # 10,000 and 1,000,000 rows: ~15 s
    python benchmarks/trace_replay.py --rows 10000,100000,1000000,3000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TARGET_ROWS_PER_S = 200_000


def write_trace(path: Path, rows: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    start = dt.datetime(2023, 11, 16, 18, 15, 46)
    stamps = np.datetime64(start) + (np.arange(rows) * 5_000_000).astype("timedelta64[ns]")
    text = np.datetime_as_string(stamps, unit="us")
    prompt = rng.integers(2, 4000, rows)
    output = rng.integers(10, 600, rows)
    with open(path, "w") as handle:
        handle.write("TIMESTAMP,ContextTokens,GeneratedTokens\n")
        for chunk in range(0, rows, 200_000):
            part = slice(chunk, chunk + 200_000)
            lines = [
                f"{t.replace('T', ' ')}0,{p},{o}\n"
                for t, p, o in zip(text[part], prompt[part].tolist(), output[part].tolist(), strict=True)
            ]
            handle.writelines(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10000,1000000", help="trace sizes (default 10000,1000000)")
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.rows.split(",")]
    print(f"{'rows':>9} {'trace MB':>9} {'seconds':>8} {'rows/s':>9} {'peak RSS MB':>12}")
    slow = False
    with tempfile.TemporaryDirectory() as tmp:
        for rows in sizes:
            trace = Path(tmp) / f"trace-{rows}.csv"
            # Written by a child, so that this process stays small (a child's peak memory counts
            # what it inherited before it started the command).
            writer = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import trace_replay as t; "
            writer += f"t.write_trace(t.Path({str(trace)!r}), {rows})"
            subprocess.run([sys.executable, "-c", writer], check=True)
            out = Path(tmp) / f"w-{rows}.json"
            command = [sys.executable, "-m", "partialloading", "workload", "zoo-lora", "--from-trace", str(trace)]
            command += ["--format", "azure-llm", "--map", "hash", "-o", str(out)]
            started = time.perf_counter()
            proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _, status, usage = os.wait4(proc.pid, 0)
            seconds = time.perf_counter() - started
            if status:
                raise SystemExit(f"the conversion of {rows} rows failed")
            peak = usage.ru_maxrss / 1024  # this command's own peak (Linux: kB)
            rate = rows / seconds
            slow |= rows >= 1_000_000 and rate < TARGET_ROWS_PER_S
            print(
                f"{rows:>9} {trace.stat().st_size / 1e6:>9.1f} {seconds:>8.2f} {rate:>9.0f} {peak:>12.0f}", flush=True
            )
    print(f"target: at least {TARGET_ROWS_PER_S:,} rows/s on a million rows, memory not growing with the trace")
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
