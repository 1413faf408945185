"""Independent checks of solutions: re-derives every constraint from the instance alone."""
