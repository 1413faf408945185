"""The structure the code promises (docs/architecture.md), checked from its own source with
``tools/layers.py``: no import circles, the data model below its plug-ins, files and functions
of a readable size, and a light ``import partialloading``."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _layers() -> ModuleType:
    spec = importlib.util.spec_from_file_location("layers", ROOT / "tools" / "layers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["layers"] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


layers = _layers()


def test_no_module_imports_itself_through_others() -> None:
    # Type-only imports count: a layer that names a type of a layer above depends on it.
    assert layers.circles(layers.import_graph()) == []


def test_the_data_model_knows_none_of_its_plug_ins() -> None:
    graph = layers.import_graph()
    for module in ("partialloading.instance", "partialloading.components"):
        above = {
            m for m in graph.successors(module) if m.startswith(("partialloading.memory", "partialloading.timing"))
        }
        assert above == set(), module


def test_memory_names_live_in_the_memory_registry() -> None:
    # Outside partialloading/memory/ a memory model is reached through memory_of() and its
    # declarations, never by its name.
    pattern = re.compile(r"""["'](single|capacity|capacity-lru)["']""")
    found = []
    for module in layers.modules().values():
        rel = module.path.relative_to(ROOT).as_posix()
        if rel.startswith("partialloading/memory/"):
            continue
        for number, line in enumerate(module.path.read_text("utf-8").splitlines(), 1):
            if pattern.search(line) and not line.lstrip().startswith("FORMULATION = "):
                found.append(f"{rel}:{number}: {line.strip()}")
    assert found == []


def test_files_and_functions_stay_readable() -> None:
    assert layers.long_files() == []
    assert layers.long_functions() == []
    assert len((ROOT / "partialloading" / "solve.py").read_text("utf-8").splitlines()) < 100


@pytest.mark.parametrize("what", ["import", "help"])
def test_the_package_and_its_help_load_no_solver(what: str) -> None:
    # A method imports what it runs: Pyomo, HiGHS, OR-Tools, SCIP and numba load with a solve.
    heavy = ("pyomo", "highspy", "ortools", "pyscipopt", "numba")
    code = (
        "import contextlib, io, json, sys\n"
        "import partialloading\n"
        "if sys.argv[1] == 'help':\n"
        "    from partialloading.cli import main\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        try:\n"
        "            main(['--help'])\n"
        "        except SystemExit:\n"
        "            pass\n"
        f"print(json.dumps([m for m in {heavy!r} if m in sys.modules]))\n"
    )
    # From a neutral folder: the checkout's partialloading/ is not the installed package.
    run = subprocess.run(
        [sys.executable, "-c", code, what], capture_output=True, text=True, check=True, cwd=tempfile.gettempdir()
    )
    assert json.loads(run.stdout.splitlines()[-1]) == []
