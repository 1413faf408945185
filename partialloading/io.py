"""Reading and writing instance and solution files (JSON, version 1).

The instance reader checks the file in three layers, each reporting the JSON path of the first
problem: the JSON syntax, the structure (a JSON Schema shipped in ``partialloading/schemas``) and
the values and references (the data model's own checks). The solution reader checks the syntax
and the structure (``solution-v1.json``); whether a solution keeps the model's rules is the
independent verifier's question (:mod:`partialloading.validation.verify`). Writers always write
every key, in a fixed order, so that reading and writing round-trips exactly (the solution
writer is :meth:`partialloading.Result.to_dict`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import FieldError, InstanceError
from .instance import Block, Instance, Link, Model, Server, User
from .memory import memory_class, memory_in_file
from .network import Network
from .timing import timing_of

if TYPE_CHECKING:
    import jsonschema

INSTANCE_FORMAT = "partialloading/instance"
SOLUTION_FORMAT = "partialloading/solution"
FORMAT_VERSION = 1

FILE_KINDS = {
    INSTANCE_FORMAT: "an instance",
    SOLUTION_FORMAT: "a solution",
    "partialloading/workload": "a workload",
    "partialloading/models": "a model catalog",
}
"""What each ``format`` of the toolkit's files is, for the message when one is given for another."""


def wrong_kind(data: Any, schema_name: str) -> str | None:
    """Why ``data`` is not a document of schema ``schema_name`` when its own ``format`` names
    another of the toolkit's kinds (``this is a solution file, not an instance``), else ``None``."""
    wanted = load_schema(schema_name)["properties"]["format"]["const"]
    given = data.get("format") if isinstance(data, Mapping) else None
    if not isinstance(given, str) or given == wanted or given not in FILE_KINDS:
        return None
    return f"this is {FILE_KINDS[given]} file ({given!r}), not {FILE_KINDS[wanted]}"


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Return the JSON Schema ``name`` (``"instance-v1"``) shipped with the package."""
    text = resources.files("partialloading.schemas").joinpath(f"{name}.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def json_path(parts: Iterable[str | int]) -> str:
    """Format a sequence of keys and indices as ``users[3].deadline_s``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise InstanceError("", f"duplicate key {key!r} in a JSON object")
        obj[key] = value
    return obj


def parse_json_text(text: str, source: str | None = None) -> Any:
    """Parse JSON text, turning syntax errors into :class:`InstanceError`."""
    if not text.strip():
        raise InstanceError("", "the file is empty", source)
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise InstanceError("", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", source) from None
    except RecursionError:
        raise InstanceError("", "invalid JSON: nested too deeply", source) from None
    except ValueError as exc:  # e.g. an integer literal longer than Python converts (4300 digits)
        raise InstanceError("", f"invalid JSON: {exc}", source) from None
    except InstanceError as exc:
        raise exc.with_source(source) if source else exc from None


def read_json_file(path: str | os.PathLike[str]) -> Any:
    """Read and parse a JSON file; every failure is an :class:`InstanceError` naming the file."""
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise InstanceError("", f"cannot read the file ({exc.strerror or exc})", source) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InstanceError("", "the file is not UTF-8 text", source) from None
    return parse_json_text(text, source)


@cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    # jsonschema explains a rejected document; only then is it loaded (a tenth of a second).
    import jsonschema

    return jsonschema.Draft202012Validator(load_schema(name))


@cache
def _compiled(name: str) -> Callable[[Any], Any]:
    import fastjsonschema

    # The schemas' defaults document the format (the reference page lists them); the readers
    # apply them, so the validator must leave the document as it is.
    return fastjsonschema.compile(load_schema(name), use_default=False)


def first_schema_error(data: Any, schema_name: str) -> jsonschema.ValidationError | None:
    """The first schema error of ``data`` (``None`` when it conforms).

    A compiled validator (fastjsonschema) answers the common case, a valid document, several
    times faster; only a document it rejects goes through jsonschema, whose errors carry the
    JSON path and the reason that the messages are made of.
    """
    import fastjsonschema

    try:
        _compiled(schema_name)(data)
        return None
    except fastjsonschema.JsonSchemaException:
        pass
    errors = sorted(
        _validator(schema_name).iter_errors(data), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path)))
    )
    return errors[0] if errors else None


