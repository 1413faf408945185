"""The several-server data model and its file form: every rule of SPEC §12 named where it breaks."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from partialloading.errors import InstanceError
from partialloading.instance import Instance
from partialloading.io import (
    instance_from_dict,
    instance_to_dict,
    network_from_dict,
    network_to_dict,
    problem_from_dict,
)
from partialloading.network import Network


def two_servers() -> dict[str, Any]:
    """Servers ``a`` (one model at a time) and ``b`` (300 MB: the backbone and a head); ``u1``
    reaches both, ``u2`` every server by its own radio, ``u3`` only ``b``."""
    return {
        "name": "two",
        "servers": [
            {"id": "a", "bandwidth_hz": 1e6, "load_speed_bytes_per_s": 1e9, "initial_model": None},
            {"id": "b", "bandwidth_hz": 2e6, "load_speed_bytes_per_s": 1e9, "memory_bytes": 3e8},
        ],
        "blocks": [
            {"id": "base", "size_bytes": 2e8},
            {"id": "h1", "size_bytes": 1e7},
            {"id": "h2", "size_bytes": 1e7},
        ],
        "models": [
            {"id": "m1", "blocks": ["base", "h1"], "infer_time_s": 0.01},
            {"id": "m2", "blocks": ["base", "h2"], "infer_time_s": 0.01},
        ],
        "users": [
            {
                "id": "u1",
                "model": "m1",
                "data_bits": 1e5,
                "deadline_s": 0.5,
                "links": [{"server": "a", "snr_db": 10}, {"server": "b", "spectral_efficiency": 2}],
            },
            {"id": "u2", "model": "m2", "data_bits": 1e5, "deadline_s": 0.4, "spectral_efficiency": 3},
            {"id": "u3", "model": "m1", "data_bits": 2e5, "deadline_s": 0.3, "links": [{"server": "b", "snr_db": 5}]},
        ],
    }


def test_each_server_is_an_instance_with_the_users_it_reaches() -> None:
    net = network_from_dict(two_servers())
    assert net.num_servers == 2 and net.reach == ((0, 1), (0, 1, 2))
    assert net.servers_of == ((0, 1), (0, 1), (1,))
    b = net.server_instance(1)
    assert b.bandwidth_hz == 2e6 and b.memory_bytes == 3e8
    # The link's radio replaces the user's: u1 has efficiency 2 towards b, u3 its SNR of 5 dB.
    assert b.users[0].eta == 2.0 and b.users[2].snr_db == 5
    assert net.server_instance(0).users[0].snr_db == 10


def test_a_network_round_trips_through_its_file() -> None:
    net = network_from_dict(two_servers())
    doc = network_to_dict(net)
    assert network_from_dict(json.loads(json.dumps(doc))) == net
    assert "uplink" not in doc and [s["id"] for s in doc["servers"]] == ["a", "b"]


def test_the_one_server_form_is_a_one_server_network(tiny: Instance) -> None:
    doc = instance_to_dict(tiny)
    assert isinstance(problem_from_dict(doc), Instance)
    net = network_from_dict(doc)
    assert net.num_servers == 1 and net.server_instance(0) == tiny
    assert instance_to_dict(net.server_instance(0)) == doc


def test_a_servers_file_of_one_server_reads_as_an_instance() -> None:
    doc = two_servers()
    doc["servers"] = doc["servers"][1:]
    for user in doc["users"]:
        user.pop("links", None)
        user.setdefault("spectral_efficiency", 2.0)
    inst = instance_from_dict(doc)
    assert inst.bandwidth_hz == 2e6 and inst.memory_bytes == 3e8
    with pytest.raises(InstanceError, match="servers: the instance has 2 servers"):
        instance_from_dict(two_servers())


def _broken(change: Any) -> dict[str, Any]:
    doc = copy.deepcopy(two_servers())
    change(doc)
    return doc


BROKEN = {
    "a link to an unknown server": (
        lambda d: d["users"][0]["links"].append({"server": "zz", "snr_db": 3}),
        "users[0].links[2].server: unknown server 'zz'",
    ),
    "both forms in one file": (
        lambda d: d.update(uplink={"bandwidth_hz": 1e6}),
        "uplink: give servers, or uplink and server, not both",
    ),
    "neither form": (lambda d: d.pop("servers"), "missing key 'uplink' (or give servers)"),
    "duplicate server ids": (
        lambda d: d["servers"][1].update(id="a"),
        "servers[1].id: duplicate id 'a' (also servers[0])",
    ),
    "a server linked twice by one user": (
        lambda d: d["users"][0]["links"].append({"server": "a", "snr_db": 3}),
        "users[0].links[2].server: server 'a' is linked twice (also links[0])",
    ),
    "a user with neither links nor radio": (
        lambda d: d["users"][1].pop("spectral_efficiency"),
        "users[1].spectral_efficiency: give exactly one of spectral_efficiency and snr_db (neither given)",
    ),
    "a user with links and radio": (
        lambda d: d["users"][0].update(snr_db=3),
        "users[0].snr_db: give links or the user's own radio quality, not both",
    ),
    "no server": (lambda d: d.update(servers=[]), "servers: an instance needs at least one server"),
    "a non-positive bandwidth": (
        lambda d: d["servers"][0].update(bandwidth_hz=0),
        "servers[0].bandwidth_hz: must be positive (got 0)",
    ),
    "a non-positive speed": (
        lambda d: d["servers"][1].update(load_speed_bytes_per_s=-1),
        "servers[1].load_speed_bytes_per_s: must be positive (got -1)",
    ),
    "an unknown initial model": (
        lambda d: d["servers"][0].update(initial_model="m9"),
        "servers[0].initial_model: unknown model 'm9'",
    ),
    "an unknown initial block": (
        lambda d: d["servers"][1].update(initial_blocks=["h1", "hx"]),
        "servers[1].initial_blocks[1]: unknown block 'hx'",
    ),
    "a model that fits no server's memory": (
        lambda d: (d["servers"][0].update(memory_bytes=1e8), d["servers"][1].update(memory_bytes=1e8)),
        "models[0]: model 'm1' (2.1e+08 bytes) fits the memory of no server (the largest holds 1e+08)",
    ),
    "an unknown memory model": (
        lambda d: d["servers"][0].update(memory="lru9"),
        "servers[0].memory: unknown memory model 'lru9'",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_network_is_refused_at_the_field(case: str) -> None:
    change, message = BROKEN[case]
    with pytest.raises(InstanceError) as caught:
        network_from_dict(_broken(change), "net.json")
    assert str(caught.value).startswith(f"net.json: {message}")
    assert "\n" not in str(caught.value)


def test_a_model_too_large_for_one_server_only_keeps_its_users_off_it() -> None:
    doc = two_servers()
    doc["servers"][1]["memory_bytes"] = 1e8  # b holds no model: its users go to a, or nowhere
    net = network_from_dict(doc)
    assert net.reach == ((0, 1), ()) and net.servers_of[2] == ()


def test_an_instance_refuses_links() -> None:
    net = network_from_dict(two_servers())
    inst = net.server_instance(0)
    with pytest.raises(InstanceError, match=r"users\[0\].links"):
        Instance(inst.blocks, inst.models, (net.users[0],), 1e6, 1e9)


def test_network_equality_and_repr() -> None:
    a, b = network_from_dict(two_servers()), network_from_dict(two_servers())
    assert a == b and a != Network.from_instance(a.server_instance(0))
    assert repr(a) == "Network(name='two', servers=2, models=2, users=3)"
