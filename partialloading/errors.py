"""Exceptions raised by the toolkit.

Every user mistake (a bad file, a method used outside its exact case) raises a subclass of
:class:`PartialLoadingError`; the command line turns those into a one-line message and exit
status 2. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class PartialLoadingError(Exception):
    """Base class of the errors that describe a user mistake."""


class FieldError(PartialLoadingError, ValueError):
    """A single field of a data-model object has an invalid value.

    Parameters
    ----------
    field
        Path of the field relative to the object that checks it, e.g. ``"deadline_s"``.
    problem
        What is wrong, e.g. ``"must be positive (got -1)"``.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class InstanceError(PartialLoadingError, ValueError):
    """An instance (file or object) violates the format or the model's rules.

    Parameters
    ----------
    where
        JSON path inside the instance, e.g. ``"users[3].deadline_s"``; empty for the whole file.
    problem
        What is wrong.
    source
        The file the instance came from, if any.
    """

    def __init__(self, where: str, problem: str, source: str | None = None) -> None:
        self.where = where
        self.problem = problem
        self.source = source
        super().__init__(self._format())

    def _format(self) -> str:
        parts = [p for p in (self.source, self.where) if p]
        parts.append(self.problem)
        return ": ".join(parts)

    def with_source(self, source: str) -> InstanceError:
        """Return the same error attributed to the file ``source``."""
        return InstanceError(self.where, self.problem, source)


class SolutionError(PartialLoadingError, ValueError):
    """A solution file is malformed (the verifier reports constraint violations separately)."""


class MethodNotApplicableError(PartialLoadingError):
    """A method was asked to solve an instance outside the case it handles exactly."""


class InstanceTooLargeError(PartialLoadingError):
    """An exact method refuses an instance it cannot finish in reasonable time."""


class SolverError(PartialLoadingError, RuntimeError):
    """A backend solver failed (crashed, reported an error, or returned an invalid schedule)."""


class ParameterError(PartialLoadingError, ValueError):
    """A method parameter (or a starting schedule) is unknown, ill-typed or out of range."""


class ScenarioError(PartialLoadingError, ValueError):
    """An unknown instance family or parameter, or a parameter value out of range."""