def schema_problem(error: jsonschema.ValidationError) -> tuple[str, str]:
    where = json_path(error.absolute_path)
    kind = error.validator
    if kind == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        return where, f"missing key {missing[0]!r}"
    if kind == "additionalProperties":
        allowed = set(error.schema.get("properties", {}))
        extra = sorted(k for k in error.instance if k not in allowed)
        return where, f"unknown key {extra[0]!r}"
    if kind == "type":
        expected = error.validator_value
        if isinstance(expected, list):
            expected = " or ".join(expected)
        article = "an" if str(expected)[0] in "aeiou" else "a"
        return where, f"must be {article} {expected} (got {json.dumps(error.instance)[:40]})"
    if kind == "const":
        if where == "version":
            return where, f"unsupported version {error.instance!r} (this toolkit reads version {FORMAT_VERSION})"
        return where, f"must be {error.validator_value!r} (got {error.instance!r})"
    if kind == "oneOf" and all(set(branch) == {"required"} for branch in error.validator_value):
        # "exactly one of these keys": jsonschema's own message quotes the whole document.
        keys = [key for branch in error.validator_value for key in branch["required"]]
        given = [key for key in keys if isinstance(error.instance, Mapping) and key in error.instance]
        what = "both" if len(given) > 1 else "neither"
        return where, f"give exactly one of {' and '.join(keys)} ({what} given)"
    if kind == "enum":
        return where, f"{error.instance!r} is not one of {', '.join(map(str, error.validator_value))}"
    # Never the document itself: jsonschema's message may quote it whole.
    return where, error.message if len(error.message) <= 200 else f"{error.message[:200]}..."


def check_schema(data: Any, schema_name: str, source: str | None = None) -> None:
    """Check ``data`` against a shipped schema; raise :class:`InstanceError` on the first problem
    (a file of another of the toolkit's kinds is named as such)."""
    kind = wrong_kind(data, schema_name)
    if kind is not None:
        raise InstanceError("format", kind, source)
    error = first_schema_error(data, schema_name)
    if error is not None:
        where, problem = schema_problem(error)
        raise InstanceError(where, problem, source)


def build_checked(where: str, factory: Callable[..., Any], **kwargs: Any) -> Any:
    """``factory(**kwargs)``, a field's :class:`FieldError` turned into an :class:`InstanceError`
    at ``where`` (the JSON path of the object being built)."""
    try:
        return factory(**kwargs)
    except FieldError as exc:
        raise InstanceError(f"{where}.{exc.field}", exc.problem) from None


def _optional_tuple(value: Any) -> tuple[Any, ...] | None:
    return None if value is None else tuple(value)


def _catalog(data: Mapping[str, Any]) -> tuple[tuple[Block, ...], tuple[Model, ...], tuple[User, ...]]:
    """The blocks, models and users of a schema-checked instance document."""
    blocks = [
        build_checked(f"blocks[{i}]", Block, id=b["id"], size_bytes=b["size_bytes"])
        for i, b in enumerate(data["blocks"])
    ]
    models = [
        build_checked(
            f"models[{i}]",
            Model,
            id=m["id"],
            blocks=tuple(m["blocks"]),
            infer_time_s=m["infer_time_s"],
            batch_infer_time_s=m.get("batch_infer_time_s"),
        )
        for i, m in enumerate(data["models"])
    ]
    users = []
    for i, u in enumerate(data["users"]):
        links = None
        if "links" in u:
            links = tuple(
                build_checked(
                    f"users[{i}].links[{j}]",
                    Link,
                    server=link["server"],
                    spectral_efficiency=link.get("spectral_efficiency"),
                    snr_db=link.get("snr_db"),
                )
                for j, link in enumerate(u["links"])
            )
        users.append(
            build_checked(
                f"users[{i}]",
                User,
                id=u["id"],
                model=u["model"],
                data_bits=u["data_bits"],
                deadline_s=u["deadline_s"],
                spectral_efficiency=u.get("spectral_efficiency"),
                snr_db=u.get("snr_db"),
                weight=u.get("weight", 1),
                infer_time_s=u.get("infer_time_s"),
                links=links,
            )
        )
    return tuple(blocks), tuple(models), tuple(users)


