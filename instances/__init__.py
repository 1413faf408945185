"""Instances bundled with the package (see ``README.md`` in this folder)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from partialloading.instance import Instance
from partialloading.io import loads_instance


def names() -> list[str]:
    """Names of the bundled instances (file names without ``.json``)."""
    root = resources.files(__name__)
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".json"))


def path(name: str) -> Path:
    """Filesystem path of the bundled instance ``name``."""
    with resources.as_file(resources.files(__name__).joinpath(f"{name}.json")) as p:
        return Path(p)


def trace_path(name: str) -> Path:
    """Filesystem path of the bundled trace excerpt ``name`` (``traces/NAME.csv``; see README.md)."""
    with resources.as_file(resources.files(__name__).joinpath("traces", f"{name}.csv")) as p:
        if not p.is_file():
            raise KeyError(f"no bundled trace {name!r}")
        return Path(p)


def load(name: str) -> Instance:
    """Read the bundled instance ``name`` (e.g. ``"tiny"``)."""
    if name not in names():
        raise KeyError(f"no bundled instance {name!r} (bundled: {', '.join(names())})")
    text = resources.files(__name__).joinpath(f"{name}.json").read_text("utf-8")
    return loads_instance(text, f"<bundled {name}.json>")
