"""Several edge servers: schedules, results and their files (the data model is
:class:`partialloading.network.Network`)."""

from partialloading.network import Network

from .result import NetworkResult
from .solution import NetworkSolution, local_index

__all__ = ["Network", "NetworkResult", "NetworkSolution", "local_index"]
