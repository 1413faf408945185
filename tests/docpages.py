"""Reading what a documentation page shows after a command (shared by the tests that rerun them)."""

from __future__ import annotations

from pathlib import Path


def shown_after(page: Path, command: str) -> list[str]:
    """The lines ``page`` shows after ``$ COMMAND`` (up to the next ``$`` line or fence)."""
    text = page.read_text("utf-8")
    rest = text[text.index(f"$ {command}") :].splitlines()
    while rest[0].endswith("\\"):  # the command continues on the next line
        rest = rest[1:]
    lines = []
    for line in rest[1:]:
        if line.startswith(("$", "```")):
            break
        lines.append(line)
    return lines
