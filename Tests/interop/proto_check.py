"""Decode xDS resources with the official protos (xds-protos) and find anything they don't know.

`find_problems(msg)` walks a message recursively and reports, with a path:
- unknown fields at any depth (protobuf 7 removed Message.UnknownFields() from the upb
  backend — it raises NotImplementedError — so google.protobuf.unknown_fields.UnknownFieldSet
  is used, falling back to the old accessor where it still works);
- enum values the proto does not define (proto3 keeps them as plain ints, not unknown fields);
- every google.protobuf.Any, unpacked by its type_url through the descriptor pool and walked
  in turn (HttpConnectionManager inside ApiListener, Router inside HttpFilter, ...); an
  Any whose type the official protos don't have is a problem too;
- Envoy's protoc-gen-validate rules (pgv_check.py) on every message it walks, inside every Any
  too: what Envoy would refuse (required fields and oneofs, string lengths, prefixes and
  well-known regexes, numeric and duration ranges, repeated min/max items and uniqueness,
  defined enum values). A field whose rules say `message.skip` is walked without them.
"""

from __future__ import annotations

import importlib
import os

from google.protobuf import descriptor_pool, message_factory
from google.protobuf.message import DecodeError

import pgv_check

try:
    from google.protobuf import unknown_fields as _unknown_fields
except ImportError:  # pragma: no cover - older protobuf
    _unknown_fields = None

_PACKAGES = ("envoy", "xds", "udpa", "validate")
_loaded = False


def load_all_protos() -> None:
    """Import every generated module of xds-protos so the default pool knows all types."""
    global _loaded
    if _loaded:
        return
    for top in _PACKAGES:
        try:
            pkg = importlib.import_module(top)
        except ImportError:
            continue
        for base in getattr(pkg, "__path__", []):
            root = os.path.dirname(base)
            for dirpath, _dirs, files in os.walk(base):
                for f in files:
                    if f.endswith("_pb2.py"):
                        mod = os.path.relpath(os.path.join(dirpath, f[:-3]), root).replace(os.sep, ".")
                        importlib.import_module(mod)
    _loaded = True


def message_class(full_name: str):
    load_all_protos()
    desc = descriptor_pool.Default().FindMessageTypeByName(full_name)
    return message_factory.GetMessageClass(desc)


def unpack(any_msg):
    """Decode a google.protobuf.Any with the official proto named by its type_url."""
    type_name = any_msg.type_url.rsplit("/", 1)[-1]
    cls = message_class(type_name)
    return cls.FromString(any_msg.value)


def unknown_field_numbers(msg) -> list[int]:
    if _unknown_fields is not None:
        return [f.field_number for f in _unknown_fields.UnknownFieldSet(msg)]
    return [f.field_number for f in msg.UnknownFields()]  # pragma: no cover


def find_problems(msg, path: str | None = None, pgv: bool = True) -> list[str]:
    path = path or msg.DESCRIPTOR.full_name
    problems: list[str] = pgv_check.violations(msg, path) if pgv else []
    numbers = unknown_field_numbers(msg)
    if numbers:
        problems.append(f"{path}: unknown fields {numbers} in {msg.DESCRIPTOR.full_name}")
    if msg.DESCRIPTOR.full_name == "google.protobuf.Any":
        if not msg.type_url:
            return problems  # an unset Any
        try:
            inner = unpack(msg)
        except KeyError:
            return problems + [f"{path}: Any type_url {msg.type_url!r} is not a type in the official protos"]
        except DecodeError as exc:
            return problems + [f"{path}: Any {msg.type_url!r} does not decode: {exc}"]
        return problems + find_problems(inner, f"{path}<{inner.DESCRIPTOR.full_name}>", pgv)
    for fd, value in msg.ListFields():
        sub = f"{path}.{fd.name}"
        walk_pgv = pgv and not pgv_check.skips(fd)
        if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            value_fd = fd.message_type.fields_by_name["value"]
            for key in value:
                if value_fd.message_type is not None:
                    problems += find_problems(value[key], f"{sub}[{key!r}]", walk_pgv)
                elif value_fd.enum_type is not None:
                    problems += _check_enum(value_fd, value[key], f"{sub}[{key!r}]")
        elif fd.message_type is not None:
            if fd.is_repeated:
                for i, item in enumerate(value):
                    problems += find_problems(item, f"{sub}[{i}]", walk_pgv)
            else:
                problems += find_problems(value, sub, walk_pgv)
        elif fd.enum_type is not None:
            for i, item in enumerate(value if fd.is_repeated else [value]):
                problems += _check_enum(fd, item, f"{sub}[{i}]" if fd.is_repeated else sub)
    return problems


def _check_enum(fd, number: int, path: str) -> list[str]:
    if number not in fd.enum_type.values_by_number:
        return [f"{path}: value {number} is not defined in {fd.enum_type.full_name}"]
    return []


def resource_name(msg) -> str:
    """The name a resource is known by in xDS."""
    full = msg.DESCRIPTOR.full_name
    if full == "envoy.config.endpoint.v3.ClusterLoadAssignment":
        return msg.cluster_name
    return msg.name
