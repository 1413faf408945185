"""Write the site's reference pages from their sources: ``docs/formats.md`` from the JSON
Schemas shipped with the package (every field, its type, default and meaning) and ``docs/cli.md``
from the command line's argument parsers (every command and option).

Usage::

    python tools/reference.py            # (re)write both pages
    python tools/reference.py --check    # exit 1 if a page differs from what this writes

A test runs the check, so a field or an option added without its page fails the suite.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from partialloading.cli import build_parser
from partialloading.io import load_schema

DOCS = Path(__file__).resolve().parents[1] / "docs"

FILES = (
    (
        "instance-v1",
        "Instance file",
        "One static problem: the uplink, the server, the blocks, the models and the users, each with "
        "one inference request. Read by `solve`, `verify`, `inspect`, `plot` and "
        "`partialloading.read_instance`; written by `generate` and `write_instance`.",
    ),
    (
        "solution-v1",
        "Solution file",
        "A schedule and what the method proved. Written by `solve --output` and `Result.write`; read by "
        "`verify`, `plot` and `solve --initial`. The verifier recomputes every time from the instance and "
        "the order alone: the times in the file are for reading, not trusted.",
    ),
    (
        "workload-v1",
        "Workload file",
        "A server and requests arriving over time, for `simulate` and `study online`. Written by "
        "`workload`; from 10,000 requests on (or with `workload --csv`) the requests go to a CSV file "
        "beside it.",
    ),
    (
        "models-v1",
        "Model catalog",
        "Blocks and models derived from checkpoints, without users. Written by `blocks`; read by "
        "`inspect`, `generate --models` and `workload --models`.",
    ),
)

REQUEST_FIELDS = (
    ("id", "string", "", "Request id (unique in the workload)."),
    ("model", "string", "", "Id of the requested model."),
    ("arrival_s", "number", "", "Arrival time in seconds from the start of the workload (non-negative)."),
    ("data_bits", "number", "", "Input size to upload, in bits (positive)."),
    ("relative_deadline_s", "number", "", "Deadline in seconds after the arrival (positive)."),
    ("spectral_efficiency", "number", "", "Spectral efficiency in bit/s/Hz; exactly one of this and `snr_db`."),
    ("snr_db", "number", "", "Signal-to-noise ratio in dB; exactly one of this and `spectral_efficiency`."),
    ("weight", "number", "`1`", "Value of serving the request (positive)."),
    ("infer_time_s", "number", "", "The request's own inference time in seconds; absent: its model's."),
)
"""The fields of one request of a workload (the reader checks them one by one, not the schema)."""


def _type(node: dict[str, Any]) -> str:
    if "const" in node:
        return f"`{node['const']!r}`".replace("'", '"')
    kinds = node.get("type", "any")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "array" in kinds and "items" in node and "type" in node["items"]:
        item = node["items"]["type"]
        kinds = [f"array of {item}s" if k == "array" and item != "object" else k for k in kinds]
    return " or ".join(kinds)


def _default(node: dict[str, Any]) -> str:
    if "default" not in node:
        return ""
    return f"`{json.dumps(node['default'])}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _rows(node: dict[str, Any], path: str, required: set[str]) -> Iterator[str]:
    for name, child in node.get("properties", {}).items():
        where = f"{path}.{name}" if path else name
        need = "yes" if name in required else ""
        cells = (f"`{where}`", _type(child), need, _default(child), child.get("description", ""))
        yield "| " + " | ".join(map(_cell, cells)) + " |"
        inner = child.get("items", child) if child.get("type") == "array" or "array" in child.get("type", []) else child
        if "properties" in inner:
            sub = f"{where}[]" if inner is not child else where
            yield from _rows(inner, sub, set(inner.get("required", ())))


def formats_page() -> str:
    """The Markdown of the file-format reference."""
    out = [
        "# File formats",
        "",
        "Every file the toolkit reads or writes is JSON (workload requests may also be CSV), checked "
        "against a JSON Schema shipped in `partialloading/schemas/` and then field by field; a mistake "
        "is reported as one line naming the file and the place, such as `users[3].deadline_s`, with "
        "exit status 2. This page is generated from those schemas (`python tools/reference.py`).",
        "",
        "Units: times in seconds (`_s`), sizes in bytes (`_bytes`) or bits (`_bits`), bandwidth in Hz.",
        "A field name ending in `[]` is a field of every element of a list.",
    ]
    for name, title, about in FILES:
        schema = load_schema(name)
        out += ["", f"## {title}", "", about, "", f"Schema: `partialloading/schemas/{name}.json`.", ""]
        out += ["| field | type | required | default | meaning |", "|---|---|---|---|---|"]
        out += list(_rows(schema, "", set(schema.get("required", ()))))
        if name == "workload-v1":
            out += ["", "### One request", "", "Each element of `requests`, or each row of the `requests_csv` file:"]
            out += ["", "| field | type | default | meaning |", "|---|---|---|---|"]
            out += [f"| `{f}` | {t} | {d} | {m} |" for f, t, d, m in REQUEST_FIELDS]
    return "\n".join(out) + "\n"


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser, str]]:
    found = []
    for action in parser._actions:  # the parsers' public API has no walk of subcommands
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            found += [(name, sub, helps.get(name) or "") for name, sub in action.choices.items()]
    return found


def _option_rows(parser: argparse.ArgumentParser) -> Iterator[str]:
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction | argparse._VersionAction):
            continue
        if action.option_strings:
            name = ", ".join(f"`{o}`" for o in action.option_strings)
            if action.nargs != 0:
                metavar = action.metavar or (action.dest.upper() if not action.choices else None)
                value = metavar if metavar else "{" + ",".join(map(str, action.choices or ())) + "}"
                more = " ..." if action.nargs in ("+", "*") else ""
                name += f" `{value}{more}`"
        else:
            name = f"`{action.metavar or action.dest}`" + (" ..." if action.nargs in ("+", "*") else "")
        default = action.default
        empty = default is None or default is False or default == [] or default == argparse.SUPPRESS
        shown = "" if empty or not action.option_strings else f"`{default}`"
        need = "yes" if action.required or not action.option_strings else ""
        text = (action.help or "").replace("%(default)s", str(default)).replace("%%", "%")
        yield f"| {_cell(name)} | {need} | {_cell(shown)} | {_cell(text)} |"


def _command(out: list[str], prog: str, parser: argparse.ArgumentParser, summary: str, level: int) -> None:
    out += ["", f"{'#' * level} `{prog}`", ""]
    about = parser.description or summary
    if about:
        out += [about, ""]
    rows = list(_option_rows(parser))
    if rows:
        out += ["| argument | required | default | meaning |", "|---|---|---|---|", *rows]
    for name, sub, help_text in _subcommands(parser):
        _command(out, f"{prog} {name}", sub, help_text, min(level + 1, 4))


def cli_page() -> str:
    """The Markdown of the command-line reference."""
    parser = build_parser()
    out = [
        "# Command line",
        "",
        "`partialloading COMMAND ...` (or `python -m partialloading`). Every command answers `--help`; a "
        "mistake is one line on stderr with exit status 2, and nothing is written. This page is generated "
        "from the argument parsers (`python tools/reference.py`).",
    ]
    for name, sub, help_text in _subcommands(parser):
        _command(out, f"partialloading {name}", sub, help_text, 2)
    return "\n".join(out) + "\n"


PAGES = {"formats.md": formats_page, "cli.md": cli_page}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a page differs from what would be written")
    args = parser.parse_args(argv)
    stale = []
    for name, page in PAGES.items():
        path = DOCS / name
        text = page()
        if args.check:
            if not path.exists() or path.read_text("utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, "utf-8")
            print(f"wrote {path}")
    if stale:
        print(f"out of date: {', '.join(stale)} (run python tools/reference.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
