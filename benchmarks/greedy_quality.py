"""Quality and speed of the greedy heuristic (``method="greedy"``) against the exact optimum.

Quality: for each instance family the optimality gap ``(opt − greedy)/opt`` of greedy against an
exact method (``enumerate`` up to 10 users; the MILP for 11–15 users; the DP for backbone sharing
with one deadline; the Moore–Hodgson optimum for instances without loading cost; CP-SAT for 20–40
users, reported but not gated), its distribution (mean, median, p95, max), how often greedy is
optimal, and the two baselines it must never lose to: ``edf`` and the no-sharing optimum
(``enumerate`` with ``sharing=False``). Gates: mean gap ≤ 1% and max ≤ 10% over the gated
families, never below ``edf``, always optimal without loading cost.

Small instances: greedy's median and 90th-percentile runtime at 5–20 users (general and backbone
sharing, per-user deadlines, integer weights) and how often it proves its schedule optimal.

Speed: generated general-sharing instances with per-user deadlines and weights at 1e2…1e4 users
(50 users per model, 200 models at 1e4). Each is written with ``write_instance`` and timed
side by side: reading and validating the file (``read_instance``), ``edf`` and ``greedy``; every
greedy schedule is checked by the independent verifier.

Run ``python benchmarks/greedy_quality.py`` (about 10 minutes on 2 shared cores) or with
``--quick`` (about a minute).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from partialloading import solve
from partialloading.instance import Instance
from partialloading.io import read_instance, write_instance
from partialloading.result import Status
from partialloading.scenarios import random_instance
from partialloading.validation.references import no_loading_instance, no_loading_optimum
from partialloading.validation.verify import verify_solution


@dataclass(frozen=True)
class Family:
    """A family of generated instances and the exact method that gives their optimum."""

    name: str
    make: Callable[[int], Instance]
    exact: str  # "enumerate", "milp", "cpsat", "dp" or "moore-hodgson"
    gated: bool = True  # counts towards the gap gates (instances of up to 15 users)
    share: int = 1  # runs count // share instances (slow exact methods)


def _general(
    deadlines: str,
    *,
    weighted: bool = False,
    initial: bool = False,
    structure: str = "general",
    low: int = 6,
    span: int = 5,
) -> Callable[[int], Instance]:
    def make(seed: int) -> Instance:
        n = low + seed % span  # low … low+span-1 users
        return random_instance(
            seed,
            n_users=n,
            n_models=2 + seed % 4,
            structure=structure,  # type: ignore[arg-type]
            deadlines=deadlines,  # type: ignore[arg-type]
            weighted=weighted,
            initial_model=initial,
        )

    return make


FAMILIES = (
    Family("general/common", _general("common"), "enumerate"),
    Family("general/per-user", _general("per_user"), "enumerate"),
    Family("general/per-user/weighted", _general("per_user", weighted=True), "enumerate"),
    Family("general/per-user/initial", _general("per_user", initial=True), "enumerate"),
    Family("none/per-user", _general("per_user", structure="none"), "enumerate"),
    Family(
        "backbone/per-user/weighted/init",
        _general("per_user", structure="backbone", weighted=True, initial=True),
        "enumerate",
    ),
    Family("backbone/common 10-59 [DP]", _general("common", structure="backbone", low=10, span=50), "dp"),
    Family("general/per-user 11-15 [MILP]", _general("per_user", low=11), "milp", share=4),
    Family(
        "general/per-user 20-40 [CP-SAT]",
        _general("per_user", weighted=True, initial=True, low=20, span=21),
        "cpsat",
        gated=False,
        share=5,
    ),
    Family("no-loading [Moore-Hodgson]", lambda seed: no_loading_instance(seed, 8 + seed % 30), "moore-hodgson"),
)


EXACT_TIME_LIMIT = {"milp": 120.0, "cpsat": 30.0}
"""Seconds per MILP / CP-SAT run; instances not proven optimal are left out (and counted)."""


def _optimum(inst: Instance, exact: str) -> float | None:
    if exact == "moore-hodgson":
        return float(no_loading_optimum(inst))
    if exact in EXACT_TIME_LIMIT:
        res = solve(inst, exact, time_limit=EXACT_TIME_LIMIT[exact])
        return res.objective if res.status == Status.OPTIMAL else None
    return solve(inst, exact).objective


def quality(count: int) -> bool:
    """Print the gap table; ``True`` when every gate holds."""
    print(f"Quality: {count} instances per family, gap = (opt - greedy) / opt")
    head = (
        f"{'family':31} {'exact':14} {'mean':>7} {'median':>7} {'p95':>7} {'max':>7} {'optimal':>8}"
        f" {'<edf':>5} {'<ns-opt':>8} {'s/inst':>7}"
    )
    print(head)
    print("-" * len(head))
    ok = True
    all_gaps: list[float] = []
    for fam in FAMILIES:
        gaps, worse_edf, worse_ns, runtime, unproven = [], 0, 0, 0.0, 0
        for seed in range(max(count // fam.share, 4)):
            inst = fam.make(seed)
            opt = _optimum(inst, fam.exact)
            if opt is None:
                unproven += 1
                continue
            res = solve(inst, "greedy", seed=seed)
            runtime += res.runtime
            gaps.append((opt - res.objective) / opt if opt > 0 else 0.0)
            worse_edf += res.objective < solve(inst, "edf").objective - 1e-9
            if fam.exact == "enumerate":
                worse_ns += res.objective < solve(inst, "enumerate", sharing=False).objective - 1e-9
        g = np.asarray(gaps)
        if fam.gated:
            all_gaps += gaps
        rate = float(np.mean(g <= 1e-12))
        ns = f"{worse_ns:8d}" if fam.exact == "enumerate" else f"{'-':>8}"
        print(
            f"{fam.name:31} {fam.exact:14} {g.mean():7.2%} {np.median(g):7.2%} {np.quantile(g, 0.95):7.2%}"
            f" {g.max():7.2%} {rate:8.1%} {worse_edf:5d} {ns} {runtime / len(gaps):7.3f}"
            + (f"  ({unproven} not proven optimal, left out)" if unproven else "")
            + ("" if fam.gated else "  [not gated]")
        )
        ok &= worse_edf == 0
        if fam.exact == "moore-hodgson":
            ok &= g.max() == 0
    g = np.asarray(all_gaps)
    stats = f"{g.mean():7.2%} {np.median(g):7.2%} {np.quantile(g, 0.95):7.2%} {g.max():7.2%}"
    print(f"{'all gated families':31} {'':14} {stats}")
    gates = g.mean() <= 0.01 and g.max() <= 0.10
    print(
        f"gates (mean <= 1%, max <= 10%, never below edf, exact without loading): {'PASS' if ok and gates else 'FAIL'}"
    )
    return ok and gates


def speed(sizes: list[int]) -> bool:
    """Print the runtime table; ``True`` when every greedy schedule passes the verifier."""
    print()
    print("Speed: general sharing, per-user deadlines, weights (50 users per model)")
    head = (
        f"{'users':>7} {'models':>6} {'read s':>8} {'edf s':>8} {'greedy s':>9} {'greedy/read':>11}"
        f" {'edf obj':>9} {'greedy obj':>10} {'verified':>8}"
    )
    print(head)
    print("-" * len(head))
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            models = max(2, n // 50)
            inst = random_instance(
                7, n_users=n, n_models=models, structure="general", deadlines="per_user", weighted=True
            )
            path = Path(tmp) / f"general-{n}.json"
            write_instance(inst, path)
            started = time.perf_counter()
            inst = read_instance(path)
            read_s = time.perf_counter() - started
            base = solve(inst, "edf")
            res = solve(inst, "greedy", seed=0)
            report = verify_solution(inst, res.to_dict())
            ok &= report.ok
            print(
                f"{n:7d} {models:6d} {read_s:8.3f} {base.runtime:8.3f} {res.runtime:9.3f} {res.runtime / read_s:11.2f}"
                f" {base.objective:9.0f} {res.objective:10.0f} {'yes' if report.ok else 'NO':>8}"
            )
    return ok


SMALL_SIZES = (5, 10, 12, 15, 20)


def small_speed(count: int) -> None:
    """Print greedy's median and 90th-percentile runtime on small instances, and how often it
    proves its schedule optimal (each size: ``count`` general and ``count`` backbone instances,
    per-user deadlines, integer weights, about four users per model)."""
    print()
    print(f"Small instances: greedy runtime over {2 * count} instances per size (general and backbone)")
    head = f"{'users':>7} {'median ms':>10} {'p90 ms':>8} {'max ms':>8} {'proven':>8}"
    print(head)
    print("-" * len(head))
    for n in SMALL_SIZES:
        times, proven = [], 0
        for seed in range(count):
            for structure in ("general", "backbone"):
                inst = random_instance(
                    seed,
                    n,
                    max(2, n // 4),
                    structure=structure,
                    deadlines="per_user",
                    weighted=True,  # type: ignore[arg-type]
                )
                res = solve(inst, "greedy", seed=seed)
                times.append(res.runtime)
                proven += res.status == Status.OPTIMAL
        times.sort()
        print(
            f"{n:7d} {1000 * statistics.median(times):10.1f} {1000 * times[int(0.9 * len(times))]:8.1f}"
            f" {1000 * times[-1]:8.1f} {proven:>4}/{len(times):<3}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer instances and sizes (about a minute)")
    parser.add_argument("--instances", type=int, default=None, help="instances per family (default 100, quick 20)")
    args = parser.parse_args(argv)
    count = args.instances or (20 if args.quick else 100)
    sizes = [100, 1000] if args.quick else [100, 300, 1000, 3000, 10000]
    good = quality(count)
    small_speed(count)
    good &= speed(sizes)
    return 0 if good else 1


if __name__ == "__main__":
    raise SystemExit(main())
