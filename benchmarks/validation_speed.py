"""Instance validation: the compiled schema check against the reference validator, side by side.

Writes a generated instance of ``--users`` users (general sharing, per-user deadlines) and times,
each the best of ``--repeats``: parsing the JSON, the schema check with jsonschema (the reference,
which also makes the error messages), the schema check with the compiled validator that
``read_instance`` uses first, the data model's own checks, and the whole ``read_instance``.
Exits 1 when validation (everything but parsing) is not at least 5 times faster than with
jsonschema as the schema check.

Run::

    python benchmarks/validation_speed.py                # 200,000 users
    python benchmarks/validation_speed.py --users 20000  # quick look
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from partialloading.io import _compiled, _validator, instance_from_dict, read_instance, write_instance
from partialloading.scenarios import random_instance

from measure import best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    instance = random_instance(0, n_users=args.users, n_models=200, structure="general", deadlines="per_user")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.json"
        write_instance(instance, path)
        text = path.read_text()
        data = json.loads(text)
        parse = best(args.repeats, lambda: json.loads(text))
        reference = best(args.repeats, lambda: list(_validator("instance-v1").iter_errors(data)))
        compiled = best(args.repeats, lambda: _compiled("instance-v1")(data))
        whole = best(args.repeats, lambda: read_instance(path))
        size_mb = path.stat().st_size / 1e6
    model = whole - parse - compiled
    print(f"instance: {args.users:,} users, {size_mb:.1f} MB of JSON; best of {args.repeats}")
    print(f"  parse JSON                         {parse:8.3f} s")
    print(f"  schema check, jsonschema           {reference:8.3f} s")
    print(f"  schema check, compiled             {compiled:8.3f} s   {reference / compiled:5.1f}x faster")
    print(f"  data model checks (the rest)       {model:8.3f} s")
    print(
        f"  read_instance, all of it           {whole:8.3f} s   "
        f"(with jsonschema it was {whole - compiled + reference:.3f} s)"
    )
    assert instance_from_dict(data) == instance
    before, after = reference + model, compiled + model
    print(
        f"  validation (all but parsing): {after:.3f} s against {before:.3f} s with jsonschema: {before / after:.1f}x"
    )
    ok = before / after >= 5
    print("gate (validation at least 5x faster):", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