def _form(data: Mapping[str, Any]) -> str:
    """``"servers"`` or ``"one"``: which of the two forms a schema-checked document has."""
    if "servers" in data:
        both = [key for key in ("uplink", "server") if key in data]
        if both:
            raise InstanceError(both[0], "give servers, or uplink and server, not both")
        return "servers"
    for key in ("uplink", "server"):
        if key not in data:
            raise InstanceError("", f"missing key {key!r} (or give servers)")
    return "one"


def network_from_dict(data: Any, source: str | None = None) -> Network:
    """Build a :class:`~partialloading.network.Network` from parsed JSON: a file with ``servers``,
    or a one-server file as a network of one server."""
    try:
        check_schema(data, "instance-v1")
        if _form(data) == "one":
            return Network.from_instance(instance_from_dict(data))
        blocks, models, users = _catalog(data)
        servers = tuple(
            build_checked(
                f"servers[{n}]",
                Server,
                id=s["id"],
                bandwidth_hz=s["bandwidth_hz"],
                load_speed_bytes_per_s=s["load_speed_bytes_per_s"],
                initial_model=s.get("initial_model"),
                memory=s.get("memory"),
                memory_bytes=s.get("memory_bytes"),
                initial_blocks=_optional_tuple(s.get("initial_blocks")),
            )
            for n, s in enumerate(data["servers"])
        )
        return Network(
            blocks,
            models,
            users,
            servers,
            name=data.get("name", "instance"),
            timing=data.get("timing", "frame"),
            meta=data.get("meta", {}),
        )
    except InstanceError as exc:
        raise exc.with_source(source) if source else exc from None


def instance_from_dict(data: Any, source: str | None = None) -> Instance:
    """Build an :class:`Instance` from parsed JSON, checking every rule of the format (a file
    with ``servers`` is read when it has one server; with more, use :func:`network_from_dict`)."""
    try:
        check_schema(data, "instance-v1")
        if _form(data) == "servers":
            network = network_from_dict(data)
            if network.num_servers > 1:
                raise InstanceError(
                    "servers", f"the instance has {network.num_servers} servers: read it as a network (read_network)"
                )
            return network.server_instance(0)
        blocks, models, users = _catalog(data)
        instance = Instance(
            blocks=blocks,
            models=models,
            users=users,
            bandwidth_hz=data["uplink"]["bandwidth_hz"],
            load_speed_bytes_per_s=data["server"]["load_speed_bytes_per_s"],
            initial_model=data["server"].get("initial_model"),
            memory=data["server"].get("memory"),
            memory_bytes=data["server"].get("memory_bytes"),
            initial_blocks=_optional_tuple(data["server"].get("initial_blocks")),
            name=data.get("name", "instance"),
            timing=data.get("timing", "frame"),
            meta=data.get("meta", {}),
        )
        # The registries resolve the names the instance only stores: a bad one fails here.
        timing_of(instance)
        memory_class(instance)
        return instance
    except InstanceError as exc:
        raise exc.with_source(source) if source else exc from None


def problem_from_dict(data: Any, source: str | None = None) -> Instance | Network:
    """An :class:`Instance` for a one-server file, a network for a file with ``servers``."""
    try:
        check_schema(data, "instance-v1")
        form = _form(data)
    except InstanceError as exc:
        raise exc.with_source(source) if source else exc from None
    return network_from_dict(data, source) if form == "servers" else instance_from_dict(data, source)


def instance_to_dict(instance: Instance) -> dict[str, Any]:
    """Return the version-1 JSON document of ``instance`` (every key written)."""
    doc = _header(instance.name, instance.timing, instance.meta)
    doc["uplink"] = {"bandwidth_hz": instance.bandwidth_hz}
    doc["server"] = _server_fields(instance)
    doc.update(_catalog_to_dict(instance.blocks, instance.models, instance.users))
    return doc


def network_to_dict(network: Network) -> dict[str, Any]:
    """The version-1 JSON document of ``network`` (the ``servers`` form, every key written)."""
    doc = _header(network.name, network.timing, network.meta)
    doc["servers"] = [
        {"id": server.id, "bandwidth_hz": server.bandwidth_hz, **_server_fields(network.server_instance(n))}
        for n, server in enumerate(network.servers)
    ]
    doc.update(_catalog_to_dict(network.blocks, network.models, network.users))
    return doc


