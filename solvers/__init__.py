"""Solver backends, one module per method (see :data:`partialloading.methods.METHODS`).

Each module exposes ``solve(instance, params, request) -> SolverOutput`` (its typed parameters
from :mod:`partialloading.params`, the shared :class:`~partialloading.methods.SolveRequest`);
call them through :func:`partialloading.solve`, which checks the method's declared support,
times the backend and re-evaluates its output.
"""
