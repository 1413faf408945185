"""Exact branch-and-bound over model visits (``method="bnb"``, frame timing).

:mod:`.search` holds the search and its bounds, :mod:`.backend` the method's backend.
"""

from .backend import search, solve

__all__ = ["search", "solve"]
