"""A sweep (family, swept parameter, methods, seeds) and its tasks and results."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from partialloading.errors import PartialLoadingError
from partialloading.methods import METHODS

from .base import EXACT, SOLVED, ParamValue, StudyError
from .families import make_instance

# --------------------------------------------------------------------------------------------
# Sweeps and tasks


def canonical(params: Mapping[str, ParamValue]) -> str:
    return json.dumps(dict(sorted(params.items())), separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True)
class Task:
    """One solve of a study: an instance (family, parameters, seed), a method and a sharing mode.

    Attributes
    ----------
    family
        Instance family.
    params
        Every generator parameter of the instance (the fixed ones and the swept one), sorted.
    parameter
        Name of the swept parameter.
    value
        Its value for this task.
    seed
        Generator seed (also passed to the method).
    method
        Method name, or :data:`EXACT`.
    sharing
        Schedule with parameter sharing (``False``: the no-sharing baseline).
    time_limit
        Time limit of the method in seconds, or ``None``.
    """

    family: str
    params: tuple[tuple[str, ParamValue], ...]
    parameter: str
    value: ParamValue
    seed: int
    method: str
    sharing: bool
    time_limit: float | None

    @property
    def instance_key(self) -> str:
        """Deterministic identifier of the instance: family, canonical parameters and seed."""
        return f"{self.family}|{canonical(dict(self.params))}|seed={self.seed}"

    @property
    def key(self) -> str:
        """Deterministic identifier of the task (primary key of its database row)."""
        limit = "none" if self.time_limit is None else repr(float(self.time_limit))
        return f"{self.instance_key}|{self.method}|sharing={int(self.sharing)}|tl={limit}"


@dataclass(frozen=True)
class Sweep:
    """Definition of a study: which instances, which methods, which sharing modes.

    Parameters
    ----------
    family
        Instance family (see :func:`families`).
    parameter
        Swept generator parameter (e.g. ``"n_users"``, ``"tightness"``, ``"bandwidth_scale"``).
    values
        Its values.
    methods
        Methods to run on every instance (:data:`EXACT` adds the exact optimum of the gap study).
    sharing
        Sharing modes (``True``: sharing-aware; ``False``: the no-sharing baseline).
    seeds
        Generator seeds: one instance per value and seed.
    time_limit
        Time limit per solve in seconds (``None``: none).
    fixed
        Other generator parameters, the same for every instance (a mapping is accepted too).
    """

    family: str
    parameter: str
    values: tuple[ParamValue, ...]
    methods: tuple[str, ...] = ("greedy", "edf")
    sharing: tuple[bool, ...] = (True, False)
    seeds: tuple[int, ...] = tuple(range(10))
    time_limit: float | None = 10.0
    fixed: tuple[tuple[str, ParamValue], ...] = ()

    def __post_init__(self) -> None:
        fixed = self.fixed.items() if isinstance(self.fixed, Mapping) else self.fixed
        object.__setattr__(self, "fixed", tuple(sorted((str(k), v) for k, v in fixed)))
        for name in ("values", "methods", "sharing", "seeds"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        for name in ("values", "methods", "sharing", "seeds"):
            items = getattr(self, name)
            if not items:
                raise StudyError(f"a sweep needs at least one of {name}")
            if len(set(items)) != len(items):
                raise StudyError(f"repeated {name}: {', '.join(map(str, items))}")
        for method in self.methods:
            if method != EXACT and method not in METHODS:
                raise StudyError(f"unknown method {method!r} (choose from {', '.join((*METHODS, EXACT))})")
        if self.parameter in dict(self.fixed):
            raise StudyError(f"parameter {self.parameter!r} is both swept and fixed")
        if self.time_limit is not None and not self.time_limit > 0:
            raise StudyError(f"time limit must be positive (got {self.time_limit})")

    def params(self, value: ParamValue) -> dict[str, ParamValue]:
        """Generator parameters of the instances at ``value``."""
        return {**dict(self.fixed), self.parameter: value}

    def tasks(self) -> list[Task]:
        """Every task of the sweep, in a deterministic order (value, seed, method, sharing)."""
        return [
            Task(
                family=self.family,
                params=tuple(sorted(self.params(value).items())),
                parameter=self.parameter,
                value=value,
                seed=seed,
                method=method,
                sharing=sharing,
                time_limit=self.time_limit,
            )
            for value in self.values
            for seed in self.seeds
            for method in self.methods
            for sharing in self.sharing
        ]

    def check(self) -> None:
        """Check that every method is available and generate one instance per value (first seed), so
        that a bad sweep fails before any work.

        Raises
        ------
        StudyError
            A method's solver is not installed, or the family or a parameter is not accepted.
        """
        for method in self.methods:
            for name in ("enumerate", "milp") if method == EXACT else (method,):
                try:
                    METHODS[name].load()
                except (ImportError, AttributeError) as exc:
                    raise StudyError(f"method {name!r} is not available ({exc})") from None
        for value in self.values:
            try:
                make_instance(self.family, self.seeds[0], self.params(value))
            except StudyError:
                raise
            except (PartialLoadingError, ValueError) as exc:
                raise StudyError(f"family {self.family!r} with {self.parameter}={value!r}: {exc}") from None


# --------------------------------------------------------------------------------------------
# Solving (runs in the workers)


_TASK_COLUMNS = ("family", "parameter", "value", "seed", "method", "sharing", "time_limit")
"""Fields of :class:`Task` stored in a row (``params`` is in the instance key)."""


@dataclass(frozen=True)
class TaskResult:
    """The outcome of one task (one database row).

    Attributes
    ----------
    task
        The task.
    solver
        The method that actually ran (``task.method`` itself, or what :data:`EXACT` resolved to).
    status
        A :class:`~partialloading.result.Status` value (the schedule passed the independent
        verifier), :data:`NOT_APPLICABLE` or :data:`ERROR`.
    objective
        Total weight served (tasks served with unit weights); ``None`` unless solved.
    bound
        Best proven upper bound reported by the method, or ``None``.
    runtime_s
        Wall-clock seconds spent in the method (generation excluded).
    n_users, n_models
        Size of the instance.
    n_served
        Number of admitted users; ``None`` unless solved.
    message
        Why the method refused or failed; empty otherwise.
    """

    task: Task
    solver: str
    status: str
    objective: float | None
    bound: float | None
    runtime_s: float | None
    n_users: int
    n_models: int
    n_served: int | None
    message: str = ""

    @property
    def key(self) -> str:
        """:attr:`Task.key` of the task."""
        return self.task.key

    @property
    def instance_key(self) -> str:
        """:attr:`Task.instance_key` of the task."""
        return self.task.instance_key

    def record(self) -> dict[str, Any]:
        """The flat row (database columns, CSV fields): the task's keys and fields, then the outcome."""
        task = self.task
        out: dict[str, Any] = {"key": task.key, "instance_key": task.instance_key}
        out.update((name, getattr(task, name)) for name in _TASK_COLUMNS)
        out.update((f.name, getattr(self, f.name)) for f in dataclasses.fields(self) if f.name != "task")
        return out

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> TaskResult:
        """The inverse of :meth:`record` (the parameters are read back from the instance key)."""
        family, rest = str(record["instance_key"]).split("|", 1)
        params_json, _, _ = rest.rpartition("|seed=")
        params = tuple(sorted(json.loads(params_json).items()))
        task = Task(family=family, params=params, **{name: record[name] for name in _TASK_COLUMNS if name != "family"})
        outcome = {f.name: record[f.name] for f in dataclasses.fields(cls) if f.name != "task"}
        return cls(task=task, **outcome)

    @property
    def solved(self) -> bool:
        """Whether the row carries a valid schedule."""
        return self.status in SOLVED
