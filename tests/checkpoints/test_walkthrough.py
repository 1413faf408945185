"""The walk-through of docs/checkpoints.md prints what the page shows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from partialloading.checkpoints.example import write_example
from partialloading.cli import main

from docpages import shown_after as lines_after

PAGE = Path(__file__).resolve().parents[2] / "docs" / "checkpoints.md"


def shown_after(command: str) -> str:
    """The lines the page shows after ``$ COMMAND``, as one text."""
    return "\n".join(lines_after(PAGE, command))


def test_walkthrough(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    write_example("checkpoints")
    paths = [
        "checkpoints/vit-base",
        "checkpoints/birds.safetensors",
        "checkpoints/cars.safetensors",
        "checkpoints/ft-top2",
        "checkpoints/lora-captions",
    ]
    args = ["--infer-time", "0.004", "--infer-time", "ft-top2=0.005", "-o", "models.json", "--quiet"]
    assert main(["blocks", *paths, *args]) == 0
    assert capsys.readouterr().out.strip() == shown_after("partialloading blocks checkpoints/vit-base")
    assert main(["inspect", "models.json"]) == 0
    assert capsys.readouterr().out.strip() == shown_after("partialloading inspect models.json")
    generate = "generate backbone --models models.json --users 12 --deadlines per-user --tightness 0.5"
    extra = ["--set", "load_speed_bytes_per_s=2e8", "--seed", "4", "--out", "gen"]
    assert main([*generate.split(), *extra]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == shown_after("partialloading generate")
    instance = "gen/models-backbone-u12-m5-s4.json"
    assert main(["solve", instance, "--method", "greedy", "-o", "sol.json"]) == 0
    summary = capsys.readouterr().out
    # The page's MILP serves all 12; greedy finds that optimum too on this instance.
    assert re.search(r"served 12/12 users", summary)
    assert "served 12/12 users, objective 12, bound 12" in PAGE.read_text("utf-8")
    assert main(["plot", instance, "sol.json", "-o", "gantt.png"]) == 0
    assert Path("gantt.png").stat().st_size > 0
