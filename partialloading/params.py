"""Typed parameters of each method: one frozen dataclass per method.

``solve(instance, "milp", params=MilpParams(formulation="compact"))`` or, equivalently,
``solve(instance, "milp", formulation="compact")``. The same parameters come from a TOML file
(``--params FILE.toml``: a table per method, ``[milp]`` / ``[greedy]`` ..., or the keys at the
top level) and from the command line (``--param formulation=compact``). Every value is checked
against the field's type where the dataclass is built: an unknown key or a value of the wrong
type raises :class:`~partialloading.errors.ParameterError` with one line naming the method, the
key and what is wrong.
"""

from __future__ import annotations

import math
import os
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

from .errors import ParameterError


def _describe(kind: Any) -> str:
    origin = typing.get_origin(kind)
    if origin is Literal:
        return "one of " + ", ".join(repr(v) for v in typing.get_args(kind))
    if origin in (types.UnionType, typing.Union):
        return " or ".join("null" if a is type(None) else _describe(a) for a in typing.get_args(kind))
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string", dict: "a table"}
    return names.get(origin or kind, getattr(kind, "__name__", str(kind)))


def _conforms(value: Any, kind: Any) -> bool:
    origin = typing.get_origin(kind)
    if origin is Literal:
        return any(value == v and type(value) is type(v) for v in typing.get_args(kind))
    if origin in (types.UnionType, typing.Union):
        return any(_conforms(value, a) for a in typing.get_args(kind))
    if kind is type(None):
        return value is None
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        # An integer is a valid number; a bool is not; non-finite numbers are never meant.
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if kind is dict or origin is dict:
        return isinstance(value, Mapping)
    return isinstance(value, kind)


@dataclass(frozen=True)
class MethodParams:
    """Base class of the per-method parameter dataclasses."""

    method: ClassVar[str] = ""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in fields(self):
            value = getattr(self, f.name)
            kind = hints[f.name]
            if not _conforms(value, kind):
                raise ParameterError(f"{self.method}: parameter {f.name!r} must be {_describe(kind)} (got {value!r})")
        self.check()

    def check(self) -> None:
        """Checks between fields (none by default)."""

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Names of the parameters."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Self:
        """Build the parameters from a mapping, refusing unknown keys."""
        known = cls.names()
        for key in values:
            if key not in known:
                takes = ", ".join(known) if known else "no parameters"
                raise ParameterError(f"{cls.method}: unknown parameter {key!r} (it takes {takes})")
        return cls(**dict(values))


@dataclass(frozen=True)
class EnumerateParams(MethodParams):
    """Parameters of ``enumerate``.

    Attributes
    ----------
    max_users
        Refuse instances with more users than this (the search is exponential).
    """

    method: ClassVar[str] = "enumerate"
    max_users: int = 10


@dataclass(frozen=True)
class MilpParams(MethodParams):
    """Parameters of ``milp``.

    Attributes
    ----------
    solver
        Pyomo name of the MIP solver (``"highs"``: HiGHS through highspy).
    formulation
        ``"auto"`` (compact for one common deadline, else general), ``"general"`` or
        ``"compact"`` (with per-user deadlines the compact model is a restriction, not exact).
    solver_options
        Extra options passed to the solver (override the defaults).
    """

    method: ClassVar[str] = "milp"
    solver: str = "highs"
    formulation: Literal["auto", "general", "compact"] = "auto"
    solver_options: dict[str, Any] | None = None


@dataclass(frozen=True)
class CpsatParams(MethodParams):
    """Parameters of ``cpsat``.

    Attributes
    ----------
    workers
        CP-SAT search workers; 1 is deterministic for a given seed, more are not.
    symmetry
        Symmetry-breaking and dominance constraints between users of the same model.
    hint
        Start the search from a schedule (the initial one if given, else earliest deadline first).
    resolution
        Integer time units in the largest deadline (much finer units make CP-SAT's presolve
        unreliable).
    """

    method: ClassVar[str] = "cpsat"
    workers: int = 1
    symmetry: bool = True
    hint: bool = True
    resolution: float = 1e8

    def check(self) -> None:
        if self.workers < 1:
            raise ParameterError(f"cpsat: parameter 'workers' must be at least 1 (got {self.workers})")
        if not self.resolution >= 1:
            raise ParameterError(f"cpsat: parameter 'resolution' must be at least 1 (got {self.resolution})")


@dataclass(frozen=True)
class DpParams(MethodParams):
    """Parameters of ``dp``.

    Attributes
    ----------
    prune
        Drop DP states that the Lagrangian bound proves useless (exact either way).
    """

    method: ClassVar[str] = "dp"
    prune: bool = True


@dataclass(frozen=True)
class BnbParams(MethodParams):
    """Parameters of ``bnb``.

    Attributes
    ----------
    max_nodes
        Stop after this many search nodes (default: only the time limit stops the search). The
        result then depends only on the instance and this budget.
    path_bound
        Bound the nodes with the Lagrangian path relaxation too (default; it needs numba, the
        ``fast`` extra, and at most 400 users). ``false`` leaves the level and uploads bounds
        alone, as the search was before it.
    dive
        With whole weight units, run a dive beside the layered search's rounds (default): the
        labels depth first, the most promising first, which finds heavy schedules early.
        ``false`` runs the rounds alone. Either proves the same optimum.
    """

    method: ClassVar[str] = "bnb"
    max_nodes: int | None = None
    path_bound: bool = True
    dive: bool = True

    def check(self) -> None:
        if self.max_nodes is not None and self.max_nodes < 1:
            raise ParameterError(f"bnb: parameter 'max_nodes' must be at least 1 (got {self.max_nodes})")


