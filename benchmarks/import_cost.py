"""What a fresh process pays before its first answer: ``import partialloading``, ``--help`` and a
first small ``greedy`` solve, each in a new interpreter (medians of ``--repeats`` runs).

Prints the import time, which heavy libraries the import and ``--help`` load (Pyomo, HiGHS,
OR-Tools, SCIP and numba must not be among them: a method imports what it runs), the time of
``partialloading --help``, and for the first solve of a 5-user instance both the runtime it
reports and its wall time (the method's code loaded included).

Run::

    python benchmarks/import_cost.py
    python benchmarks/import_cost.py --repeats 9
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile

HEAVY = ("pyomo", "highspy", "ortools", "pyscipopt", "numba", "scipy", "pandas", "matplotlib", "networkx", "jsonschema")
"""Libraries worth not loading before they are needed (the first five: solvers and a compiler)."""

PROBE = """
import contextlib, io, json, sys, time
started = time.perf_counter()
import partialloading as pl
imported = time.perf_counter() - started
loaded = [m for m in HEAVY if m in sys.modules]
if MODE == "help":
    from partialloading.cli import main
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            main(["--help"])
        except SystemExit:
            pass
    print(json.dumps({"seconds": time.perf_counter() - started, "loaded": [m for m in HEAVY if m in sys.modules]}))
else:
    from partialloading.scenarios import random_instance
    inst = random_instance(0, n_users=5)
    before = time.perf_counter()
    result = pl.solve(inst, "greedy")
    wall = time.perf_counter() - before
    print(json.dumps({"import": imported, "loaded": loaded, "runtime": result.runtime, "wall": wall}))
"""


def probe(mode: str) -> dict[str, object]:
    """One fresh interpreter running :data:`PROBE` in ``mode`` (``"help"`` or ``"solve"``)."""
    code = f"HEAVY = {HEAVY!r}\nMODE = {mode!r}\n{PROBE}"
    # From a neutral folder: `-c` puts the working directory first on the path, and the
    # checkout's folder is not the installed package (its solvers live beside it).
    run = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=tempfile.gettempdir()
    )
    out = run.stdout
    data: dict[str, object] = json.loads(out.splitlines()[-1])
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="fresh interpreters per figure (median)")
    args = parser.parse_args()
    solves = [probe("solve") for _ in range(args.repeats)]
    helps = [probe("help") for _ in range(args.repeats)]

    def median(rows: list[dict[str, object]], key: str) -> float:
        return statistics.median(float(row[key]) for row in rows)  # type: ignore[arg-type]

    print(f"import partialloading:        {1e3 * median(solves, 'import'):7.1f} ms, loads {solves[0]['loaded']}")
    print(f"partialloading --help:        {1e3 * median(helps, 'seconds'):7.1f} ms, loads {helps[0]['loaded']}")
    print(f"first greedy solve (5 users): {1e3 * median(solves, 'runtime'):7.2f} ms reported runtime")
    print(f"                              {1e3 * median(solves, 'wall'):7.1f} ms wall (its code loaded included)")


if __name__ == "__main__":
    main()
