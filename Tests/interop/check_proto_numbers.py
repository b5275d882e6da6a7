#!/usr/bin/env python3
"""Checks meshd's own .proto subset against the official xDS descriptors.

Every message, enum and service defined under Sources/EnvoyAPI/Protos must agree with the
upstream definition of the same full name: each field's name, number, label (repeated or
not), type, message/enum type name and oneof; each enum value's number; each RPC's request
and response types and streaming flags; and the upstream file it lives in. Fields meshd
leaves out are fine (protobuf skips unknown fields); fields upstream does not have are not.

Upstream descriptors come from the PyPI packages xds-protos (envoy.*) and
googleapis-common-protos (google.rpc.*, a dependency of it). Istio's CA API (istio.v1.auth)
has no Python package, so it is checked against a table copied by hand below.

Usage (exit 0 when everything matches, 1 listing every mismatch, 2 on setup errors):
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install xds-protos==1.85.0
    /tmp/venv/bin/python Tests/interop/check_proto_numbers.py
Environment: PROTOC (default: protoc), PROTOC_INCLUDE (default: /usr/include, which holds
google/protobuf/*.proto from Debian's libprotobuf-dev).
"""

import importlib
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROTO_DIR = ROOT / "Sources" / "EnvoyAPI" / "Protos"

try:
    from google.protobuf import descriptor_pb2, descriptor_pool
except ImportError:
    sys.exit("check_proto_numbers: the protobuf package is missing (pip install xds-protos)")

FDP = descriptor_pb2.FieldDescriptorProto
TYPE_NAMES = {v: k[len("TYPE_"):].lower() for k, v in FDP.Type.items()}
LABEL_NAMES = {v: k[len("LABEL_"):].lower() for k, v in FDP.Label.items()}

# Istio's istio.v1.auth CA API (upstream: istio/api security/v1alpha1/ca.proto).
# full message name -> {field name: (number, label, type, type_name)}
ISTIO_EXPECTED = {
    "istio.v1.auth.IstioCertificateRequest": {
        "csr": (1, FDP.LABEL_OPTIONAL, FDP.TYPE_STRING, ""),
        "validity_duration": (3, FDP.LABEL_OPTIONAL, FDP.TYPE_INT64, ""),
        "metadata": (4, FDP.LABEL_OPTIONAL, FDP.TYPE_MESSAGE, ".google.protobuf.Struct"),
    },
    "istio.v1.auth.IstioCertificateResponse": {
        "cert_chain": (1, FDP.LABEL_REPEATED, FDP.TYPE_STRING, ""),
    },
}
# full service name -> {method: (input, output, client_streaming, server_streaming)}
ISTIO_SERVICES = {
    "istio.v1.auth.IstioCertificateService": {
        "CreateCertificate": (
            ".istio.v1.auth.IstioCertificateRequest",
            ".istio.v1.auth.IstioCertificateResponse",
            False,
            False,
        ),
    },
}


def compile_ours():
    """Runs protoc over our protos; returns the FileDescriptorSet (with imports)."""
    protos = sorted(str(p.relative_to(PROTO_DIR)) for p in PROTO_DIR.rglob("*.proto"))
    if not protos:
        sys.exit(f"check_proto_numbers: no .proto files under {PROTO_DIR}")
    include = os.environ.get("PROTOC_INCLUDE", "/usr/include")
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "meshd.pb"
        cmd = [
            os.environ.get("PROTOC", "protoc"),
            f"--proto_path={PROTO_DIR}",
            f"--proto_path={include}",
            f"--descriptor_set_out={out}",
            "--include_imports",
            *protos,
        ]
        try:
            subprocess.run(cmd, check=True)
        except (OSError, subprocess.CalledProcessError) as err:
            print(f"check_proto_numbers: protoc failed: {err}", file=sys.stderr)
            sys.exit(2)
        fds = descriptor_pb2.FileDescriptorSet()
        fds.ParseFromString(out.read_bytes())
    return fds


def walk(prefix, messages, enums):
    """Yields ('message'|'enum', full name, proto) for every nested definition."""
    for enum in enums:
        yield "enum", f"{prefix}.{enum.name}", enum
    for msg in messages:
        name = f"{prefix}.{msg.name}"
        yield "message", name, msg
        yield from walk(name, msg.nested_type, msg.enum_type)


class Official:
    """Upstream definitions, indexed by full name, loaded through the default pool."""

    def __init__(self):
        self.pool = descriptor_pool.Default()
        self.files = {}  # file name -> FileDescriptorProto
        self.defs = {}  # full name -> (kind, proto, file name)

    def load_module(self, proto_file):
        module = proto_file[: -len(".proto")].replace("/", ".") + "_pb2"
        try:
            importlib.import_module(module)
            return None
        except ImportError as err:
            return f"cannot import {module}: {err}"

    def _index_file(self, file_name):
        if file_name in self.files:
            return
        fd = self.pool.FindFileByName(file_name)
        fdp = descriptor_pb2.FileDescriptorProto()
        fd.CopyToProto(fdp)
        self.files[file_name] = fdp
        for kind, name, proto in walk(fdp.package, fdp.message_type, fdp.enum_type):
            self.defs[name] = (kind, proto, file_name)
        for svc in fdp.service:
            self.defs[f"{fdp.package}.{svc.name}"] = ("service", svc, file_name)

    def find(self, full_name):
        if full_name not in self.defs:
            for finder in (
                self.pool.FindMessageTypeByName,
                self.pool.FindEnumTypeByName,
                self.pool.FindServiceByName,
            ):
                try:
                    self._index_file(finder(full_name).file.name)
                    break
                except KeyError:
                    continue
        return self.defs.get(full_name)


