"""``partialloading generate FAMILY --n N --seed S --out DIR``: write generated instance files."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from partialloading.checkpoints import read_models
from partialloading.instance import Instance
from partialloading.io import write_instance, write_network
from partialloading.network import Network
from partialloading.output import check_folder, make_folder
from partialloading.params import parse_assignments
from partialloading.scenarios import (
    CONFIGS,
    FAMILIES,
    NETWORK_FAMILIES,
    ScenarioError,
    config,
    generate,
    generate_from,
    generate_network,
    generate_with_models,
)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "generate",
        help="write generated instance files",
        description=f"Write N instances of a family (seeds S, S+1, ...). Families: {', '.join(FAMILIES)}; "
        f"of several servers: {', '.join(NETWORK_FAMILIES)}. "
        "Every parameter and its default: docs/zoo.md.",
    )
    p.add_argument("family", help=f"instance family ({', '.join((*FAMILIES, *NETWORK_FAMILIES))})")
    p.add_argument("--n", type=int, default=1, help="number of instances (default 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first instance (default 0)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created if missing)")
    p.add_argument("--users", type=int, metavar="K", help="number of users")
    p.add_argument(
        "--servers", type=int, metavar="N", help="number of edge servers (the cells family: sites on a hexagonal grid)"
    )
    p.add_argument(
        "--models",
        metavar="M|FILE",
        help="number of models, or a model catalog (the output of `blocks`) whose models the users request",
    )
    p.add_argument("--deadlines", metavar="common|per-user", help="one common deadline or one per user")
    p.add_argument("--tightness", type=float, metavar="X", help="deadline as a fraction of the serve-everyone time")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any other parameter of the family, VALUE as in TOML (e.g. precision=int8 or bandwidth_hz=1e7)",
    )
    p.set_defaults(run=run)


def _check_flags(args: argparse.Namespace) -> None:
    """Refuse out-of-range flags by their own name (the families would name their parameters)."""
    if args.users is not None and args.users < 1:
        raise ScenarioError(f"--users must be at least 1 (got {args.users})")
    if args.models is not None and args.models.lstrip("-").isdigit() and int(args.models) < 1:
        raise ScenarioError(f"--models must be at least 1, or a model catalog file (got {args.models})")
    if args.tightness is not None and not args.tightness > 0:
        raise ScenarioError(f"--tightness must be positive (got {args.tightness})")
    if args.servers is not None and args.family not in NETWORK_FAMILIES:
        raise ScenarioError(f"--servers applies to a family of several servers ({', '.join(NETWORK_FAMILIES)})")
    if args.servers is not None and args.servers < 1:
        raise ScenarioError(f"--servers must be at least 1 (got {args.servers})")


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    out = parse_assignments(args.set, "--set")
    if args.users is not None:
        out["n_users"] = args.users
    if args.models is not None and args.models.lstrip("-").isdigit():
        out["n_models"] = int(args.models)
    if args.deadlines is not None:
        if args.deadlines not in ("common", "per-user", "per_user"):
            raise ScenarioError(f"--deadlines must be common or per-user (got {args.deadlines!r})")
        out["deadlines"] = args.deadlines.replace("-", "_")
    if args.tightness is not None:
        out["tightness"] = args.tightness
    return out


def run(args: argparse.Namespace) -> int:
    if args.n < 1:
        raise ScenarioError(f"--n must be at least 1 (got {args.n})")
    if args.seed < 0:
        raise ScenarioError(f"--seed must be non-negative (got {args.seed})")
    _check_flags(args)
    seeds = range(args.seed, args.seed + args.n)
    check_folder(args.out)
    # Generate everything before writing anything: a bad parameter leaves no partial output.
    catalog_file = args.models if args.models is not None and not args.models.lstrip("-").isdigit() else None
    instances: list[Instance] | list[Network]
    if args.family in NETWORK_FAMILIES:
        if catalog_file is not None:
            raise ScenarioError("--models FILE: give the cells family a base family instead (--set base=...)")
        instances = _networks(args, seeds)
    elif catalog_file is not None:
        if args.family not in CONFIGS:
            raise ScenarioError(
                f"--models FILE needs a configured family for the users' settings "
                f"({', '.join(CONFIGS)}; got {args.family!r})"
            )
        catalog = read_models(catalog_file)
        blocks, models = catalog.instance_blocks(), catalog.instance_models(catalog_file)
        instances = [generate_with_models(blocks, models, seed, args.family, **_overrides(args)) for seed in seeds]
    elif args.family in CONFIGS:
        cfg = config(args.family, **_overrides(args))
        instances = [generate_from(args.family, cfg, seed) for seed in seeds]
    else:
        instances = [generate(args.family, seed, **_overrides(args)) for seed in seeds]
    make_folder(args.out)
    out = Path(args.out)
    _write(out, instances)
    print(f"{len(instances)} instance(s) of family {args.family!r} in {out}")
    return 0


def _networks(args: argparse.Namespace, seeds: range) -> list[Network]:
    overrides = _overrides(args)
    if args.servers is not None:
        overrides["n_servers"] = args.servers
    return [generate_network(args.family, seed, **overrides) for seed in seeds]


def _write(out: Path, instances: list[Instance] | list[Network]) -> None:
    for inst in instances:
        target = out / f"{inst.name}.json"
        if isinstance(inst, Network):
            write_network(inst, target)
            reach = sum(len(s) for s in inst.servers_of) / max(inst.num_users, 1)
            print(
                f"wrote {target}: {inst.num_servers} servers, {len(inst.models)} models, {inst.num_users} users "
                f"(each reaching {reach:.2f} servers on average)"
            )
            continue
        target = out / f"{inst.name}.json"
        write_instance(inst, target)
        lo, hi = (float(inst.deadlines.min()), float(inst.deadlines.max())) if inst.num_users else (0.0, 0.0)
        when = f"deadline {lo:.4g} s" if lo == hi else f"deadlines {lo:.4g}-{hi:.4g} s"
        print(
            f"wrote {target}: {len(inst.blocks)} blocks ({inst.block_sizes.sum() / 1e6:,.1f} MB), "
            f"{inst.num_models} models, {inst.num_users} users, {when}"
        )
