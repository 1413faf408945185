"""Verifying a solution file against an instance file, with one server or several."""

from __future__ import annotations

import os

from partialloading.io import read_problem
from partialloading.network import Network
from partialloading.solution_io import read_solution

from .servers import verify_network_solution
from .verify import VerificationReport, verify_solution

__all__ = ["verify_files"]


def verify_files(instance_path: str | os.PathLike[str], solution_path: str | os.PathLike[str]) -> VerificationReport:
    """Read an instance file and a solution file and verify one against the other (an instance
    with several servers by :func:`~partialloading.validation.servers.verify_network_solution`).

    Raises
    ------
    InstanceError
        The instance file is invalid.
    SolutionError
        The solution file is malformed.
    """
    problem = read_problem(instance_path)
    doc = read_solution(solution_path)
    if isinstance(problem, Network):
        return verify_network_solution(problem, doc, str(solution_path))
    return verify_solution(problem, doc, str(solution_path))