def describe(field):
    label = LABEL_NAMES.get(field.label, "?")
    kind = field.type_name.lstrip(".") or TYPE_NAMES.get(field.type, "?")
    return f"{label} {kind} = {field.number}"


def oneof_name(msg, field):
    if field.HasField("oneof_index") and not field.proto3_optional:
        return msg.oneof_decl[field.oneof_index].name
    return None


def check_message(name, ours, theirs, errors):
    upstream = {f.name: f for f in theirs.field}
    matched = 0
    for field in ours.field:
        where = f"{name}.{field.name}"
        up = upstream.get(field.name)
        if up is None:
            errors.append(f"{where}: no such field upstream")
            continue
        ok = True
        if (field.number, field.label, field.type, field.type_name) != (
            up.number,
            up.label,
            up.type,
            up.type_name,
        ):
            errors.append(f"{where}: ours '{describe(field)}', upstream '{describe(up)}'")
            ok = False
        if oneof_name(ours, field) != oneof_name(theirs, up):
            errors.append(
                f"{where}: oneof {oneof_name(ours, field)!r}, upstream {oneof_name(theirs, up)!r}"
            )
            ok = False
        if ours.options.map_entry != theirs.options.map_entry:
            errors.append(f"{name}: map entry flag differs from upstream")
            ok = False
        matched += ok
    return matched


def check_enum(name, ours, theirs, errors):
    upstream = {v.name: v.number for v in theirs.value}
    matched = 0
    for value in ours.value:
        if value.name not in upstream:
            errors.append(f"{name}.{value.name}: no such enum value upstream")
        elif upstream[value.name] != value.number:
            errors.append(
                f"{name}.{value.name}: ours {value.number}, upstream {upstream[value.name]}"
            )
        else:
            matched += 1
    return matched


def method_sig(m):
    return (m.input_type, m.output_type, m.client_streaming, m.server_streaming)


def check_service(name, ours, upstream_methods, errors):
    matched = 0
    for method in ours.method:
        where = f"{name}/{method.name}"
        if method.name not in upstream_methods:
            errors.append(f"{where}: no such method upstream")
        elif method_sig(method) != upstream_methods[method.name]:
            errors.append(
                f"{where}: ours {method_sig(method)}, upstream {upstream_methods[method.name]}"
            )
        else:
            matched += 1
    return matched


def check_istio_message(name, ours, errors):
    expected = ISTIO_EXPECTED.get(name)
    if expected is None:
        errors.append(f"{name}: not in the hand-kept Istio table of this script")
        return 0
    matched = 0
    for field in ours.field:
        want = expected.get(field.name)
        got = (field.number, field.label, field.type, field.type_name)
        if want is None:
            errors.append(f"{name}.{field.name}: no such field upstream")
        elif got != want:
            errors.append(f"{name}.{field.name}: ours {got}, upstream {want}")
        else:
            matched += 1
    return matched


def main():
    fds = compile_ours()
    official = Official()
    errors = []
    counts = dict(messages=0, fields=0, enums=0, values=0, services=0, methods=0)

    for fdp in fds.file:
        if fdp.name.startswith("google/protobuf/"):
            continue  # well-known types, not ours
        if not fdp.package.startswith("istio."):
            problem = official.load_module(fdp.name)
            if problem:
                errors.append(f"{fdp.name}: {problem}")
                continue
        defs = [(k, n, p) for k, n, p in walk(fdp.package, fdp.message_type, fdp.enum_type)]
        defs += [("service", f"{fdp.package}.{s.name}", s) for s in fdp.service]
        for kind, name, proto in defs:
            if fdp.package.startswith("istio."):
                if kind == "message":
                    counts["messages"] += 1
                    counts["fields"] += check_istio_message(name, proto, errors)
                elif kind == "service":
                    counts["services"] += 1
                    counts["methods"] += check_service(
                        name, proto, ISTIO_SERVICES.get(name, {}), errors
                    )
                else:
                    errors.append(f"{name}: not in the hand-kept Istio table of this script")
                continue
            found = official.find(name)
            if found is None:
                errors.append(f"{name}: no {kind} of that full name upstream")
                continue
            up_kind, up_proto, up_file = found
            if up_kind != kind:
                errors.append(f"{name}: ours is a {kind}, upstream a {up_kind}")
                continue
            if up_file != fdp.name:
                errors.append(f"{name}: defined in {fdp.name}, upstream in {up_file}")
            if kind == "message":
                counts["messages"] += 1
                counts["fields"] += check_message(name, proto, up_proto, errors)
            elif kind == "enum":
                counts["enums"] += 1
                counts["values"] += check_enum(name, proto, up_proto, errors)
            else:
                counts["services"] += 1
                upstream_methods = {m.name: method_sig(m) for m in up_proto.method}
                counts["methods"] += check_service(name, proto, upstream_methods, errors)

    if errors:
        print(f"proto check: {len(errors)} mismatch(es):", file=sys.stderr)
        for err in errors:
            print(f"  {err}", file=sys.stderr)
        return 1
    print(
        "proto check: {messages} messages, {fields} fields match "
        "({enums} enums, {values} values; {services} services, {methods} methods)".format(**counts)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