def _header(name: str, timing: str, meta: Mapping[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {"format": INSTANCE_FORMAT, "version": FORMAT_VERSION, "name": name, "timing": timing}
    if meta:
        doc["meta"] = dict(meta)
    return doc


def _server_fields(instance: Instance) -> dict[str, Any]:
    """A server's GPU fields (``server`` of a one-server file, an entry of ``servers``)."""
    fields: dict[str, Any] = {
        "load_speed_bytes_per_s": instance.load_speed_bytes_per_s,
        "initial_model": instance.initial_model,
    }
    memory = memory_in_file(instance)
    if memory is not None:
        fields["memory"] = memory
    if instance.memory_bytes is not None:
        fields["memory_bytes"] = instance.memory_bytes
    if instance.initial_blocks is not None:
        fields["initial_blocks"] = list(instance.initial_blocks)
    return fields


def _radio(entry: dict[str, Any], spectral_efficiency: float | None, snr_db: float | None) -> None:
    if spectral_efficiency is not None:
        entry["spectral_efficiency"] = spectral_efficiency
    elif snr_db is not None:
        entry["snr_db"] = snr_db


def _catalog_to_dict(blocks: Sequence[Block], models: Sequence[Model], users: Sequence[User]) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    for u in users:
        entry: dict[str, Any] = {"id": u.id, "model": u.model, "data_bits": u.data_bits}
        _radio(entry, u.spectral_efficiency, u.snr_db)
        if u.links is not None:
            entry["links"] = []
            for link in u.links:
                item: dict[str, Any] = {"server": link.server}
                _radio(item, link.spectral_efficiency, link.snr_db)
                entry["links"].append(item)
        entry["deadline_s"] = u.deadline_s
        entry["weight"] = u.weight
        if u.infer_time_s is not None:
            entry["infer_time_s"] = u.infer_time_s
        out.append(entry)
    return {
        "blocks": [{"id": b.id, "size_bytes": b.size_bytes} for b in blocks],
        "models": [model_to_dict(m) for m in models],
        "users": out,
    }


def model_to_dict(model: Model) -> dict[str, Any]:
    """A model's entry of an instance file (its batch table only when it has one)."""
    entry: dict[str, Any] = {"id": model.id, "blocks": list(model.blocks), "infer_time_s": model.infer_time_s}
    if model.batch_infer_time_s is not None:
        entry["batch_infer_time_s"] = list(model.batch_infer_time_s)
    return entry


def loads_instance(text: str, source: str | None = None) -> Instance:
    """Parse an instance from JSON text."""
    return instance_from_dict(parse_json_text(text, source), source)


def dumps_instance(instance: Instance, indent: int | None = 2) -> str:
    """Serialize an instance to JSON text (version 1)."""
    return json.dumps(instance_to_dict(instance), indent=indent, allow_nan=False) + "\n"


def read_network(path: str | os.PathLike[str]) -> Network:
    """Read and validate an instance file as a network (a one-server file: one server)."""
    return network_from_dict(read_json_file(path), str(path))


def read_problem(path: str | os.PathLike[str]) -> Instance | Network:
    """Read an instance file: an :class:`Instance` for the one-server form, a network for
    ``servers`` (the form the file has is the form written back)."""
    return problem_from_dict(read_json_file(path), str(path))


def dumps_network(network: Network, indent: int | None = 2) -> str:
    """Serialize a network to JSON text (version 1, the ``servers`` form)."""
    return json.dumps(network_to_dict(network), indent=indent, allow_nan=False) + "\n"


def write_network(network: Network, path: str | os.PathLike[str]) -> None:
    """Write ``network`` to ``path`` (the ``servers`` form)."""
    write_text_atomic(path, dumps_network(network))


def read_instance(path: str | os.PathLike[str]) -> Instance:
    """Read and validate an instance file.

    Raises
    ------
    InstanceError
        With the file name, the JSON path of the first problem and what is wrong.
    """
    return instance_from_dict(read_json_file(path), str(path))


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (see :func:`partialloading.output.write_file`)."""
    from .output import write_text

    write_text(path, text)


def write_instance(instance: Instance, path: str | os.PathLike[str]) -> None:
    """Write ``instance`` to ``path`` as a version-1 JSON file."""
    write_text_atomic(path, dumps_instance(instance))
