"""The error every checkpoint problem raises."""

from __future__ import annotations

from partialloading.errors import PartialLoadingError


class CheckpointError(PartialLoadingError, ValueError):
    """A checkpoint file, folder, shard index or PEFT adapter cannot be read as promised.

    Parameters
    ----------
    source
        The file or folder at fault.
    where
        The place inside it (``"header"``, ``"tensor 'encoder.w'"``, ``"weight_map['x']"``);
        empty for the whole file.
    problem
        What is wrong.
    """

    def __init__(self, source: str, where: str, problem: str) -> None:
        self.source = source
        self.where = where
        self.problem = problem
        super().__init__(": ".join(p for p in (source, where, problem) if p))
