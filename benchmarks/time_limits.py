"""Does ``--time-limit`` bound the whole command? Limit against wall time, per method and size.

For every size, deadline kind and timing model it writes one ``zoo-mixed`` instance (per-user or
common deadlines, ``--seed``) and runs ``partialloading solve FILE --method M --time-limit L
--output OUT.json`` as a separate process, for every exact method that supports the timing model
(``milp``, ``cpsat`` and ``bnb`` on frame timing; ``milp`` on pipelined timing). The wall time is
the process's, from start to exit: Python's start and imports, reading the instance, greedy's
warm start, building the model, the solve and writing the solution. The promise is a wall time
of at most the limit plus one second; the last column says whether each run kept it, and the
run exits 1 if one did not.

Run::

    python benchmarks/time_limits.py                        # 80 and 300 users, limit 10 s: ~3 minutes
    python benchmarks/time_limits.py --sizes 300 --limit 5
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import partialloading as pl
from partialloading import scenarios
from partialloading.io import write_instance

SLACK_S = 1.0
"""How far past its limit a command may end."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="80,300", help="numbers of users (default 80,300)")
    parser.add_argument("--limit", type=float, default=10.0, help="--time-limit of every run (default 10)")
    parser.add_argument("--seed", type=int, default=1, help="instance seed (default 1)")
    parser.add_argument("--methods", default="milp,cpsat,bnb", help="methods (default milp,cpsat,bnb)")
    args = parser.parse_args(argv)
    methods = args.methods.split(",")
    print(
        f"--time-limit {args.limit:g} s; a run keeps the promise when its wall time is at most "
        f"{args.limit + SLACK_S:g} s"
    )
    print(
        f"{'users':>5} {'deadlines':<9} {'timing':<9} {'method':<6} {'status':<10} "
        f"{'reported s':>10} {'wall s':>7} kept"
    )
    broken = 0
    with tempfile.TemporaryDirectory() as tmp:
        for users in (int(x) for x in args.sizes.split(",")):
            for deadlines in ("per_user", "common"):
                for timing in ("frame", "pipelined"):
                    inst = scenarios.generate("zoo-mixed", args.seed, n_users=users, deadlines=deadlines)
                    inst = dataclasses.replace(inst, timing=timing)
                    path = Path(tmp) / f"{users}-{deadlines}-{timing}.json"
                    write_instance(inst, path)
                    for method in methods:
                        if pl.METHODS[method].unsupported(inst) is not None:
                            continue
                        out = Path(tmp) / "out.json"
                        command = [sys.executable, "-m", "partialloading", "solve", str(path), "--method", method]
                        command += ["--time-limit", str(args.limit), "--quiet", "--output", str(out)]
                        started = time.perf_counter()
                        # From the temporary folder: `-m` puts the working directory first on the path.
                        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=tmp)
                        wall = time.perf_counter() - started
                        status, reported = "error", float("nan")
                        if done.returncode == 0:
                            first = done.stdout.splitlines()[0]
                            status = first.split("status ")[1].split(",")[0]
                            reported = float(first.rsplit("runtime ", 1)[1].rstrip("s"))
                        kept = wall <= args.limit + SLACK_S and done.returncode == 0
                        broken += not kept
                        print(
                            f"{users:>5} {deadlines:<9} {timing:<9} {method:<6} {status:<10} {reported:>10.2f} "
                            f"{wall:>7.2f} {'yes' if kept else 'NO'}",
                            flush=True,
                        )
                        if done.returncode != 0:
                            print(done.stderr.strip().splitlines()[-1], flush=True)
    print("every run kept its limit" if not broken else f"{broken} run(s) broke the promise")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
