"""Batching at scale: greedy on 1,000 users, a 100,000-request simulation and a trace replay,
each with batch tables and without, side by side in one run.

1. **Greedy, 1,000 users.** A ``general`` instance (20 models, per-user deadlines, weights) with
   batch tables of 16 entries (the ``affine`` default), solved by ``greedy``; the same instance
   without tables (``Instance.unbatched()``). Wall time of each, their ratio (target ≤ 3), the
   served weight of each; both schedules pass the independent verifier.
2. **Simulation, 100,000 requests.** ``zoo-heads`` at 80 requests/s (overloaded) with
   ``max_batch=16`` (the V100 mixed-precision ResNet-50 shape), simulated with ``greedy``; the same
   requests on the server without tables, and with tables that save nothing (``t(b) = b·t(1)``:
   what the batched planning gains without any batching gain). Wall time of each and the ratio
   with / without (target ≤ 1.5), on-time fraction, mean batch size and the GPU seconds saved;
   every request accounted for.
3. **Trace replay.** The bundled Azure LLM conversation excerpt at its real speed on ``zoo-lora``
   (per-request times from each request's tokens) with the Llama-2-70B decode-step shape
   (``max_batch=32``) and without: on-time fraction side by side, ``greedy`` and ``fifo``.

Run::

    python benchmarks/batching.py                 # about 10 minutes on 2 cores
    python benchmarks/batching.py --requests 10000 --users 300   # a quick look
    python benchmarks/batching.py --parts trace                  # one part
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

from partialloading import instances, solve
from partialloading.instance import Instance
from partialloading.online import Policy, Simulation, Workload, read_workload, simulate
from partialloading.online.trace_spec import TraceSpec
from partialloading.online.traces import replay_trace
from partialloading.scenarios import generate
from partialloading.validation.verify import verify_solution

sys.path.insert(0, str(Path(__file__).resolve().parent))
from online_scale import exactly


def without_tables(workload: Workload) -> Workload:
    """The same requests on the server without batch tables."""
    return dataclasses.replace(workload, server=workload.server.unbatched())


def linear_tables(workload: Workload) -> Workload:
    """The same requests on a server whose tables save nothing (``t(b) = b·t(1)``): the batched
    planning runs, batching itself gains no time."""
    server = workload.server
    models = tuple(
        dataclasses.replace(m, batch_infer_time_s=tuple(m.infer_time_s * b for b in range(1, m.max_batch + 1)))
        if m.infer_time_s > 0
        else m
        for m in server.models
    )
    return dataclasses.replace(workload, server=dataclasses.replace(server, models=models))


def greedy_part(users: int, seed: int) -> list[str]:
    batched: Instance = generate(
        "general", seed, n_users=users, n_models=20, deadlines="per_user", weighted=True, max_batch=16
    )
    plain = batched.unbatched()
    print(f"greedy, {users} users, 20 models, tables of 16 entries (affine)")
    print(f"{'instance':<14} {'wall s':>8} {'served':>7} {'weight':>8} {'batches':>8} {'verified':>9}")
    times = {}
    failures = []
    for label, inst in (("without tables", plain), ("with tables", batched)):
        started = time.perf_counter()
        result = solve(inst, "greedy", seed=seed)
        times[label] = time.perf_counter() - started
        ok = verify_solution(inst, result.to_dict()).ok
        failures += [] if ok else [f"greedy {label}: fails the verifier"]
        sol = result.solution
        print(
            f"{label:<14} {times[label]:>8.2f} {len(sol.order):>7} {result.objective:>8g} {len(sol.batches):>8} "
            f"{'yes' if ok else 'NO':>9}"
        )
    ratio = times["with tables"] / times["without tables"]
    print(f"ratio with / without: {ratio:.2f} (target ≤ 3)\n")
    return failures + ([f"greedy ratio {ratio:.2f} > 3"] if ratio > 3 else [])


def simulation_part(requests: int, seed: int) -> list[str]:
    batched = exactly("zoo-heads", 80.0, requests, seed, max_batch=16, batch_table="resnet50-v100-amp")
    print(f"simulation, zoo-heads at 80/s, {len(batched.requests)} requests, greedy")
    print(f"{'server':<14} {'wall s':>8} {'on time':>8} {'per batch':>10} {'GPU s saved':>12} {'GPU busy':>9}")
    times: dict[str, float] = {}
    failures = []
    runs = (
        ("without tables", without_tables(batched)),
        ("linear tables", linear_tables(batched)),
        ("with tables", batched),
    )
    for label, workload in runs:
        started = time.perf_counter()
        run: Simulation = simulate(workload, Policy("greedy"))
        times[label] = time.perf_counter() - started
        s = run.summary
        if s.served + s.dropped != len(workload.requests):
            failures.append(f"simulation {label}: requests lost")
        per = "-" if s.mean_batch_size is None else f"{s.mean_batch_size:.2f}"
        saved = "-" if s.gpu_seconds_saved is None else f"{s.gpu_seconds_saved:.1f}"
        print(
            f"{label:<14} {times[label]:>8.1f} {s.on_time_fraction:>8.1%} {per:>10} {saved:>12} "
            f"{s.gpu_busy_fraction:>9.1%}"
        )
    ratio = times["with tables"] / times["without tables"]
    print(f"ratio with / without: {ratio:.2f} (target ≤ 1.5)\n")
    return failures + ([f"simulation ratio {ratio:.2f} > 1.5"] if ratio > 1.5 else [])


def trace_part() -> list[str]:
    trace = instances.trace_path("azure-llm-conv-5min")
    print("trace replay: azure-llm-conv-5min at its real speed on zoo-lora (Llama-2-70B decode-step shape)")
    print(f"{'server':<14} {'policy':<8} {'requests':>9} {'on time':>8} {'per batch':>10} {'GPU busy':>9}")
    failures = []
    with tempfile.TemporaryDirectory() as folder:
        spec = TraceSpec(path=str(trace), format="azure-llm", mapping="hash")
        out = Path(folder) / "batched.json"
        replay_trace(spec, "zoo-lora", out, max_batch=32, batch_table="llama2-70b-decode-a100")
        batched = read_workload(out)
        for label, workload in (("without tables", without_tables(batched)), ("with tables", batched)):
            for policy in ("greedy", "fifo"):
                s = simulate(workload, Policy(policy)).summary
                if s.served + s.dropped != len(workload.requests):
                    failures.append(f"trace {label} {policy}: requests lost")
                per = "-" if s.mean_batch_size is None else f"{s.mean_batch_size:.2f}"
                print(
                    f"{label:<14} {policy:<8} {s.arrivals:>9} {s.on_time_fraction:>8.1%} {per:>10} "
                    f"{s.gpu_busy_fraction:>9.1%}"
                )
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000, help="users of the greedy instance (default 1,000)")
    parser.add_argument("--requests", type=int, default=100_000, help="requests simulated (default 100,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--parts", nargs="+", choices=["greedy", "simulation", "trace"], default=["greedy", "simulation", "trace"]
    )
    args = parser.parse_args()
    failures = greedy_part(args.users, args.seed) if "greedy" in args.parts else []
    if "simulation" in args.parts:
        failures += simulation_part(args.requests, args.seed)
    if "trace" in args.parts:
        failures += trace_part()
    for failure in failures:
        print(f"FAIL: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
