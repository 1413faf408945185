"""Mathematical programming formulations (Pyomo) of the scheduling problem."""
