"""Constants and the error type shared by the study modules."""

from __future__ import annotations

from partialloading.errors import PartialLoadingError

ParamValue = int | float | str | bool
"""Type of a generator parameter value (JSON scalars, so that task keys are canonical)."""


EXACT = "exact"
"""Pseudo-method of the gap study: enumeration up to :data:`EXACT_ENUMERATE_MAX_USERS` users, else the MILP."""

EXACT_ENUMERATE_MAX_USERS = 10

SOLVED = ("optimal", "feasible", "time_limit")
"""Row statuses that carry a valid schedule (the :class:`~partialloading.result.Status` values)."""

NOT_APPLICABLE = "not_applicable"
"""Row status of a method that refused the instance (outside its exact case, or too large)."""

ERROR = "error"
"""Row status of a solve that failed (solver error or bug); ``--retry-errors`` solves them again."""

SCHEMA_VERSION = 1
"""Version of the database schema (SQLite ``user_version``)."""

DASK_CONNECT_TIMEOUT_S = 20.0
"""How long to wait for the Dask scheduler before giving up."""


class StudyError(PartialLoadingError):
    """A study is ill-defined (unknown family, method or parameter) or its database is unusable."""
