"""Shared fixtures and options of the test suite.

Property tests are deterministic: the ``ci`` Hypothesis profile (loaded here, the default)
derandomizes the search and keeps no example database, so every run draws the same cases and a
green run means the same thing twice. ``HYPOTHESIS_PROFILE=explore`` draws fresh cases instead.

``--methods enumerate,greedy`` restricts every test that takes a ``method`` argument (and does
not choose its own) to those methods, as PyJobShop's ``--solvers`` does: useful when a solver is
not installed, or to iterate on one backend.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import pytest
from hypothesis import settings

from partialloading import instances
from partialloading.instance import Instance
from partialloading.methods import METHODS

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--methods",
        default=",".join(METHODS),
        help=f"comma-separated methods the method-parametrized tests run (default: {','.join(METHODS)})",
    )


def selected_methods(config: pytest.Config) -> list[str]:
    """The methods named by ``--methods`` (each checked against the registry)."""
    names = [m.strip() for m in str(config.getoption("--methods")).split(",") if m.strip()]
    unknown = [m for m in names if m not in METHODS]
    if unknown:
        raise pytest.UsageError(f"--methods: unknown method(s) {', '.join(unknown)} (known: {', '.join(METHODS)})")
    return names


def _names(argnames: str | Sequence[str]) -> list[str]:
    if isinstance(argnames, str):
        return [n.strip() for n in argnames.split(",")]
    return list(argnames)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "method" not in metafunc.fixturenames:
        return
    if not any("method" in _names(m.args[0]) for m in metafunc.definition.iter_markers("parametrize")):
        metafunc.parametrize("method", selected_methods(metafunc.config))


@pytest.fixture(scope="session")
def tiny() -> Instance:
    """The bundled tiny instance (4 users, 2 models; optimum 3 with sharing, 2 without)."""
    return instances.load("tiny")


@pytest.fixture(scope="session")
def edge20() -> Instance:
    """The bundled realistic instance (20 users)."""
    return instances.load("edge20")
