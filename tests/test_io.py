"""Instance files: round trip, bundled instances, and every rule of the format."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from partialloading import instances
from partialloading.cli import main
from partialloading.errors import InstanceError
from partialloading.io import (
    dumps_instance,
    instance_from_dict,
    instance_to_dict,
    loads_instance,
    read_instance,
    write_instance,
)
from partialloading.scenarios import random_instance

TINY_TEXT = instances.path("tiny").read_text("utf-8")


def tiny_doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(TINY_TEXT)
    return doc


# ------------------------------------------------------------------------------ round trip
@pytest.mark.parametrize("name", ["tiny", "edge20"])
def test_bundled_instances_load_and_validate(name: str) -> None:
    assert name in instances.names()
    inst = instances.load(name)
    assert inst.name == name
    assert read_instance(instances.path(name)) == inst
    assert main(["validate", str(instances.path(name))]) == 0


def test_unknown_bundled_instance() -> None:
    with pytest.raises(KeyError, match="no bundled instance"):
        instances.load("nope")


@pytest.mark.parametrize(
    "inst",
    [
        instances.load("tiny"),
        instances.load("edge20"),
        random_instance(1, 9, 4, structure="general", deadlines="per_user", weighted=True, initial_model=True),
        random_instance(2, 5, 2, structure="none"),
    ],
    ids=["tiny", "edge20", "general", "none"],
)
def test_round_trip(inst: Any, tmp_path: Path) -> None:
    # read → write → read gives an equal instance; write → read → write the same text.
    path = tmp_path / "inst.json"
    write_instance(inst, path)
    again = read_instance(path)
    assert again == inst
    assert dumps_instance(again) == path.read_text("utf-8")
    assert loads_instance(dumps_instance(inst)) == inst
    assert instance_from_dict(instance_to_dict(inst)) == inst


def test_writer_writes_every_key_and_defaults_are_applied() -> None:
    doc = tiny_doc()
    for key in ("format", "version", "name", "timing"):
        del doc[key]
    del doc["server"]["initial_model"]
    for user in doc["users"]:
        del user["weight"]
    inst = instance_from_dict(doc)
    assert inst.timing == "frame" and inst.initial_model is None and inst.name == "instance"
    assert all(u.weight == 1 for u in inst.users)
    written = instance_to_dict(inst)
    assert written["format"] == "partialloading/instance" and written["version"] == 1
    assert written["server"]["initial_model"] is None
    assert all(u["weight"] == 1 for u in written["users"])


def test_snr_db_round_trips_as_snr_db() -> None:
    doc = tiny_doc()
    del doc["users"][0]["spectral_efficiency"]
    doc["users"][0]["snr_db"] = 10.0
    inst = instance_from_dict(doc)
    back = instance_to_dict(inst)["users"][0]
    assert back["snr_db"] == 10.0 and "spectral_efficiency" not in back


# ------------------------------------------------------------------------------ bad input
def _edit(change: Callable[[dict[str, Any]], Any]) -> str:
    doc = tiny_doc()
    change(doc)
    return json.dumps(doc)


def _swap_se_for_snr(user: dict[str, Any], snr: Any) -> None:
    del user["spectral_efficiency"]
    user["snr_db"] = snr


# (label, file text, JSON path in the message ("" for the whole file), words of the problem)
BAD_INPUTS: list[tuple[str, str, str, str]] = [
    ("empty file", "", "", "empty"),
    ("whitespace only", "  \n\t\n", "", "empty"),
    ("malformed JSON", '{"uplink": {', "", "invalid JSON at line 1"),
    ("trailing comma", TINY_TEXT.replace('"weight": 1}\n  ]', '"weight": 1},\n  ]'), "", "invalid JSON"),
    ("deeply nested", "[" * 100_000, "", "nested too deeply"),
    ("top level list", "[]", "", "must be an object"),
    ("top level string", '"tiny"', "", "must be an object"),
    ("top level number", "3", "", "must be an object"),
    ("duplicate key", '{"name": "a", "name": "b"}', "", "duplicate key 'name'"),
    ("missing users", _edit(lambda d: d.pop("users")), "", "missing key 'users'"),
    ("missing uplink", _edit(lambda d: d.pop("uplink")), "", "missing key 'uplink'"),
    ("missing bandwidth", _edit(lambda d: d["uplink"].pop("bandwidth_hz")), "uplink", "missing key 'bandwidth_hz'"),
    ("missing deadline", _edit(lambda d: d["users"][3].pop("deadline_s")), "users[3]", "missing key 'deadline_s'"),
    ("missing model blocks", _edit(lambda d: d["models"][1].pop("blocks")), "models[1]", "missing key 'blocks'"),
    ("missing block size", _edit(lambda d: d["blocks"][2].pop("size_bytes")), "blocks[2]", "missing key"),
    ("unknown top key", _edit(lambda d: d.update(colour="red")), "", "unknown key 'colour'"),
    ("unknown user key", _edit(lambda d: d["users"][1].update(colour=1)), "users[1]", "unknown key 'colour'"),
    ("unknown server key", _edit(lambda d: d["server"].update(gpus=2)), "server", "unknown key 'gpus'"),
    ("unknown block", _edit(lambda d: d["models"][1]["blocks"].append("x")), "models[1].blocks[2]", "unknown block"),
    ("unknown model", _edit(lambda d: d["users"][2].update(model="x")), "users[2].model", "unknown model 'x'"),
    (
        "unknown initial model",
        _edit(lambda d: d["server"].update(initial_model="x")),
        "server.initial_model",
        "unknown model",
    ),
    ("duplicate block", _edit(lambda d: d["blocks"].append(dict(d["blocks"][0]))), "blocks[4].id", "duplicate id"),
    ("duplicate model", _edit(lambda d: d["models"].append(dict(d["models"][0]))), "models[3].id", "duplicate id"),
    ("duplicate user", _edit(lambda d: d["users"].append(dict(d["users"][0]))), "users[4].id", "duplicate id"),
    (
        "block listed twice",
        _edit(lambda d: d["models"][0].update(blocks=["birds.head", "birds.head"])),
        "models[0].blocks[1]",
        "listed twice",
    ),
    ("model without blocks", _edit(lambda d: d["models"][0].update(blocks=[])), "models[0].blocks", "at least one"),
    (
        "NaN deadline",
        TINY_TEXT.replace('"deadline_s": 0.5, "weight": 1}\n', '"deadline_s": NaN, "weight": 1}\n'),
        "users[3].deadline_s",
        "finite",
    ),
    (
        "Infinity bandwidth",
        TINY_TEXT.replace('"bandwidth_hz": 10000000.0', '"bandwidth_hz": Infinity'),
        "uplink.bandwidth_hz",
        "finite",
    ),
    (
        "-Infinity block",
        TINY_TEXT.replace('"size_bytes": 20000000.0', '"size_bytes": -Infinity', 1),
        "blocks[1].size_bytes",
        "finite",
    ),
    (
        "overflowing number",
        TINY_TEXT.replace('"data_bits": 1000000.0', '"data_bits": 1e999', 1),
        "users[0].data_bits",
        "finite",
    ),
    (
        "huge integer",
        TINY_TEXT.replace('"data_bits": 1000000.0', '"data_bits": 1' + "0" * 400, 1),
        "users[0].data_bits",
        "too large",
    ),
    ("negative deadline", _edit(lambda d: d["users"][3].update(deadline_s=-1)), "users[3].deadline_s", "positive"),
    ("zero deadline", _edit(lambda d: d["users"][3].update(deadline_s=0)), "users[3].deadline_s", "positive"),
    ("negative data", _edit(lambda d: d["users"][0].update(data_bits=-5)), "users[0].data_bits", "positive"),
    ("zero weight", _edit(lambda d: d["users"][0].update(weight=0)), "users[0].weight", "positive"),
    (
        "negative spectral efficiency",
        _edit(lambda d: d["users"][0].update(spectral_efficiency=-1)),
        "users[0].spectral_efficiency",
        "positive",
    ),
    ("negative block size", _edit(lambda d: d["blocks"][0].update(size_bytes=-1)), "blocks[0].size_bytes", "non-neg"),
    (
        "negative inference",
        _edit(lambda d: d["models"][0].update(infer_time_s=-0.1)),
        "models[0].infer_time_s",
        "non-negative",
    ),
    ("zero bandwidth", _edit(lambda d: d["uplink"].update(bandwidth_hz=0)), "uplink.bandwidth_hz", "positive"),
    (
        "negative load speed",
        _edit(lambda d: d["server"].update(load_speed_bytes_per_s=-1e9)),
        "server.load_speed_bytes_per_s",
        "positive",
    ),
    ("boolean data", _edit(lambda d: d["users"][0].update(data_bits=True)), "users[0].data_bits", "must be a number"),
    ("boolean weight", _edit(lambda d: d["users"][0].update(weight=False)), "users[0].weight", "must be a number"),
    ("string data", _edit(lambda d: d["users"][0].update(data_bits="1e6")), "users[0].data_bits", "must be a number"),
    ("null deadline", _edit(lambda d: d["users"][0].update(deadline_s=None)), "users[0].deadline_s", "a number"),
    (
        "string load speed",
        _edit(lambda d: d["server"].update(load_speed_bytes_per_s="fast")),
        "server.load_speed_bytes_per_s",
        "must be a number",
    ),
    ("boolean snr", _edit(lambda d: _swap_se_for_snr(d["users"][0], True)), "users[0].snr_db", "must be a number"),
    ("string id", _edit(lambda d: d["users"][0].update(id=3)), "users[0].id", "must be a string"),
    ("empty id", _edit(lambda d: d["users"][0].update(id="")), "users[0].id", "non-empty"),
    ("users not a list", _edit(lambda d: d.update(users={})), "users", "must be an array"),
    ("user not an object", _edit(lambda d: d["users"].__setitem__(0, 5)), "users[0]", "must be an object"),
    ("name not a string", _edit(lambda d: d.update(name=3)), "name", "must be a string"),
    (
        "both efficiency and snr",
        _edit(lambda d: d["users"][0].update(snr_db=10)),
        "users[0].spectral_efficiency",
        "exactly one",
    ),
    (
        "neither efficiency nor snr",
        _edit(lambda d: d["users"][0].pop("spectral_efficiency")),
        "users[0].spectral_efficiency",
        "exactly one",
    ),
    ("snr too low", _edit(lambda d: _swap_se_for_snr(d["users"][0], -400)), "users[0].snr_db", "too low"),
    ("unknown timing", _edit(lambda d: d.update(timing="slotted")), "timing", "unknown timing model 'slotted'"),
    ("bad version", _edit(lambda d: d.update(version=2)), "version", "unsupported version 2"),
    ("string version", _edit(lambda d: d.update(version="1")), "version", "unsupported version"),
    ("another kind", _edit(lambda d: d.update(format="partialloading/solution")), "format", "this is a solution file"),
    ("bad format", _edit(lambda d: d.update(format="partialloading/recipe")), "format", "must be"),
]


def _expected_prefix(path: Path, where: str) -> str:
    return f"{path}: {where}: " if where else f"{path}: "


@pytest.mark.parametrize(("label", "text", "where", "problem"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_rejected_by_the_reader(label: str, text: str, where: str, problem: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text, "utf-8")
    with pytest.raises(InstanceError) as info:
        read_instance(path)
    message = str(info.value)
    assert message.startswith(_expected_prefix(path, where)), message
    assert problem in message
    assert "\n" not in message
    assert info.value.where == where and info.value.source == str(path)


@pytest.mark.parametrize(("label", "text", "where", "problem"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_exits_2_from_validate_and_solve(
    label: str, text: str, where: str, problem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text, "utf-8")
    out = tmp_path / "solution.json"
    for argv in (["validate", str(path)], ["solve", str(path), "--method", "edf", "--output", str(out)]):
        assert main(argv) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        lines = captured.err.splitlines()
        assert len(lines) == 1, captured.err
        assert lines[0].startswith(f"partialloading: error: {_expected_prefix(path, where)}")
        assert problem in lines[0]
        assert "Traceback" not in captured.err
        assert not out.exists()
    # Nothing half-written next to the output either.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json"]


def test_unreadable_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "missing.json")]) == 2
    assert "cannot read the file" in capsys.readouterr().err
    assert main(["validate", str(tmp_path)]) == 2
    assert "cannot read the file" in capsys.readouterr().err
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe{\x00")
    assert main(["solve", str(binary)]) == 2
    assert "not UTF-8" in capsys.readouterr().err


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + TINY_TEXT.encode("utf-8"))
    assert read_instance(path) == instances.load("tiny")


def test_atomic_write_leaves_no_file_on_failure(tmp_path: Path) -> None:
    from partialloading.io import write_text_atomic

    target = tmp_path / "out.json"
    with pytest.raises(TypeError):
        write_text_atomic(target, 3)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_edge20_is_what_its_script_builds() -> None:
    # The README entry of edge20 documents make_edge20.py; the bundled file must match it.
    from partialloading.instances import make_edge20

    assert dumps_instance(make_edge20.build()) == instances.path("edge20").read_text("utf-8")
    inst = instances.load("edge20")
    sizes = {b.id: b.size_bytes for b in inst.blocks}
    # ResNet-50 without its 2048·1000 + 1000 fc layer, ViT-B/16 without its 768·1000 + 1000 head, fp32.
    assert sizes["resnet50.backbone"] == (25_557_032 - 2_049_000) * 4
    assert sizes["vit_b16.backbone"] == (86_567_656 - 769_000) * 4
    assert sizes["resnet50.food101.head"] == (2048 * 101 + 101) * 4
