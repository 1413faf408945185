"""Online serving: requests that arrive over time, planned round by round.

Entry points::

    from partialloading import online

    workload = online.generate_workload("zoo-heads", rate=40, duration=60, seed=1)
    run = online.simulate(workload, online.Policy("greedy"))
    run.summary.on_time_fraction

* :mod:`~partialloading.online.workload`: the data model and the ``partialloading/workload``
  file format (JSON, with the requests inline or in a CSV table);
* :mod:`~partialloading.online.arrivals`: the generator (Poisson or bursty arrivals, uniform or
  Zipf popularity, deadlines relative to each request's isolated latency);
* :mod:`~partialloading.online.simulate`: the rounds, with any :func:`~partialloading.solve`
  method as the policy, and the metrics;
* :mod:`~partialloading.online.records`: the per-request CSV and the summary JSON.
"""

from __future__ import annotations

from .arrivals import arrival_times, generate_workload
from .records import dumps_outcomes_csv, summary_to_dict, write_outcomes_csv, write_summaries
from .requests import CSV_COLUMNS, Request, dumps_requests_csv, parse_requests_csv, read_requests_csv
from .simulate import DROPPED, SERVED, Outcome, Policy, Round, Simulation, Summary, simulate, summarize
from .workload import (
    WORKLOAD_FORMAT,
    Workload,
    read_workload,
    workload_from_dict,
    workload_to_dict,
    write_workload,
)

__all__ = [
    "CSV_COLUMNS",
    "DROPPED",
    "SERVED",
    "WORKLOAD_FORMAT",
    "Outcome",
    "Policy",
    "Request",
    "Round",
    "Simulation",
    "Summary",
    "Workload",
    "arrival_times",
    "dumps_outcomes_csv",
    "dumps_requests_csv",
    "generate_workload",
    "parse_requests_csv",
    "read_requests_csv",
    "read_workload",
    "simulate",
    "summarize",
    "summary_to_dict",
    "workload_from_dict",
    "workload_to_dict",
    "write_outcomes_csv",
    "write_summaries",
    "write_workload",
]
