"""What a trace replay reads and how: the formats, their columns, the mapping rules' names and
the checked :class:`TraceSpec`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from partialloading.errors import InstanceError
from partialloading.scenarios import ScenarioError

TRACE_FORMATS = ("azure-llm", "azure-functions", "burstgpt", "csv")
"""The trace layouts :func:`replay_trace` reads."""


COLUMNS: dict[str, dict[str, str]] = {
    # The Azure LLM inference traces 2023/2024 (Splitwise): TIMESTAMP,ContextTokens,GeneratedTokens.
    "azure-llm": {"time": "TIMESTAMP", "input": "ContextTokens", "output": "GeneratedTokens"},
    # BurstGPT: Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type.
    "burstgpt": {"time": "Timestamp", "model": "Model", "input": "Request tokens", "output": "Response tokens"},
}
"""Which published column holds the time, the key, the prompt and the generated tokens."""


FUNCTION_KEYS = {"function": "HashFunction", "app": "HashApp", "owner": "HashOwner"}
"""The key of an Azure Functions 2019 row (``--key``): the function, its application or its owner."""


MAPPINGS = ("auto", "rank", "zipf", "hash", "file")
"""Rules that map a trace request to a model of the server (``zipf`` takes ``zipf:S``, ``file`` a
path; ``auto``: ``rank`` for a trace with keys, ``hash`` for one without)."""


def detect_format(header: list[str]) -> str | None:
    """The published layout whose columns the ``header`` holds (``None``: none, or a plain CSV
    that needs ``--format csv --columns``)."""
    names = set(header)
    for layout, columns in COLUMNS.items():
        if set(columns.values()) <= names:
            return layout
    if set(FUNCTION_KEYS.values()) <= names and "Trigger" in names and "1" in names:
        return "azure-functions"
    return None


class TraceError(InstanceError):
    """A trace file that cannot be read (the message names the file, the line and the column)."""


@dataclass(frozen=True)
class TraceSpec:
    """What to read from a trace and how to turn it into requests (see the module docstring).

    Parameters
    ----------
    path, format
        The trace file and its layout (:data:`TRACE_FORMATS`).
    columns
        For ``format="csv"``: the columns of ``time`` (seconds, or date-times), and optionally
        ``model`` (the key), ``input`` and ``output`` (prompt and generated tokens).
    key
        For ``azure-functions``: ``function``, ``app`` or ``owner`` (:data:`FUNCTION_KEYS`).
    mapping
        ``auto`` (``rank`` with keys, else ``hash``), ``rank``, ``zipf:S``, ``hash`` or a mapping
        file's path.
    start_s, duration_s, speed
        The window of the trace kept (seconds from its first request; ``None``: to the end) and
        how much faster than recorded it is replayed.
    bits_per_token
        Input bits per prompt token (default: the family's ``token_bits``).
    slo, spread, seed
        Deadlines as for generated workloads, and the seed of every draw.
    """

    path: str
    format: str
    columns: Mapping[str, str] = field(default_factory=dict)
    key: str = "function"
    mapping: str = "auto"
    start_s: float = 0.0
    duration_s: float | None = None
    speed: float = 1.0
    bits_per_token: float | None = None
    slo: float = 3.0
    spread: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        if self.format not in TRACE_FORMATS:
            raise ScenarioError(f"--format must be one of {', '.join(TRACE_FORMATS)} (got {self.format!r})")
        checks = [
            (self.start_s, "--start", lambda x: x >= 0),
            (self.speed, "--speed", lambda x: x > 0),
            (self.slo, "--slo", lambda x: x > 0),
            (self.spread, "--spread", lambda x: 0 <= x < 1),
        ]
        if self.duration_s is not None:
            checks.append((self.duration_s, "--duration", lambda x: x > 0))
        if self.bits_per_token is not None:
            checks.append((self.bits_per_token, "--bits-per-token", lambda x: x > 0))
        for value, name, ok in checks:
            if not (isinstance(value, int | float) and math.isfinite(value) and ok(value)):
                raise ScenarioError(f"{name}: out of range (got {value!r})")
        if self.format == "csv" and "time" not in self.columns:
            raise ScenarioError("--format csv needs --columns time=COLUMN[,model=COLUMN,input=COLUMN,output=COLUMN]")
        if self.format != "csv" and self.columns:
            raise ScenarioError("--columns applies to --format csv only")
        unknown = sorted(set(self.columns) - {"time", "model", "input", "output"})
        if unknown:
            raise ScenarioError(f"--columns: unknown field {unknown[0]!r} (fields: time, model, input, output)")
        if self.key not in FUNCTION_KEYS:
            raise ScenarioError(f"--key must be one of {', '.join(FUNCTION_KEYS)} (got {self.key!r})")
        rule, _, arg = self.mapping.partition(":")
        if rule == "zipf":
            try:
                float(arg)
            except ValueError:
                raise ScenarioError(f"--map zipf:S needs a number S (got {self.mapping!r})") from None
        elif self.mapping not in ("auto", "rank", "hash") and not Path(self.mapping).is_file():
            raise ScenarioError(f"--map must be auto, rank, zipf:S, hash or a mapping file (no file {self.mapping!r})")

    @property
    def keyed(self) -> bool:
        """Whether the trace's requests have keys (a function, an application, a model name)."""
        return self.format in ("azure-functions", "burstgpt") or (self.format == "csv" and "model" in self.columns)
