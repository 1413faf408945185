"""What a simulation writes: one CSV row per request, and a summary JSON of every run.

The request table has the columns ``request, model, arrival_s, deadline_s, status, round,
upload_end_s, infer_start_s, finish_s`` (the three times empty for a dropped request), one row
per request in workload order (with several servers, a ``server`` column more: the server that
served or dropped it). The summary file is ``{"format": "partialloading/simulation",
"version": 1, "workload": ..., "runs": [...]}``, one run per policy, each with the policy, the
timing model and the metrics of :class:`~partialloading.online.Summary`. Numbers are written
with ``repr``, so two equal runs give byte-identical files, except for the two planning-time
fields, which are wall-clock measurements.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
from collections.abc import Sequence
from typing import Any

from partialloading.io import write_text_atomic
from partialloading.params import MethodParams

from .simulate import Round, Simulation, Summary

OUTCOME_COLUMNS = (
    "request",
    "model",
    "arrival_s",
    "deadline_s",
    "status",
    "round",
    "upload_end_s",
    "infer_start_s",
    "finish_s",
)
SIMULATION_FORMAT = "partialloading/simulation"


def _time(x: float) -> str:
    return "" if math.isnan(x) else repr(float(x))


def dumps_outcomes_csv(run: Simulation) -> str:
    """The request table of ``run`` as CSV text (with a ``batch_size`` column, empty for a
    dropped request, where the workload's models have batch tables)."""
    batching = run.summary.mean_batch_size is not None or run.summary.gpu_seconds_saved is not None
    servers = run.summary.servers is not None
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow((*OUTCOME_COLUMNS, *(["batch_size"] if batching else []), *(["server"] if servers else [])))
    for o in run.outcomes:
        size = [str(o.batch_size) if o.batch_size else ""] if batching else []
        size += [o.server or ""] if servers else []
        writer.writerow(
            [
                o.request,
                o.model,
                repr(o.arrival_s),
                repr(o.deadline_s),
                o.status,
                o.round,
                _time(o.upload_end_s),
                _time(o.infer_start_s),
                _time(o.finish_s),
                *size,
            ]
        )
    return out.getvalue()


ROUND_COLUMNS = tuple(f.name for f in dataclasses.fields(Round))
"""Columns of the round table (:func:`dumps_rounds_csv`): one row per planning round."""


def dumps_rounds_csv(run: Simulation) -> str:
    """The round table of ``run`` as CSV text: when each round ran, what it planned and served,
    the bytes loaded, reused and evicted, and the bytes resident when it ended (the GPU memory
    over time)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    # The server column only with several servers, so one-server tables read as before.
    width = len(ROUND_COLUMNS) if run.summary.servers is not None else len(ROUND_COLUMNS) - 1
    writer.writerow(ROUND_COLUMNS[:width])
    for r in run.rounds:
        writer.writerow([repr(v) if isinstance(v, float) else v for v in dataclasses.astuple(r)][:width])
    return out.getvalue()


def write_rounds_csv(run: Simulation, path: str | os.PathLike[str]) -> None:
    """Write the round table of ``run`` to ``path`` (atomically)."""
    write_text_atomic(path, dumps_rounds_csv(run))


def write_outcomes_csv(run: Simulation, path: str | os.PathLike[str]) -> None:
    """Write the request table of ``run`` to ``path`` (atomically)."""
    write_text_atomic(path, dumps_outcomes_csv(run))


BATCH_FIELDS = ("mean_batch_size", "gpu_seconds_saved")
"""Metrics written only where the workload batches (so files without batching read as before)."""


def summary_to_dict(summary: Summary) -> dict[str, Any]:
    """The metrics as a JSON-ready mapping (field order as in :class:`Summary`; the batch
    metrics only where the workload batches)."""
    out = dataclasses.asdict(summary)
    for name in (*BATCH_FIELDS, "servers"):
        if out[name] is None:
            del out[name]
    return out


def run_to_dict(run: Simulation) -> dict[str, Any]:
    """One run of the summary file: the policy, the timing model and the metrics."""
    policy = run.policy
    given = policy.params
    if isinstance(given, MethodParams):
        params = {f.name: getattr(given, f.name) for f in dataclasses.fields(given)}
    else:
        params = dict(given or {})
    return {
        "policy": policy.method,
        "sharing": policy.sharing,
        "params": params,
        "time_limit_s": policy.time_limit,
        "seed": policy.seed,
        "timing": run.timing,
        **({"router": run.router} if run.router is not None else {}),
        **summary_to_dict(run.summary),
    }


def write_summaries(runs: Sequence[Simulation], path: str | os.PathLike[str]) -> None:
    """Write the summary file of ``runs`` (all on one workload) to ``path`` (atomically)."""
    doc = {
        "format": SIMULATION_FORMAT,
        "version": 1,
        "workload": runs[0].workload if runs else None,
        "runs": [run_to_dict(r) for r in runs],
    }
    write_text_atomic(path, json.dumps(doc, indent=2) + "\n")
