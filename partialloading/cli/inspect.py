"""``partialloading inspect PATH...``: the sharing structure of an instance, a model catalog or checkpoints."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from partialloading.checkpoints import MODELS_FORMAT, ModelCatalog, catalog_from_dict, derive
from partialloading.cli.common import instance_path
from partialloading.errors import InstanceError
from partialloading.instance import Instance
from partialloading.io import problem_from_dict, read_json_file
from partialloading.methods import METHODS
from partialloading.network import Network
from partialloading.plot import printable
from partialloading.sharing import (
    deadline_summary,
    grouped_order,
    sharing_structure,
)
from partialloading.solve import solve
from partialloading.timing import timeline

MB = 1e6


def register(sub: Any) -> None:
    p = sub.add_parser(
        "inspect",
        help="show the sharing structure of an instance, a model catalog or checkpoints",
        description="An instance file: clusters, backbones, heads, deadlines and whether the DP applies. "
        "A model catalog (the output of `blocks`) or checkpoints (as `blocks` reads them): how much of "
        "each model is shared with which others.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="instance or model catalog JSON file, or checkpoints")
    p.add_argument(
        "--limit", type=int, default=60, metavar="N", help="show at most N rows per table (0: all; default 60)"
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.limit < 0:
        raise InstanceError("--limit", f"must be non-negative (got {args.limit})")
    if len(args.paths) == 1:
        args.paths = [instance_path(args.paths[0])]
    first = Path(args.paths[0])
    if len(args.paths) == 1 and first.is_file() and first.suffix.lower() != ".safetensors":
        doc = read_json_file(first)
        if isinstance(doc, dict) and doc.get("format") == MODELS_FORMAT:
            print_catalog(catalog_from_dict(doc, str(first)), sys.stdout, limit=args.limit)
        else:
            problem = problem_from_dict(doc, str(first))
            if isinstance(problem, Network):
                print_network(problem, sys.stdout, limit=args.limit)
            else:
                print_inspection(problem, sys.stdout, limit=args.limit)
        return 0
    print_catalog(derive(args.paths), sys.stdout, limit=args.limit)
    return 0


def print_catalog(catalog: ModelCatalog, out: TextIO, limit: int = 60) -> None:
    """Print how much of each model of ``catalog`` is shared with which other models."""
    sizes = catalog.model_sizes
    shared = catalog.shared_bytes()
    member = catalog.membership
    stored = float(catalog.block_sizes.sum())
    separate = float(sizes.sum())
    saved = 100 * (1 - stored / separate) if separate > 0 else 0.0
    n = len(catalog.models)
    print(
        f"{n} models, {len(catalog.blocks)} blocks: {separate / MB:,.1f} MB as separate models, "
        f"{stored / MB:,.1f} MB stored once (sharing saves {saved:.1f}%)",
        file=out,
    )
    ids = [m.id for m in catalog.models]
    holders = member.sum(axis=0)
    width = max(12, *(min(len(i), 24) for i in ids))
    print(f"{'model':<{width}} {'MB':>10} {'own MB':>10} {'shared MB':>10} {'shared':>7}  shares most with", file=out)
    for m, model_id in enumerate(ids[: limit or None]):
        own = float(catalog.block_sizes[member[m] & (holders == 1)].sum())
        part = sizes[m] - own
        frac = 100 * part / sizes[m] if sizes[m] > 0 else 0.0
        others = sorted((j for j in range(n) if j != m and shared[m, j] > 0), key=lambda j: (-shared[m, j], j))
        most = ", ".join(f"{ids[j]} ({shared[m, j] / MB:,.1f} MB)" for j in others[:3])
        more = f" +{len(others) - 3} more" if len(others) > 3 else ""
        print(
            f"{_cut(model_id, width):<{width}} {sizes[m] / MB:>10,.1f} {own / MB:>10,.1f} {part / MB:>10,.1f} "
            f"{frac:>6.1f}%  {most or '-'}{more}",
            file=out,
        )
    if limit and n > limit:
        print(f"... {n - limit} more models (--limit 0 shows all)", file=out)
    if 1 < n <= 12:
        print("MB in common (row and column model):", file=out)
        cols = [_cut(i, 10) for i in ids]
        print(f"{'':<{width}} " + " ".join(f"{c:>10}" for c in cols), file=out)
        for m, model_id in enumerate(ids):
            cells = " ".join(f"{shared[m, j] / MB:>10,.1f}" for j in range(n))
            print(f"{_cut(model_id, width):<{width}} {cells}", file=out)
    bwidth = max(12, *(min(len(b.id), 48) for b in catalog.blocks))
    print(f"{'block':<{bwidth}} {'MB':>10} {'tensors':>8} {'models':>7}", file=out)
    for b, block in enumerate(catalog.blocks[: limit or None]):
        tensors = "-" if block.tensors is None else str(block.tensors)
        print(
            f"{_cut(block.id, bwidth):<{bwidth}} {block.size_bytes / MB:>10,.3f} {tensors:>8} {holders[b]:>7}", file=out
        )
    if limit and len(catalog.blocks) > limit:
        print(f"... {len(catalog.blocks) - limit} more blocks (--limit 0 shows all)", file=out)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "~"


def loaded_bytes_grouped(instance: Instance) -> float:
    """Bytes loaded serving every user, clusters and models contiguous (initial ones first)."""
    order = grouped_order(instance, sharing_structure(instance))
    return float(timeline(instance, order).loaded_bytes.sum())


def print_memory_fit(instance: Instance, out: TextIO) -> None:
    """How much of the catalog the GPU memory holds at once: every block, the requested models'
    blocks, and how many of the largest models, with and without sharing."""
    capacity = float(instance.memory_bytes or 0.0)
    requested = np.unique(instance.user_models)
    shared = float(instance.block_sizes[instance.membership[requested].any(axis=0)].sum()) if requested.size else 0.0
    private = float(instance.model_sizes[requested].sum())
    largest = np.sort(instance.model_sizes[requested])[::-1]
    whole = int(np.searchsorted(np.cumsum(largest), capacity * (1 + 1e-9), side="right"))
    start = f"; starts with {len(instance.initial_blocks)} block(s)" if instance.initial_blocks is not None else ""
    print(
        f"GPU memory {capacity / 1e6:,.1f} MB{start}: every block {float(instance.block_sizes.sum()) / 1e6:,.1f} MB, "
        f"the requested models' blocks {shared / 1e6:,.1f} MB "
        f"({'fit' if shared <= capacity else f'{100 * capacity / shared:.0f}% fit'}); "
        f"as private copies {private / 1e6:,.1f} MB; the {whole} largest of {requested.size} requested models "
        "fit whole at once",
        file=out,
    )


def print_batch_tables(instance: Instance, out: TextIO, limit: int = 60) -> None:
    """Each model's batch table (``t(b)`` in ms at a few sizes, and the time per request at the
    largest), for the models that have one."""
    tabled = [m for m in instance.models if m.batch_infer_time_s is not None]
    if not tabled:
        return
    print(f"batch tables ({len(tabled)} model(s)): t(b) in ms", file=out)
    for m in tabled[: limit or None]:
        table = m.batch_infer_time_s or ()
        sizes = sorted({b for b in (1, 2, 4, 8, 16, 32, 64, 128, 256, len(table)) if b <= len(table)})
        cells = ", ".join(f"{b}: {1e3 * table[b - 1]:.3g}" for b in sizes)
        per = 1e3 * table[-1] / len(table)
        print(f"  {printable(m.id):<20.20} B = {len(table):<4} {cells}; {per:.3g} ms per request at B", file=out)
    if limit and len(tabled) > limit:
        print(f"... {len(tabled) - limit} more models with batch tables (--limit 0 shows all)", file=out)


def print_inspection(instance: Instance, out: TextIO, limit: int = 60) -> None:
    """Print the structure report of ``instance`` to ``out``."""
    structure = sharing_structure(instance)
    v = float(instance.load_speed_bytes_per_s)
    users_per_model = np.bincount(instance.user_models, minlength=instance.num_models)
    print(
        f"instance {instance.name!r}: {len(instance.blocks)} blocks, {instance.num_models} models, "
        f"{instance.num_users} users; GPU loads {v / 1e9:g} GB/s; initial model: {instance.initial_model or 'none'}",
        file=out,
    )
    if instance.memory_bytes is not None:
        print_memory_fit(instance, out)
    kind = "backbone sharing" if structure.is_backbone else "general sharing"
    print(f"structure: {kind}, {len(structure.clusters)} cluster(s) of the requested models", file=out)
    if structure.violation:
        print(f"  not backbone sharing: {structure.violation}", file=out)
    if structure.ignored_models:
        ids = [instance.models[m].id for m in structure.ignored_models]
        shown = ", ".join(ids[:10]) + (" ..." if len(ids) > 10 else "")
        print(f"  ignored (no user requests them, not in GPU memory): {shown}", file=out)

    print(
        f"{'cluster':<8} {'backbone MB':>11} {'blocks':>6}  {'model':<20} {'head MB':>9} {'users':>6}"
        + ("  partially shared MB" if not structure.is_backbone else ""),
        file=out,
    )
    rows = 0
    total_rows = sum(len(c.models) for c in structure.clusters)
    for c, cluster in enumerate(structure.clusters):
        partial = float(instance.block_sizes[list(cluster.partial)].sum())
        for pos, (m, head) in enumerate(zip(cluster.models, cluster.head_bytes, strict=True)):
            if limit and rows >= limit:
                break
            first = pos == 0
            label = f"c{c + 1}" if first else ""
            bb = f"{cluster.backbone_bytes / MB:>11.2f} {len(cluster.backbone):>6}" if first else " " * 18
            extra = f"  {partial / MB:>19.2f}" if first and not structure.is_backbone else ""
            print(
                f"{label:<8} {bb}  {instance.models[m].id:<20.20} {head / MB:>9.2f} {users_per_model[m]:>6}{extra}",
                file=out,
            )
            rows += 1
    if limit and total_rows > limit:
        print(f"... {total_rows - limit} more model rows (--limit 0 shows all)", file=out)

    print_batch_tables(instance, out, limit)
    d = deadline_summary(instance)
    if d.distinct == 0:
        print("deadlines: no users", file=out)
    elif d.common:
        print(f"deadlines: common, {d.earliest:g} s", file=out)
    else:
        print(f"deadlines: {d.distinct} different, {d.earliest:g} s to {d.latest:g} s", file=out)
    w = instance.weights
    if w.size and not np.all(w == w[0]):
        print(f"weights: {w.min():g} to {w.max():g}, total {w.sum():g}", file=out)
    for sharing in (True, False):
        reason = METHODS["dp"].why_not(instance if sharing else instance.unshared())
        label = "with sharing" if sharing else "without sharing"
        if reason is None:
            best = solve(instance, "dp", sharing=sharing).objective
            verdict = f"exact (polynomial DP applies); optimum {best:g} of {w.sum():g}"
        else:
            verdict = f"does not apply: {reason}"
        print(f"dp {label}: {verdict}", file=out)

    if instance.num_users:
        with_sharing = loaded_bytes_grouped(instance)
        without = loaded_bytes_grouped(instance.unshared())
        saved = without - with_sharing
        share = 100 * saved / without if without > 0 else 0.0
        print(
            f"serving all {instance.num_users} users grouped by cluster and model loads "
            f"{with_sharing / MB:.1f} MB with sharing vs {without / MB:.1f} MB without: "
            f"saves {saved / MB:.1f} MB ({share:.1f}%), {saved / v:.4f} s of loading",
            file=out,
        )


def print_network(network: Network, out: TextIO, limit: int = 60) -> None:
    """Each server of a several-server instance (band, GPU, memory) and how many users reach it;
    how many servers each user reaches."""
    print(
        f"instance {network.name!r}: {network.num_servers} servers, {len(network.blocks)} blocks, "
        f"{len(network.models)} models, {network.num_users} users; timing {network.timing}",
        file=out,
    )
    only = [sum(1 for k in users if len(network.servers_of[k]) == 1) for users in network.reach]
    width = max(6, *(min(len(printable(s.id)), 24) for s in network.servers))
    print(
        f"{'server':<{width}} {'band MHz':>9} {'GB/s':>6} {'memory MB':>10} {'initial':<12} "
        f"{'users':>6} {'only it':>7}",
        file=out,
    )
    for n, server in enumerate(network.servers[: limit or None]):
        memory = "one model" if server.memory_bytes is None else f"{server.memory_bytes / MB:,.0f}"
        initial = server.initial_model or (f"{len(server.initial_blocks)} blocks" if server.initial_blocks else "-")
        print(
            f"{printable(server.id):<{width}.{width}} {server.bandwidth_hz / 1e6:>9.3f} "
            f"{server.load_speed_bytes_per_s / 1e9:>6.2f} {memory:>10} {printable(initial):<12.12} "
            f"{len(network.reach[n]):>6} {only[n]:>7}",
            file=out,
        )
    if limit and network.num_servers > limit:
        print(f"... {network.num_servers - limit} more servers (--limit 0 shows all)", file=out)
    counts = np.bincount([len(s) for s in network.servers_of], minlength=network.num_servers + 1)
    spread = ", ".join(f"{c} reach {r}" for r, c in enumerate(counts) if c)
    print(f"users by the number of servers that can serve them: {spread}", file=out)
    print(
        "each server's own instance (its band, GPU and the users it reaches) is what a one-server method schedules",
        file=out,
    )
