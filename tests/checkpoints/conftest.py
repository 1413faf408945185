"""Checkpoint tests: the checkpoint builders are in ``builders.py`` so the tests can import them."""
