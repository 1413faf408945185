"""Mathematical programming formulations of the scheduling problem.

- :mod:`.common`, :mod:`.general`, :mod:`.compact`: the MILPs in Pyomo, solved with HiGHS
  (frame timing; the general position formulation and the compact one for a common deadline).
- :mod:`.pipelined`, :mod:`.positions`: the position-based convex MINLP for pipelined timing,
  written directly for SCIP (PySCIPOpt).
- :mod:`.joint`: the joint scheduling–bandwidth problem with bandwidth variables (a bilinear
  MINLP for SCIP, and an enumeration of sets and orders that solves each convex bandwidth
  problem with cvxpy), used to check the decomposition numerically.

Every formulation is written on the load matrix of the instance's memory model, so the methods
built on them declare that need in the method registry.
"""
