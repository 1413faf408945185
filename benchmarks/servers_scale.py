"""Several servers at scale: greedy on 1,000 users and 8 servers against one server, and a
100,000-request simulation on 8 servers.

1. **Greedy** (``--users``, default 1,000; ``--servers``, default 8): a ``cells`` network of
   ``zoo-heads`` users (each linked to the sites within 400 m), solved by the several-server
   greedy, beside the same users on one server (each with its best link's radio, the first
   site's band and GPU), solved by the one-server greedy — in one run, the ratio of the two
   times (target ≤ 3); with the family's deadlines (eight servers serve everyone) and with
   ``tightness=0.1`` (they cannot).
2. **Simulation** (``--requests``, default 100,000): a ``zoo-heads`` workload at ``80/s`` per
   server on the cells grid, served by greedy with the ``affinity`` router: time, requests
   simulated per second, the on-time fraction.

Run::

    python benchmarks/servers_scale.py                          # about 3 minutes on 2 cores
    python benchmarks/servers_scale.py --parts greedy --users 500
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

from partialloading import solve
from partialloading.instance import Instance
from partialloading.network import Network
from partialloading.online import generate_workload
from partialloading.online.servers import simulate_servers
from partialloading.scenarios import generate_network


def one_server(network: Network) -> Instance:
    """``network``'s users on its first server, each with its best link's radio."""
    users = []
    for user in network.users:
        best = max(user.links or (), key=lambda link: link.eta)
        users.append(
            dataclasses.replace(user, links=None, snr_db=best.snr_db, spectral_efficiency=best.spectral_efficiency)
        )
    first = network.server_instance(0)
    return dataclasses.replace(first, users=tuple(users), name=f"{network.name}-one-server")


def greedy_part(users: int, servers: int, seed: int, tightness: float | None) -> None:
    settings = {} if tightness is None else {"tightness": tightness}
    network = generate_network("cells", seed, servers=servers, users=users, **settings)
    single = one_server(network)
    started = time.perf_counter()
    alone = solve(single, "greedy")
    t_one = time.perf_counter() - started
    started = time.perf_counter()
    several = solve(network, "greedy")
    t_several = time.perf_counter() - started
    label = "the family's deadlines" if tightness is None else f"tightness {tightness:g}"
    print(f"greedy, {users} users (cells, zoo-heads, seed {seed}, {label})")
    print(f"  one server:      {t_one:7.2f} s, served {alone.objective:g}")
    print(f"  {servers} servers:       {t_several:7.2f} s, served {several.objective:g}, bound {several.bound}")
    print(f"  ratio {servers} servers / one server: {t_several / t_one:.2f} (target <= 3)")


def simulation_part(requests: int, servers: int, seed: int) -> None:
    rate = 80.0 * servers
    duration = requests / rate
    workload = generate_workload("zoo-heads", rate, duration, seed, servers=servers)
    started = time.perf_counter()
    run = simulate_servers(workload, "greedy", router="affinity")
    elapsed = time.perf_counter() - started
    s = run.summary
    print(f"simulation, {len(workload.requests)} requests on {servers} servers ({rate:g}/s for {duration:g} s)")
    print(
        f"  {elapsed:.1f} s, {len(workload.requests) / elapsed:,.0f} requests/s; on time {s.on_time_fraction:.1%}, "
        f"GPU busy {s.gpu_busy_fraction:.1%}, {s.rounds} rounds"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["greedy", "simulation"], choices=["greedy", "simulation"])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--servers", type=int, default=8)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--tightness",
        type=float,
        nargs="+",
        default=[0.0, 0.1],
        help="deadline tightness of the greedy part (0: the family's own; default 0 and 0.1, where the servers "
        "cannot serve everyone)",
    )
    args = parser.parse_args(argv)
    if "greedy" in args.parts:
        for tightness in args.tightness:
            greedy_part(args.users, args.servers, args.seed, None if tightness <= 0 else tightness)
    if "simulation" in args.parts:
        simulation_part(args.requests, args.servers, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
