"""A long exact solve shows its incumbent and bound as it goes, on a terminal only."""

from __future__ import annotations

import io

import pytest

import partialloading as pl
from partialloading import progress
from partialloading.scenarios import generate


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def hard() -> pl.Instance:
    # Per-user deadlines and weights at 60 users: no method proves it within a second.
    return generate("general", 3, n_users=60, deadlines="per_user", weighted=True)


@pytest.mark.parametrize("method", ["bnb", "milp"])
def test_the_incumbent_and_bound_are_shown_on_a_terminal(
    method: str, hard: pl.Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress, "EVERY_S", 0.0)
    screen = Terminal()
    with progress.showing(screen):
        result = pl.solve(hard, method, time_limit=2)
    shown = [line.strip() for line in screen.getvalue().split("\r") if line.strip()]
    assert shown and all(line.startswith(f"{method}: best ") for line in shown)
    best = float(shown[-1].split("best ")[1].split(",")[0])
    assert best <= result.objective + 1e-9  # the answer is at least what was shown
    assert screen.getvalue().endswith("\r")  # the line is erased at the end


def test_nothing_is_shown_when_piped(hard: pl.Instance) -> None:
    piped = io.StringIO()
    with progress.showing(piped):
        pl.solve(hard, "bnb", time_limit=1)
    assert piped.getvalue() == ""
