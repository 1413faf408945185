"""``blocks``, ``inspect``, ``generate --models`` and ``calibrate`` from the command line."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest

from partialloading import solve
from partialloading.checkpoints import calibrate, derive, read_models
from partialloading.cli import main
from partialloading.io import read_instance
from partialloading.scenarios import generate_with_models
from partialloading.validation.verify import verify_solution

from builders import backbone_tensors, save, save_adapter, save_sharded, tensor


def heads(tmp_path: Path) -> list[Path]:
    bb = backbone_tensors()
    return [
        save(tmp_path / f"{name}.safetensors", {**bb, "classifier.weight": tensor(seed, 3, 4)})
        for name, seed in (("birds", 10), ("cars", 20), ("dogs", 30))
    ]


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("partialloading: error: "), err
    assert "Traceback" not in err
    return err


def test_blocks_writes_the_catalog_and_a_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "models.json"
    paths = [str(p) for p in heads(tmp_path)]
    assert main(["blocks", *paths, "--out", str(out), "--infer-time", "0.01", "--infer-time", "cars=0.02"]) == 0
    text = capsys.readouterr().out
    assert "3 models, 4 blocks" in text and "shared/embed+encoder[3]" in text
    catalog = read_models(out)
    assert [m.infer_time_s for m in catalog.models] == [0.01, 0.02, 0.01]
    assert catalog.block_sizes.tolist() == [352.0, 48.0, 48.0, 48.0]


def test_blocks_to_a_schedule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    models = tmp_path / "models.json"
    assert main(["blocks", *map(str, heads(tmp_path)), "-o", str(models), "--infer-time", "0.005", "--quiet"]) == 0
    gen = tmp_path / "gen"
    assert main(["generate", "backbone", "--models", str(models), "--users", "8", "--n", "2", "--out", str(gen)]) == 0
    files = sorted(gen.glob("*.json"))
    assert len(files) == 2
    instance = read_instance(files[0])
    assert [m.id for m in instance.models] == ["birds", "cars", "dogs"]
    assert instance.num_users == 8
    solution = tmp_path / "solution.json"
    assert main(["solve", str(files[0]), "--method", "milp", "-o", str(solution)]) == 0
    assert main(["verify", str(files[0]), str(solution)]) == 0


@pytest.mark.parametrize("method", ["greedy", "milp", "dp"])
def test_catalog_instance_solves_and_verifies(tmp_path: Path, method: str) -> None:
    catalog = derive(heads(tmp_path)).with_infer_times({"birds": 0.01, "cars": 0.01, "dogs": 0.02})
    instance = generate_with_models(
        catalog.instance_blocks(),
        catalog.instance_models(),
        seed=3,
        n_users=10,
        deadlines="common" if method == "dp" else "per_user",  # the DP's exact case: one deadline
        tightness=0.4,
    )
    result = solve(instance, method=method)
    assert verify_solution(instance, result.to_dict()).ok
    assert result.objective >= 1


def test_generate_models_needs_inference_times(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    models = tmp_path / "models.json"
    assert main(["blocks", *map(str, heads(tmp_path)), "-o", str(models), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["generate", "backbone", "--models", str(models), "--out", str(tmp_path / "gen")]) == 2
    assert "models[0].infer_time_s: model 'birds' has no inference time" in one_error_line(capsys)
    assert not (tmp_path / "gen").exists()


def test_inspect_catalog_and_checkpoints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = [str(p) for p in heads(tmp_path)]
    models = tmp_path / "models.json"
    assert main(["blocks", *paths, "-o", str(models), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["inspect", str(models)]) == 0
    from_file = capsys.readouterr().out
    assert main(["inspect", *paths]) == 0
    assert capsys.readouterr().out == from_file
    # birds: 400 bytes, 352 of them shared (88.0%), most with cars and dogs.
    row = next(line for line in from_file.splitlines() if line.startswith("birds "))
    assert "88.0%" in row and "cars (0.0 MB)" in row
    assert "MB in common" in from_file


def test_inspect_still_reads_instances(capsys: pytest.CaptureFixture[str]) -> None:
    from partialloading import instances

    assert main(["inspect", str(instances.path("tiny"))]) == 0
    assert "cluster" in capsys.readouterr().out


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def bad_inputs(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    good = save(tmp_path / "good.safetensors", backbone_tensors())
    raw = good.read_bytes()
    truncated = write_bytes(tmp_path / "truncated.safetensors", raw[:-10])
    beyond = write_bytes(tmp_path / "beyond.safetensors", struct.pack("<Q", len(raw) * 10) + raw[8:])
    text = write_bytes(tmp_path / "notes.safetensors", b"these are not tensors, just some words\n")
    sharded = save_sharded(tmp_path / "sharded", backbone_tensors(), shards=2)
    (sharded / "model-00002-of-00002.safetensors").unlink()
    orphan = save_adapter(tmp_path / "orphan", "meta-llama/Llama-2-7b-hf", {"lora.w": tensor(1, 2, 2)})
    twin = tmp_path / "twin"
    twin.mkdir()
    shutil.copyfile(good, twin / "good.safetensors")
    return {
        "truncated": ([str(truncated)], "truncated.safetensors: tensor"),
        "header beyond the file": ([str(beyond)], "beyond.safetensors: header: header length"),
        "not safetensors": ([str(text)], "notes.safetensors: header: not a safetensors file"),
        "missing shard": ([str(sharded)], "weight_map names 'model-00002-of-00002.safetensors': no such file"),
        "PEFT base not found": ([str(orphan)], "base model 'meta-llama/Llama-2-7b-hf' is neither a model"),
        "same id twice": ([str(good), str(twin / "good.safetensors")], "model id 'good' is already used"),
        "missing path": ([str(tmp_path / "nowhere")], "nowhere: no such file or folder"),
        "empty file": ([str(write_bytes(tmp_path / "empty.safetensors", b""))], "not a safetensors file: 0 bytes"),
    }


CASES = [
    "truncated",
    "header beyond the file",
    "not safetensors",
    "missing shard",
    "PEFT base not found",
    "same id twice",
    "missing path",
    "empty file",
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("command", ["blocks", "inspect"])
def test_bad_checkpoints_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, command: str
) -> None:
    paths, expected = bad_inputs(tmp_path)[case]
    out = tmp_path / "models.json"
    args = [command, *paths] + (["--out", str(out)] if command == "blocks" else [])
    if (
        command == "inspect"
        and len(paths) == 1
        and case in ("not safetensors", "empty file", "truncated", "header beyond the file")
    ):
        args.append(str(tmp_path / "good.safetensors"))  # two paths: read as checkpoints, not a JSON file
    assert main(args) == 2
    assert expected in one_error_line(capsys)
    assert not out.exists()


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--infer-time", "-1"], "--infer-time: expects SECONDS or MODEL=SECONDS"),
        (["--infer-time", "zebra=0.1"], "--infer-time: no model 'zebra'"),
        (["--name", "only-one"], "--name: given 1 times for 3 checkpoints"),
    ],
)
def test_bad_options_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], expected: str
) -> None:
    out = tmp_path / "models.json"
    assert main(["blocks", *map(str, heads(tmp_path)), "-o", str(out), *extra]) == 2
    assert expected in one_error_line(capsys)
    assert not out.exists()


def test_blocks_refuses_bad_output_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = [str(p) for p in heads(tmp_path)]
    assert main(["blocks", *paths, "-o", str(tmp_path)]) == 2
    assert "is a folder" in one_error_line(capsys)
    assert main(["blocks", *paths, "-o", str(tmp_path / "missing" / "m.json")]) == 2
    assert "does not exist" in one_error_line(capsys)
    before = Path(paths[0]).read_bytes()
    assert main(["blocks", *paths, "-o", paths[0]]) == 2
    assert "is one of the checkpoint files" in one_error_line(capsys)
    assert Path(paths[0]).read_bytes() == before


def test_calibrate_without_a_gpu(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = heads(tmp_path)
    result = calibrate(paths, repeats=1, gpu=False)
    assert result.total_bytes == sum(p.stat().st_size for p in paths)
    assert result.warm_read > 0 and result.host_to_gpu is None
    assert result.load_speed_bytes_per_s == result.warm_read
    assert any("not measured" in note for note in result.notes)
    assert main(["calibrate", *map(str, paths), "--repeats", "1", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["load_speed_bytes_per_s"] > 0 and doc["total_bytes"] == result.total_bytes
    if doc["host_to_gpu_bytes_per_s"] is None:  # no PyTorch GPU here: the note says why
        assert any("host-to-GPU copy skipped" in note for note in doc["notes"])


def test_calibrate_combines_read_and_copy_in_series() -> None:
    from partialloading.checkpoints import Calibration

    # 2 GB/s read then 6 GB/s copy: 1 / (1/2 + 1/6) = 1.5 GB/s.
    c = Calibration(("f",), 10, warm_read=2e9, cold_read=1e9, host_to_gpu=6e9)
    assert c.load_speed_bytes_per_s == pytest.approx(1.5e9)
    assert Calibration(("f",), 10, 2e9, 1e9, None, source="cold").load_speed_bytes_per_s == 1e9


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--repeats", "0"], "--repeats: must be a positive integer"),
        (["--source", "hot"], "--source: must be warm or cold"),
    ],
)
def test_calibrate_bad_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    assert main(["calibrate", str(heads(tmp_path)[0]), *args]) == 2
    assert expected in one_error_line(capsys)
