"""``partialloading inspect FILE``: the sharing structure of an instance and what sharing saves."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

import numpy as np

from partialloading.instance import Instance
from partialloading.io import read_instance
from partialloading.solve import solve
from partialloading.solvers.dp import why_not_exact
from partialloading.structure import (
    SharingStructure,
    deadline_summary,
    grouped_order,
    sharing_structure,
)
from partialloading.timing import timeline as evaluate

MB = 1e6


def register(sub: Any) -> None:
    p = sub.add_parser("inspect", help="show clusters, backbones, heads, deadlines and whether the DP applies")
    p.add_argument("file", help="instance JSON file")
    p.add_argument("--limit", type=int, default=60, metavar="N", help="show at most N model rows (0: all; default 60)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    instance = read_instance(args.file)
    print_inspection(instance, sys.stdout, limit=args.limit)
    return 0


def loaded_bytes_grouped(instance: Instance, structure: SharingStructure, sharing: bool) -> float:
    """Bytes loaded serving every user, clusters and models contiguous (initial ones first)."""
    order = grouped_order(instance, structure)
    return float(evaluate(instance, order, sharing).loaded_bytes.sum())


def print_inspection(instance: Instance, out: TextIO, limit: int = 60) -> None:
    """Print the structure report of ``instance`` to ``out``."""
    structure = sharing_structure(instance, sharing=True)
    v = float(instance.load_speed_bytes_per_s)
    users_per_model = np.bincount(instance.user_models, minlength=instance.num_models)
    print(
        f"instance {instance.name!r}: {len(instance.blocks)} blocks, {instance.num_models} models, "
        f"{instance.num_users} users; GPU loads {v / 1e9:g} GB/s; initial model: {instance.initial_model or 'none'}",
        file=out,
    )
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
        reason = why_not_exact(instance, sharing)
        label = "with sharing" if sharing else "without sharing"
        if reason is None:
            best = solve(instance, "dp", sharing=sharing).objective
            verdict = f"exact (polynomial DP applies); optimum {best:g} of {w.sum():g}"
        else:
            verdict = f"does not apply: {reason}"
        print(f"dp {label}: {verdict}", file=out)

    if instance.num_users:
        with_sharing = loaded_bytes_grouped(instance, structure, True)
        without = loaded_bytes_grouped(instance, sharing_structure(instance, sharing=False), False)
        saved = without - with_sharing
        share = 100 * saved / without if without > 0 else 0.0
        print(
            f"serving all {instance.num_users} users grouped by cluster and model loads "
            f"{with_sharing / MB:.1f} MB with sharing vs {without / MB:.1f} MB without: "
            f"saves {saved / MB:.1f} MB ({share:.1f}%), {saved / v:.4f} s of loading",
            file=out,
        )
