"""The README's examples run and its numbers are what the commands print."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from partialloading.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def blocks(language: str) -> list[str]:
    """Fenced code blocks of the README opened with ```language."""
    found: list[str] = []
    fence: str | None = None  # language of the open block, None outside blocks
    lines: list[str] = []
    for line in README.read_text("utf-8").splitlines():
        if not line.startswith("```"):
            lines.append(line)
        elif fence is None:
            fence, lines = line[3:].strip(), []
        else:
            if fence == language:
                found.append("\n".join(lines) + "\n")
            fence = None
    return found


def test_python_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    (code,) = blocks("python")
    exec(compile(code, str(README), "exec"), {})
    assert (tmp_path / "solution.json").exists() and (tmp_path / "gantt.png").exists()
    # The outputs quoted in the comments are what the lines print.
    printed = capsys.readouterr().out.splitlines()
    assert printed == ["optimal 3.0 ('u1', 'u3', 'u2')", "[0.39 0.4  0.43]"]
    assert "# optimal 3.0 ('u1', 'u3', 'u2')" in code and "[0.39 0.4  0.43]" in code


def test_solve_output_shown_is_what_solve_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shown = next(b for b in blocks("") if b.startswith("instance 'tiny'"))
    monkeypatch.chdir(README.parent)
    out = tmp_path / "tiny-solution.json"
    assert main(["solve", "instances/tiny.json", "--method", "enumerate", "--output", str(out)]) == 0
    printed = capsys.readouterr().out.replace(str(out), "tiny-solution.json")

    # Only the runtimes may differ.
    def strip(text: str) -> str:
        return re.sub(r"(runtime|in) \d+\.\d+s", r"\1", text).strip()

    assert strip(printed) == strip(shown)
    assert main(["solve", "instances/tiny.json", "--method", "enumerate", "--no-sharing"]) == 0
    assert "served 2/4 users" in capsys.readouterr().out
    # "With --timing pipelined it serves all 4", with each request's upload end and inference start.
    assert main(["solve", "instances/tiny.json", "--method", "enumerate", "--timing", "pipelined"]) == 0
    out = capsys.readouterr().out
    assert "served 4/4 users" in out and "upload s" in out and "infer s" in out


def test_the_tutorial_count_is_the_number_of_tutorials() -> None:
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"]
    count = len(list((README.parent / "docs" / "tutorials").glob("*.md")))
    assert f"{words[count]} tutorial notebooks" in README.read_text("utf-8")
