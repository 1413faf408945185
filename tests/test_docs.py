"""The documentation's tables render and its quoted figures are what the documented commands print."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from partialloading.cli import main

from docpages import shown_after

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md"), ROOT / "instances" / "README.md"])
SPAN = re.compile(r"(`+)(.+?)\1|\$([^$]+)\$")


def without_clock(line: str) -> str:
    """A line of ``simulate``'s table without its last two columns (planning time: wall-clock)."""
    return line.rsplit(None, 2)[0] if re.search(r"\d$", line) else line


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_bar_splits_a_table_cell(page: Path) -> None:
    # In a Markdown table a `|` ends the cell even inside a code span or math: it must be escaped.
    bad = []
    fenced = False
    for number, line in enumerate(page.read_text("utf-8").splitlines(), start=1):
        if line.startswith("```"):
            fenced = not fenced
        if fenced or not line.lstrip().startswith("|"):
            continue
        for match in SPAN.finditer(line):
            inside = match.group(2) or match.group(3) or ""
            if re.search(r"(?<!\\)\|", inside):
                bad.append(f"{page.name}:{number}: {match.group(0)}")
    assert not bad, bad


def test_the_simulation_table_of_the_online_page(tmp_path: Path, monkeypatch, capsys) -> None:
    page = ROOT / "docs" / "online.md"
    monkeypatch.chdir(tmp_path)
    assert main(["workload", "zoo-heads", "--rate", "40", "--duration", "30", "--seed", "1", "-o", "heads40.json"]) == 0
    capsys.readouterr()
    command = "partialloading simulate heads40.json --policy greedy greedy/no-sharing edf fifo"
    args = ["simulate", "heads40.json", "--policy", "greedy", "greedy/no-sharing", "edf", "fifo", "--quiet"]
    args += ["--requests-out", "heads40-{policy}.csv", "--summary-out", "heads40-summary.json"]
    assert main(args) == 0
    printed = capsys.readouterr().out.splitlines()

    assert [without_clock(x) for x in printed] == [without_clock(x) for x in shown_after(page, command)]


def test_the_trace_replay_of_the_online_page(tmp_path: Path, monkeypatch, capsys) -> None:
    page = ROOT / "docs" / "online.md"
    monkeypatch.chdir(tmp_path)
    trace = str(ROOT / "instances" / "traces" / "azure-llm-conv-5min.csv")
    args = ["workload", "zoo-lora", "--from-trace", trace, "--format", "azure-llm", "--map", "hash"]
    assert main([*args, "--speed", "0.1", "-o", "conv.json"]) == 0
    capsys.readouterr()
    assert main(["simulate", "conv.json", "--policy", "greedy", "greedy/no-sharing", "fifo", "--quiet"]) == 0
    printed = capsys.readouterr().out.splitlines()

    command = "partialloading simulate conv.json --policy greedy greedy/no-sharing fifo"
    assert [without_clock(x) for x in printed] == [without_clock(x) for x in shown_after(page, command)]


def test_the_checkpoint_page_solves(tmp_path: Path, monkeypatch, capsys) -> None:
    from partialloading.checkpoints.example import write_example

    page = ROOT / "docs" / "checkpoints.md"
    monkeypatch.chdir(tmp_path)
    paths = write_example("checkpoints")
    blocks = ["blocks", *map(str, paths), "--infer-time", "0.004", "--infer-time", "ft-top2=0.005"]
    assert main([*blocks, "-o", "models.json", "--quiet"]) == 0
    generate = "generate backbone --models models.json --users 12 --deadlines per-user --tightness 0.5"
    assert main([*generate.split(), "--set", "load_speed_bytes_per_s=2e8", "--seed", "4", "--out", "gen"]) == 0
    capsys.readouterr()
    instance = "gen/models-backbone-u12-m5-s4.json"
    for extra in (["-o", "sol.json"], ["--no-sharing"]):
        assert main(["solve", instance, "--method", "milp", *extra]) == 0
        printed = capsys.readouterr().out.splitlines()
        command = f"partialloading solve {instance} --method milp {' '.join(extra)}"
        shown = shown_after(page, command)
        assert shown and all(line in printed for line in shown), (shown, printed)


def test_the_reference_pages_are_generated_from_the_schemas_and_parsers() -> None:
    # docs/formats.md and docs/cli.md are written by tools/reference.py: a field or an option
    # added without rewriting them fails here.
    spec = importlib.util.spec_from_file_location("reference", ROOT / "tools" / "reference.py")
    assert spec is not None and spec.loader is not None
    reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference)
    for name, page in reference.PAGES.items():
        assert (ROOT / "docs" / name).read_text("utf-8") == page(), f"run python tools/reference.py ({name})"
    # Every field of every schema says what it is.
    from partialloading.io import load_schema

    def undocumented(node: dict, where: str) -> list[str]:
        found = []
        for key, child in node.get("properties", {}).items():
            if not child.get("description"):
                found.append(f"{where}{key}")
            found += undocumented(child.get("items", child), f"{where}{key}.")
        return found

    for schema in ("instance-v1", "solution-v1", "workload-v1", "models-v1"):
        assert undocumented(load_schema(schema), "") == [], schema


