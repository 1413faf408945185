"""The several-server methods: every schedule verifies, the exact ones agree with enumeration,
and SPEC §12's properties (a)–(c) hold against it."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given, settings

import partialloading as pl
from partialloading.errors import MethodNotApplicableError, ParameterError
from partialloading.network import Network
from partialloading.scenarios import random_instance
from partialloading.scenarios.servers import spread_over_servers
from partialloading.servers.dispatch import network_methods
from partialloading.validation.servers import verify_network_solution
from partialloading.validation.verify import verify_solution

from strategies import generated_networks, with_capacity, with_random_tables

NETWORK_METHODS = network_methods()
EXACT = ("enumerate", "milp", "benders")


def verified(net: Network, method: str, **kwargs: object) -> pl.NetworkResult:
    result = pl.solve(net, method, **kwargs)
    report = verify_network_solution(net, json.loads(result.dumps()))
    assert report.ok, str(report)
    return result


def network(seed: int, users: int = 7, servers: int = 3, *, timing: str = "frame", variant: str = "plain") -> Network:
    inst = random_instance(seed, users, 3, structure="general", deadlines="per_user", weighted=seed % 2 == 1)
    inst = dataclasses.replace(inst, timing=timing)
    if variant == "capacity":
        inst = with_capacity(inst, 0.5)
    elif variant == "batched":
        inst = with_random_tables(inst, seed)
    return spread_over_servers(inst, servers, seed)


def test_the_registry_declares_who_schedules_several_servers() -> None:
    assert set(NETWORK_METHODS) == {"enumerate", "milp", "benders", "greedy", "edf", "fifo"}
    with pytest.raises(MethodNotApplicableError, match=r"^bnb schedules one server, and this instance has 3"):
        pl.solve(network(0), "bnb")


@pytest.mark.parametrize("timing", ["frame", "pipelined"])
@pytest.mark.parametrize("variant", ["plain", "capacity", "batched"])
def test_every_method_verifies_in_every_timing_and_memory(timing: str, variant: str) -> None:
    net = network(3, 6, 2, timing=timing, variant=variant)
    values = {}
    for method in NETWORK_METHODS:
        values[method] = verified(net, method, time_limit=60).objective
    exact = {values[m] for m in EXACT}
    assert len(exact) == 1, values
    assert all(values[m] <= values["enumerate"] for m in NETWORK_METHODS)


@settings(max_examples=40, deadline=None)
@given(generated_networks())
def test_benders_equals_enumeration(net: Network) -> None:
    reference = verified(net, "enumerate")
    result = verified(net, "benders")
    assert result.status == pl.Status.OPTIMAL and result.objective == pytest.approx(reference.objective)
    greedy = verified(net, "greedy")
    assert greedy.bound is not None and greedy.bound >= reference.objective - 1e-9


@settings(max_examples=12, deadline=None)
@given(generated_networks(max_users=5))
def test_the_association_milp_equals_enumeration(net: Network) -> None:
    assert verified(net, "milp").objective == pytest.approx(verified(net, "enumerate").objective)


@settings(max_examples=25, deadline=None)
@given(generated_networks(max_servers=1))
def test_a_one_server_network_has_the_one_server_optimum(net: Network) -> None:
    """Property (a)."""
    alone = pl.solve(net.server_instance(0), "enumerate")
    assert verify_solution(net.server_instance(0), alone.to_dict()).ok
    assert verified(net, "enumerate").objective == pytest.approx(alone.objective)


def _server_alone(net: Network, n: int) -> float:
    return pl.solve(net.server_instance(n), "enumerate").objective


@settings(max_examples=25, deadline=None)
@given(generated_networks(max_servers=3))
def test_the_optimum_lies_between_the_best_server_and_the_sum(net: Network) -> None:
    """Property (c): ``max_n opt_n ≤ opt ≤ Σ_n opt_n``, ``opt_n`` server ``n`` with every user it reaches."""
    alone = [_server_alone(net, n) for n in range(net.num_servers)]
    opt = verified(net, "enumerate").objective
    assert max(alone) - 1e-9 <= opt <= sum(alone) + 1e-9


@settings(max_examples=20, deadline=None)
@given(generated_networks(max_servers=2))
def test_adding_a_server_or_a_link_never_lowers_the_optimum(net: Network) -> None:
    """Property (b)."""
    opt = verified(net, "enumerate").objective
    extra = dataclasses.replace(net.servers[0], id="extra")
    more_servers = dataclasses.replace(net, servers=(*net.servers, extra))
    assert verified(more_servers, "enumerate").objective >= opt - 1e-9
    users = list(net.users)
    for k, user in enumerate(users):
        reached = {link.server for link in user.links or ()}
        missing = [s.id for s in net.servers if s.id not in reached]
        if user.links is not None and missing:
            link = dataclasses.replace(user.links[0], server=missing[0])
            users[k] = dataclasses.replace(user, links=(*user.links, link))
            break
    more_links = dataclasses.replace(net, users=tuple(users))
    assert verified(more_links, "enumerate").objective >= opt - 1e-9


@pytest.mark.parametrize("method", ["benders", "greedy", "edf", "fifo", "milp"])
def test_the_same_seed_gives_the_same_schedule(method: str) -> None:
    net = network(5, 8, 3)
    a, b = pl.solve(net, method, seed=4), pl.solve(net, method, seed=4)
    assert a.solution.orders == b.solution.orders


def test_without_sharing_every_server_loads_whole_models() -> None:
    net = network(2, 6, 2)
    shared, whole = verified(net, "enumerate"), verified(net, "enumerate", sharing=False)
    assert shared.objective >= whole.objective and not whole.solution.sharing
    assert verified(net, "benders", sharing=False).objective == whole.objective


def test_a_stopped_decomposition_reports_a_valid_bound() -> None:
    for seed in range(4):
        net = network(seed, 7, 3)
        optimum = pl.solve(net, "enumerate").objective
        stopped = verified(net, "benders", initial={}, max_iterations=1)
        assert stopped.bound is not None and stopped.bound >= optimum - 1e-9


def test_a_start_is_never_made_worse() -> None:
    net = network(1, 7, 3)
    start = pl.solve(net, "edf").solution
    given_start = {s.id: [net.users[k].id for k in order] for s, order in zip(net.servers, start.orders, strict=True)}
    result = verified(net, "greedy", initial=given_start)
    assert result.objective >= start.objective
    with pytest.raises(ParameterError, match=r"initial\.zz: unknown server 'zz'"):
        pl.solve(net, "greedy", initial={"zz": []})
    with pytest.raises(ParameterError, match="with several servers, a mapping"):
        pl.solve(net, "greedy", initial=["u0"])
