"""Exact MILP backend (``method="milp"``): Pyomo models solved with HiGHS (or another MIP
solver), and the pipelined MINLP solved with SCIP.

One driver per formulation family: :mod:`.onemodel` (the one-model memory, ``general`` and
``compact``), :mod:`.capacity` (a memory with a capacity), :mod:`.pipelined` (pipelined
timing); :mod:`.common` holds what they share (the solver hand-over and the safety net) and
:mod:`.backend` the method's entry points.
"""

from .backend import precheck, solve
from .onemodel import FORMULATIONS, build_model, choose_formulation, model_size

__all__ = ["FORMULATIONS", "build_model", "choose_formulation", "model_size", "precheck", "solve"]