def test_option_text_keeps_its_two_hyphens() -> None:
    # Sphinx's smart dashes rendered `--param` as an en dash (`–param`): a command copied from the
    # CLI page failed. Quotes and ellipses stay smart, dashes do not.
    conf = (ROOT / "docs" / "conf.py").read_text("utf-8")
    assert re.search(r'^smartquotes_action = "qe"$', conf, re.MULTILINE)
    assert "--param" in (ROOT / "docs" / "cli.md").read_text("utf-8")


def test_wide_tables_wrap_inside_the_page() -> None:
    # The file-format tables hid their "meaning" column beyond the page, even at 1920 px.
    conf = (ROOT / "docs" / "conf.py").read_text("utf-8")
    assert 'html_css_files = ["tables.css"]' in conf and 'html_static_path = ["_static"]' in conf
    css = (ROOT / "docs" / "_static" / "tables.css").read_text("utf-8")
    assert "white-space: normal" in css and "overflow-wrap" in css


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_math_holds_no_typewriter_text(page: Path) -> None:
    # MathJax showed `\texttt{after\_load[q]}` raw inside \text{...}: component names are
    # written as code beside the formula, never inside it.
    assert "\\texttt" not in page.read_text("utf-8")


def _csv_rows(name: str) -> list[dict[str, str]]:
    import csv

    with (ROOT / "docs" / "figures" / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _gain(rows: list[dict[str, str]], value: str, baseline: str) -> str:
    row = next(r for r in rows if r["value"] == value and r["baseline"] == baseline)
    mean, ci = float(row["diff_mean"]), float(row["diff_ci95"])
    return "0" if mean == 0 and ci == 0 else f"{100 * mean:+.1f} ± {100 * ci:.1f} pts"


def test_the_serving_table_of_the_results_page_is_its_studies_output() -> None:
    # results.md §5 quotes the online studies (the commands under its table write the CSVs in
    # docs/figures): each row must be what the CSVs say, so a rerun that changes them fails here
    # until the page is regenerated. (The greedy 63.3% quoted at zoo-heads 100/s was stale.)
    text = (ROOT / "docs" / "results.md").read_text("utf-8")
    section = text[text.index("## 5. Serving under load") : text.index("## 6.")]
    rows = [line for line in section.splitlines() if line.startswith("| `zoo-")]
    assert len(rows) == 8
    for line in rows:
        cells = [c.strip() for c in line.strip("|").split("|")]
        family, value = cells[0].strip("`"), cells[1]
        means = _csv_rows(f"online-{family}-rate.csv")
        gains = _csv_rows(f"online-{family}-rate-gains.csv")
        greedy = next(r for r in means if r["value"] == value and r["policy"] == "greedy")
        expected = [f"{100 * float(greedy['on_time_mean']):.1f}%"]
        expected += [_gain(gains, value, b) for b in ("greedy/no-sharing", "edf", "fifo")]
        assert cells[2:] == expected, family


def test_the_batching_table_of_the_results_page_is_its_studys_output() -> None:
    # results.md §7 quotes the max_batch sweep (the command under it writes the CSVs).
    text = (ROOT / "docs" / "results.md").read_text("utf-8")
    section = text[text.index("## 7. Batching") : text.index("## 8.")]
    rows = [line for line in section.splitlines() if re.match(r"\| \d+ \|", line)]
    means = _csv_rows("online-zoo-heads-max_batch.csv")
    gains = _csv_rows("online-zoo-heads-max_batch-gains.csv")
    assert [line.split("|")[1].strip() for line in rows] == ["1", "2", "4", "8", "16"]
    for line in rows:
        cells = [c.strip() for c in line.strip("|").split("|")]
        row = {r["policy"]: r for r in means if r["value"] == cells[0]}
        expected = [
            f"{100 * float(row[p]['on_time_mean']):.1f}%" for p in ("greedy", "greedy/no-sharing", "edf", "fifo")
        ]
        expected.append(f"{100 * float(row['greedy']['gpu_busy_mean']):.1f}%")
        assert cells[1:] == expected
    gap = {r["value"]: float(r["diff_mean"]) for r in gains if r["baseline"] == "greedy/no-sharing"}
    assert f"grows from {100 * gap['1']:.1f} points" in " ".join(section.split())