@dataclass(frozen=True)
class BendersParams(MethodParams):
    """Parameters of ``benders`` (several servers).

    Attributes
    ----------
    subproblem
        The one-server exact method that schedules each server's assigned users (``"auto"``:
        ``bnb`` where it applies, else ``milp``).
    cores
        Add, for each server whose assigned users cannot all be served, a cut on a minimal
        subset that cannot (default), besides the optimality cut.
    max_iterations
        Stop after this many master problems (default: only the time limit stops the loop).
    """

    method: ClassVar[str] = "benders"
    subproblem: Literal["auto", "bnb", "milp", "enumerate", "cpsat"] = "auto"
    cores: bool = True
    max_iterations: int | None = None

    def check(self) -> None:
        if self.max_iterations is not None and self.max_iterations < 1:
            raise ParameterError(f"benders: parameter 'max_iterations' must be at least 1 (got {self.max_iterations})")


@dataclass(frozen=True)
class GreedyParams(MethodParams):
    """Parameters of ``greedy``.

    Attributes
    ----------
    improve
        Run the local search (default) or return the best constructive schedule.
    effort
        Local-search budget in evaluated positions (default: grows with the number of users).
        The result depends only on the instance, the seed and this budget, unless a time limit
        cuts the search first.
    restarts
        Randomized restarts of the local search (default: many on small instances, none on large).
    """

    method: ClassVar[str] = "greedy"
    improve: bool = True
    effort: float | None = None
    restarts: int | None = None

    def check(self) -> None:
        if self.effort is not None and self.effort < 0:
            raise ParameterError(f"greedy: parameter 'effort' must be non-negative (got {self.effort})")
        if self.restarts is not None and self.restarts < 0:
            raise ParameterError(f"greedy: parameter 'restarts' must be non-negative (got {self.restarts})")


@dataclass(frozen=True)
class EdfParams(MethodParams):
    """``edf`` takes no parameters."""

    method: ClassVar[str] = "edf"


@dataclass(frozen=True)
class FifoParams(MethodParams):
    """``fifo`` takes no parameters."""

    method: ClassVar[str] = "fifo"


PARAMS: dict[str, type[MethodParams]] = {
    cls.method: cls
    for cls in (
        EnumerateParams,
        MilpParams,
        CpsatParams,
        BnbParams,
        DpParams,
        BendersParams,
        GreedyParams,
        EdfParams,
        FifoParams,
    )
}
"""The parameter class of each method."""


def parse_value(text: str) -> Any:
    """A command-line value as TOML reads it (``3``, ``1e6``, ``true``, ``"x"``, ``'x'``,
    ``[1, 2]``), else as a number (``.5``), else the text itself (``int8``).

    Every command reads ``--param``, ``--set`` and ``--values`` with it, so a value is written
    the same way everywhere (``--set precision=int8`` and ``--set 'precision="int8"'`` alike).
    """
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def parse_assignments(items: Sequence[str], option: str = "--param") -> dict[str, Any]:
    """``["key=value", ...]`` from ``option`` (``--param``, ``--set``) into a mapping (values by
    :func:`parse_value`)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ParameterError(f"{option} {item!r}: expected NAME=VALUE")
        out[key.strip()] = parse_value(value.strip())
    return out


def read_params_file(path: str | os.PathLike[str], method: str) -> dict[str, Any]:
    """The parameters of ``method`` in a TOML file: its ``[method]`` table, else the top level.

    Tables of other methods are ignored, so one file can hold the parameters of several.
    """
    source = str(path)
    try:
        data = tomllib.loads(Path(path).read_text("utf-8"))
    except OSError as exc:
        raise ParameterError(f"{source}: cannot read the file ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ParameterError(f"{source}: the file is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ParameterError(f"{source}: invalid TOML: {exc}") from None
    if method in data:
        table = data[method]
        if not isinstance(table, dict):
            raise ParameterError(f"{source}: {method}: must be a table of parameters")
        return dict(table)
    return {k: v for k, v in data.items() if not (k in PARAMS and isinstance(v, dict))}


def make_params(
    method: str | type[MethodParams], params: MethodParams | Mapping[str, Any] | None = None, **options: Any
) -> MethodParams:
    """The parameters of ``method`` (a name or a parameter class) from a dataclass, a mapping
    and/or keyword options.

    Keyword options override the mapping's values; a dataclass of another method is refused.
    """
    cls = PARAMS[method] if isinstance(method, str) else method
    method = cls.method
    if isinstance(params, MethodParams):
        if not isinstance(params, cls):
            raise ParameterError(f"{method}: got the parameters of {params.method!r} ({type(params).__name__})")
        if not options:
            return params
        values = {f.name: getattr(params, f.name) for f in fields(params)}
    else:
        values = dict(params or {})
    values.update(options)
    return cls.from_mapping(values)


__all__ = [
    "PARAMS",
    "BendersParams",
    "BnbParams",
    "CpsatParams",
    "DpParams",
    "EdfParams",
    "EnumerateParams",
    "FifoParams",
    "GreedyParams",
    "MethodParams",
    "MilpParams",
    "make_params",
    "parse_assignments",
    "parse_value",
    "read_params_file",
]
