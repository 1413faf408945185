"""PartialLoading: user scheduling and bandwidth allocation for parameter-sharing edge inference.

The main entry points are :func:`read_instance` and :func:`solve`::

    import partialloading as pl

    instance = pl.read_instance("tiny.json")
    result = pl.solve(instance, method="auto")
    print(result.status, result.objective, result.solution.admitted)
"""

from .errors import (
    InstanceError,
    InstanceTooLargeError,
    MethodNotApplicableError,
    ParameterError,
    PartialLoadingError,
    SolverError,
)
from .instance import Block, Instance, Link, Model, Server, User
from .io import (
    dumps_instance,
    instance_from_dict,
    instance_to_dict,
    loads_instance,
    read_instance,
    read_network,
    read_problem,
    write_instance,
    write_network,
)
from .network import Network
from .params import (
    BendersParams,
    BnbParams,
    CpsatParams,
    DpParams,
    EdfParams,
    EnumerateParams,
    FifoParams,
    GreedyParams,
    MethodParams,
    MilpParams,
)
from .result import Result, Status
from .servers import NetworkResult, NetworkSolution
from .solution import Solution
from .solve import METHOD_NAMES, METHODS, choose_method, solve
from .timing import TIMING_NAMES, Timeline, bandwidth_split, timeline

__version__ = "0.1.0"

__all__ = [
    "METHODS",
    "METHOD_NAMES",
    "TIMING_NAMES",
    "BendersParams",
    "Block",
    "BnbParams",
    "CpsatParams",
    "DpParams",
    "EdfParams",
    "EnumerateParams",
    "FifoParams",
    "GreedyParams",
    "Instance",
    "InstanceError",
    "InstanceTooLargeError",
    "Link",
    "MethodNotApplicableError",
    "MethodParams",
    "MilpParams",
    "Model",
    "Network",
    "NetworkResult",
    "NetworkSolution",
    "ParameterError",
    "PartialLoadingError",
    "Result",
    "Server",
    "Solution",
    "SolverError",
    "Status",
    "Timeline",
    "User",
    "__version__",
    "bandwidth_split",
    "choose_method",
    "dumps_instance",
    "instance_from_dict",
    "instance_to_dict",
    "loads_instance",
    "read_instance",
    "read_network",
    "read_problem",
    "solve",
    "timeline",
    "write_instance",
    "write_network",
]
