"""Solver backends, one module per method (see :data:`partialloading.solve.METHODS`).

Each module exposes ``solve(instance, *, sharing, time_limit, seed, **options) -> SolverOutput``;
call them through :func:`partialloading.solve`, which checks and times their output.
"""
