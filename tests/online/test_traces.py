"""Replaying recorded traces: each published layout, the mapping rules, windows, token-aware
sizes and times, bad files, and the bundled excerpt."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from partialloading import instances
from partialloading.checkpoints import read_models
from partialloading.cli import main
from partialloading.errors import PartialLoadingError
from partialloading.online import Policy, read_workload, simulate
from partialloading.online.traces import DEFAULT_LATENCY, DEFAULT_LATENCY_MODEL_BYTES, TraceSpec, replay_trace
from partialloading.scenarios.configs import config
from partialloading.scenarios.configured import draw_users

FAMILY = "zoo-lora"  # six LoRA adapters on one 7B base: a server for LLM requests


def models_of(family: str = FAMILY) -> list[str]:
    _, models, _ = draw_users(family, config(family), 0, 0)
    return [m.id for m in models]


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def replay(tmp_path: Path, spec: TraceSpec, **kwargs: object):
    out = tmp_path / "w.json"
    done = replay_trace(spec, FAMILY, out, **kwargs)  # type: ignore[arg-type]
    return done, read_workload(out)


AZURE_LLM = """TIMESTAMP,ContextTokens,GeneratedTokens
2023-11-16 18:15:46.6805900,374,44
2023-11-16 18:15:50.9951690,396,109
2023-11-16 18:15:51.2224670,0,55
"""


def test_azure_llm_arrivals_sizes_and_times(tmp_path: Path) -> None:
    trace = write(tmp_path / "llm.csv", AZURE_LLM)
    done, workload = replay(tmp_path, TraceSpec(trace, "azure-llm", mapping="hash", bits_per_token=16))
    assert done.rows == done.requests == len(workload.requests) == 3
    # Arrivals from the first request: 0, 4.3145790 s, 4.5418770 s (to the 100 ns of the trace).
    assert [r.arrival_s for r in workload.requests] == pytest.approx([0.0, 4.314579, 4.541877])
    # Input: prompt tokens × 16 bits; an empty prompt still uploads one token.
    assert [r.data_bits for r in workload.requests] == [374 * 16, 396 * 16, 16]
    # Inference: the default latency model scaled by the model's size.
    sizes = dict(zip([m.id for m in workload.server.models], workload.server.model_sizes.tolist(), strict=True))
    for request, (p, g) in zip(workload.requests, [(374, 44), (396, 109), (0, 55)], strict=True):
        lat = DEFAULT_LATENCY.scaled(sizes[request.model] / DEFAULT_LATENCY_MODEL_BYTES)
        assert request.infer_time_s == pytest.approx(
            lat.overhead_s + p * lat.prefill_s_per_token + g * lat.decode_s_per_token
        )


def test_a_catalog_latency_table_gives_the_times(tmp_path: Path) -> None:
    # A catalog of two models sharing a base, each with its own latency table.
    catalog = {
        "blocks": [{"id": "base", "size_bytes": 1e9}, {"id": "a", "size_bytes": 1e6}, {"id": "b", "size_bytes": 1e6}],
        "models": [
            {"id": "A", "blocks": ["base", "a"], "infer_time_s": 0.1, "overhead_s": 0.01,
             "prefill_s_per_token": 0.001, "decode_s_per_token": 0.02},
            {"id": "B", "blocks": ["base", "b"], "infer_time_s": 0.1},
        ],
    }  # fmt: skip
    path = write(tmp_path / "models.json", json.dumps(catalog))
    trace = write(tmp_path / "llm.csv", AZURE_LLM)
    mapping = write(tmp_path / "map.json", json.dumps({"*": "A"}))
    _, workload = replay(tmp_path, TraceSpec(trace, "azure-llm", mapping=mapping), catalog=read_models(path))
    # 0.01 + 374 × 0.001 + 44 × 0.02 = 1.264 s, and so on.
    assert [r.infer_time_s for r in workload.requests] == pytest.approx([1.264, 2.586, 1.11])
    assert {r.model for r in workload.requests} == {"A"}


BURSTGPT = """Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type
5,ChatGPT,472,18,490,Conversation log
45,ChatGPT,1087,0,1087,Conversation log
118,GPT-4,417,276,693,Conversation log
134,ChatGPT,1360,254,1614,API log
"""


def test_burstgpt_keys_by_popularity_rank(tmp_path: Path) -> None:
    trace = write(tmp_path / "b.csv", BURSTGPT)
    done, workload = replay(tmp_path, TraceSpec(trace, "burstgpt", mapping="rank"))
    first, second = models_of()[:2]
    # ChatGPT (3 requests) is the most frequent key: the first model; GPT-4 the second.
    assert [r.model for r in workload.requests] == [first, first, second, first]
    assert [r.arrival_s for r in workload.requests] == [0.0, 40.0, 113.0, 129.0]
    assert done.per_model[first] == 3 and done.per_model[second] == 1


def test_auto_ranks_keys_and_hashes_keyless_traces(tmp_path: Path) -> None:
    keyed = write(tmp_path / "b.csv", BURSTGPT)
    _, by_rank = replay(tmp_path, TraceSpec(keyed, "burstgpt", mapping="rank"))
    _, by_auto = replay(tmp_path, TraceSpec(keyed, "burstgpt"))
    assert [r.model for r in by_auto.requests] == [r.model for r in by_rank.requests]
    keyless = write(tmp_path / "llm.csv", AZURE_LLM)
    _, hashed = replay(tmp_path, TraceSpec(keyless, "azure-llm", mapping="hash"))
    _, auto = replay(tmp_path, TraceSpec(keyless, "azure-llm"))
    assert [r.model for r in auto.requests] == [r.model for r in hashed.requests]


def test_zipf_matching_fills_each_models_share(tmp_path: Path) -> None:
    # Keys with 6, 3, 2 and 1 requests; over 2 models with Zipf(1) the shares are 2/3 and 1/3 of 12
    # (8 and 4): k6 → model 0 (deficit 8), k3 → model 1 (4 vs 2), k2 → model 0 (2 vs 1), k1 → model 1.
    rows = [f"{i},k{n}" for n, count in ((6, 6), (3, 3), (2, 2), (1, 1)) for i in range(count)]
    trace = write(
        tmp_path / "t.csv", "t,key\n" + "\n".join(f"{i},{r.split(',')[1]}" for i, r in enumerate(rows)) + "\n"
    )
    spec = TraceSpec(trace, "csv", columns={"time": "t", "model": "key"}, mapping="zipf:1")
    out = tmp_path / "w.json"
    replay_trace(spec, "zoo-heads", out, n_models=2)
    workload = read_workload(out)
    m0, m1 = [m.id for m in workload.server.models]
    expected = {"k6": m0, "k3": m1, "k2": m0, "k1": m1}
    assert [r.model for r in workload.requests] == [expected[r.split(",")[1]] for r in rows]


FUNCTIONS_HEADER = "HashOwner,HashApp,HashFunction,Trigger," + ",".join(str(m) for m in range(1, 1441))


def functions_row(owner: str, app: str, fn: str, counts: dict[int, int]) -> str:
    return f"{owner},{app},{fn},http," + ",".join(str(counts.get(m, 0)) for m in range(1, 1441))


def test_azure_functions_spreads_each_minute(tmp_path: Path) -> None:
    text = "\n".join(
        [FUNCTIONS_HEADER, functions_row("o", "app1", "f1", {1: 3, 3: 2}), functions_row("o", "app1", "f2", {2: 1})]
    )
    trace = write(tmp_path / "f.csv", text + "\n")
    done, workload = replay(tmp_path, TraceSpec(trace, "azure-functions", mapping="rank", seed=4))
    times = sorted(r.arrival_s for r in workload.requests)
    assert done.requests == 6
    # Three invocations in minute 1, one in minute 2, two in minute 3.
    assert sum(0 <= t < 60 for t in times) == 3 and sum(60 <= t < 120 for t in times) == 1
    assert sum(120 <= t < 180 for t in times) == 2
    first, second = [m.id for m in workload.server.models][:2]
    assert sorted(r.model for r in workload.requests) == sorted([first] * 5 + [second])
    # The same seed gives the same arrivals; by application both functions are one key.
    _, again = replay(tmp_path, TraceSpec(trace, "azure-functions", mapping="rank", seed=4))
    assert [r.arrival_s for r in again.requests] == [r.arrival_s for r in workload.requests]
    _, by_app = replay(tmp_path, TraceSpec(trace, "azure-functions", key="app", mapping="rank", seed=4))
    assert {r.model for r in by_app.requests} == {first}


def test_a_window_reads_only_its_minutes_of_azure_functions(tmp_path: Path) -> None:
    text = "\n".join([FUNCTIONS_HEADER, functions_row("o", "a", "f1", {1: 3, 2: 1, 3: 2, 1440: 10**6})])
    trace = write(tmp_path / "f.csv", text + "\n")
    # Minute 2 only (seconds 60 to 120 of the day): its one invocation, from 0; the million in
    # the last minute are never drawn.
    done, workload = replay(tmp_path, TraceSpec(trace, "azure-functions", mapping="hash", start_s=60, duration_s=60))
    assert done.requests == 1 and 0 <= workload.requests[0].arrival_s < 60


def test_a_window_and_a_speed(tmp_path: Path) -> None:
    trace = write(tmp_path / "t.csv", "t,in,out\n" + "\n".join(f"{t},10,5" for t in range(10)) + "\n")
    spec = TraceSpec(trace, "csv", columns={"time": "t", "input": "in", "output": "out"}, mapping="hash",
                     start_s=2.0, duration_s=4.0, speed=2.0)  # fmt: skip
    done, workload = replay(tmp_path, spec)
    # Seconds 2, 3, 4, 5 of the trace, replayed twice as fast from 0.
    assert [r.arrival_s for r in workload.requests] == [0.0, 0.5, 1.0, 1.5]
    assert done.rows == 10 and done.requests == 4


def test_hash_is_deterministic_and_seeded(tmp_path: Path) -> None:
    trace = write(tmp_path / "t.csv", "t\n" + "\n".join(str(t) for t in range(200)) + "\n")
    runs = [
        replay(tmp_path, TraceSpec(trace, "csv", columns={"time": "t"}, mapping="hash", seed=s))[1] for s in (1, 1, 2)
    ]
    models = [[r.model for r in w.requests] for w in runs]
    assert models[0] == models[1] != models[2]
    counts = np.unique(models[0], return_counts=True)[1]
    assert len(counts) == len(models_of()) and counts.min() > 15  # spread over every model


@pytest.mark.parametrize(
    ("text", "fmt", "where"),
    [
        (AZURE_LLM.replace("396", "abc"), "azure-llm", "line 3, column ContextTokens"),
        ("TIMESTAMP,ContextTokens,GeneratedTokens\nyesterday,374,44\n", "azure-llm", "line 2, column TIMESTAMP"),
        (AZURE_LLM.replace("Context", "Prompt"), "azure-llm", "line 1: missing column 'ContextTokens'"),
        ("Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n5,ChatGPT,-3,1,1,x\n", "burstgpt",
         "line 2, column Request tokens"),
        ("", "burstgpt", "the trace is empty"),
    ],
)  # fmt: skip
def test_bad_traces_name_the_line_and_column(tmp_path: Path, text: str, fmt: str, where: str) -> None:
    trace = write(tmp_path / "bad.csv", text)
    with pytest.raises(PartialLoadingError, match=where.replace("(", r"\(")) as caught:
        replay_trace(TraceSpec(trace, fmt, mapping="hash"), FAMILY, tmp_path / "w.json")
    assert str(caught.value).startswith(trace)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]


SORTED = "TIMESTAMP,ContextTokens,GeneratedTokens\n" + "".join(
    f"2023-11-16 18:15:{second}.0,300,10\n" for second in (46, 47, 48, 52, 53, 55)
)


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        # Line 6 earlier than line 5: once dropped unseen (3 requests of 6 rows), now refused.
        (SORTED.replace("18:15:53", "18:15:49"), "line 6, column TIMESTAMP", "earlier than the row before it"),
        (SORTED.replace("18:15:47", "18:15:40"), "line 3, column TIMESTAMP", "earlier than the row before it"),
        # A bad cell after good rows: its own line, once (not the reader's position around it).
        (SORTED.replace("2023-11-16 18:15:52.0", "bad"), "line 5, column TIMESTAMP", "not a time"),
    ],
)
def test_every_row_is_a_request_or_refused_by_its_line(tmp_path: Path, text: str, where: str, problem: str) -> None:
    trace = write(tmp_path / "t.csv", text)
    with pytest.raises(PartialLoadingError) as caught:
        replay_trace(TraceSpec(trace, "azure-llm"), FAMILY, tmp_path / "w.json")
    assert str(caught.value).startswith(f"{trace}: {where}: {problem}")
    assert str(caught.value).count("line") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]
    sorted_trace = write(tmp_path / "sorted.csv", SORTED)
    done, _ = replay(tmp_path, TraceSpec(sorted_trace, "azure-llm"))
    assert done.rows == done.requests == 6


def test_an_unmapped_key_is_named(tmp_path: Path) -> None:
    trace = write(tmp_path / "b.csv", BURSTGPT)
    mapping = write(tmp_path / "map.json", json.dumps({"ChatGPT": models_of()[0]}))
    with pytest.raises(PartialLoadingError, match="line 4: key 'GPT-4' is not in the mapping"):
        replay_trace(TraceSpec(trace, "burstgpt", mapping=mapping), FAMILY, tmp_path / "w.json")


def test_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = write(tmp_path / "b.csv", BURSTGPT)
    out = tmp_path / "w.json"
    assert main(["workload", FAMILY, "--from-trace", trace, "--format", "burstgpt", "-o", str(out)]) == 0
    assert "4 requests of 4 trace rows" in capsys.readouterr().out
    # A published layout is known by its header: --format may be left out.
    assert main(["workload", FAMILY, "--from-trace", trace, "-o", str(out)]) == 0
    assert "4 requests of 4 trace rows" in capsys.readouterr().out
    plain = write(tmp_path / "plain.csv", "when,what\n1,a\n")
    assert main(["workload", FAMILY, "--from-trace", plain, "-o", str(out)]) == 2
    assert "no known trace layout in its header: give --format" in capsys.readouterr().err
    assert main(["workload", FAMILY, "--from-trace", trace, "--format", "burstgpt", "--rate", "3", "-o", str(out)]) == 2
    assert "a trace brings its own" in capsys.readouterr().err
    assert main(["workload", FAMILY, "--duration", "3", "-o", str(out)]) == 2
    assert "needs --rate and --duration" in capsys.readouterr().err


def test_the_bundled_excerpt_replays_conserving_every_request(tmp_path: Path) -> None:
    # The first five minutes of the Azure LLM inference trace 2023 (conversation), its first
    # minute replayed.
    trace = str(instances.trace_path("azure-llm-conv-5min"))
    spec = TraceSpec(trace, "azure-llm", mapping="hash", duration_s=60.0)
    done, workload = replay(tmp_path, spec)
    assert done.rows == 1441 and 0 < done.requests < done.rows
    runs = [simulate(workload, Policy(policy)) for policy in ("greedy", "greedy", "fifo")]
    for run in runs:
        assert run.summary.served + run.summary.dropped == len(workload.requests)
    # Deterministic: the same policy twice serves the same requests at the same times.
    assert [(o.request, o.finish_s) for o in runs[0].outcomes] == [(o.request, o.finish_s) for o in runs[1].outcomes]


def test_a_catalogs_trace_needs_no_family(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # With --models the family only gave the uplink, loading speed and radio: the defaults every
    # family shares stand in, and the published layout is known by its header.
    catalog = tmp_path / "models.json"
    catalog.write_text(
        json.dumps(
            {
                "format": "partialloading/models",
                "version": 1,
                "blocks": [{"id": "base", "size_bytes": 1e9}, {"id": "a", "size_bytes": 1e7}],
                "models": [{"id": "m1", "blocks": ["base", "a"], "infer_time_s": 0.1}],
            }
        )
    )
    trace, out = str(instances.trace_path("azure-llm-conv-5min")), tmp_path / "w.json"
    argv = ["workload", "--from-trace", trace, "--models", str(catalog), "--duration", "20", "-o", str(out)]
    assert main(argv) == 0
    assert "per model: m1 " in capsys.readouterr().out
    workload = read_workload(out)
    assert [m.id for m in workload.server.models] == ["m1"] and workload.server.bandwidth_hz == 20e6
    assert main(["workload", "--from-trace", trace, "-o", str(out)]) == 2
    assert "needs a FAMILY for the server's models, or --models FILE" in capsys.readouterr().err
