#!/usr/bin/env python3
"""Generates Sources/MeshModel/Generated/IstioSchema+Generated.swift: every field of the Istio kinds meshd
accepts, by JSON name, from istio/api's .proto files (the facts of the schema; the generated
Swift is committed, like the Envoy protos, and this script re-derives it when istio/api moves).

The same run writes deploy/kubernetes/istio-crds.yaml: a CustomResourceDefinition for each kind
meshd serves, whose structural OpenAPI schema has exactly the fields of the Swift table, so the
API server refuses a misspelled field just as meshd does (Tests/interop/test_crds.py holds the
two together). The CRD schemas type every field and list enum values, and check nothing else:
the semantic checks stay in meshd's validating webhook.

Usage: scripts/generate-istio-schema.py ISTIO_API_CHECKOUT
  (a checkout of https://github.com/istio/api; reads networking/v1alpha3/*.proto,
  security/v1beta1/*.proto, telemetry/v1alpha1/telemetry.proto and type/v1beta1/selector.proto
  — networking v1 and v1beta1, security v1 and telemetry v1, are generated from the same messages)
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

FILES = [
    "networking/v1alpha3/virtual_service.proto",
    "networking/v1alpha3/destination_rule.proto",
    "networking/v1alpha3/service_entry.proto",
    "networking/v1alpha3/workload_entry.proto",
    "networking/v1alpha3/sidecar.proto",
    "networking/v1alpha3/gateway.proto",
    "security/v1beta1/peer_authentication.proto",
    "security/v1beta1/authorization_policy.proto",
    "security/v1beta1/request_authentication.proto",
    "telemetry/v1alpha1/telemetry.proto",
    "mesh/v1alpha1/config.proto",
    "mesh/v1alpha1/proxy.proto",
    "networking/v1alpha3/workload_group.proto",
    "networking/v1beta1/proxy_config.proto",
    "type/v1beta1/selector.proto",
]
# kind -> its spec message, by full protobuf name
ROOTS = {
    "VirtualService": "istio.networking.v1alpha3.VirtualService",
    "DestinationRule": "istio.networking.v1alpha3.DestinationRule",
    "ServiceEntry": "istio.networking.v1alpha3.ServiceEntry",
    "WorkloadEntry": "istio.networking.v1alpha3.WorkloadEntry",
    "Sidecar": "istio.networking.v1alpha3.Sidecar",
    "Gateway": "istio.networking.v1alpha3.Gateway",
    "PeerAuthentication": "istio.security.v1beta1.PeerAuthentication",
    "AuthorizationPolicy": "istio.security.v1beta1.AuthorizationPolicy",
    "RequestAuthentication": "istio.security.v1beta1.RequestAuthentication",
    "Telemetry": "istio.telemetry.v1alpha1.Telemetry",
    # Not a kind: meshd's --mesh-config file (Istio's MeshConfig), checked with the same rules.
    "MeshConfig": "istio.mesh.v1alpha1.MeshConfig",
}
SCALARS = {"string", "bool", "bytes", "double", "float", "int32", "int64", "uint32", "uint64",
           "sint32", "sint64", "fixed32", "fixed64", "sfixed32", "sfixed64",
           "google.protobuf.Duration", "google.protobuf.Timestamp",
           "google.protobuf.UInt32Value", "google.protobuf.Int32Value", "google.protobuf.UInt64Value",
           "google.protobuf.Int64Value", "google.protobuf.BoolValue", "google.protobuf.DoubleValue",
           "google.protobuf.FloatValue", "google.protobuf.StringValue"}
OPEN = {"google.protobuf.Struct", "google.protobuf.Any", "google.protobuf.Value"}


def strip_comments(text: str) -> str:
    """Drops // and /* */ comments, leaving string literals (which may contain //) alone."""
    pattern = re.compile(r'"(?:[^"\\\n]|\\.)*"|//[^\n]*|/\*.*?\*/', re.S)
    return pattern.sub(lambda m: m.group(0) if m.group(0).startswith('"') else " ", text)


TOKEN = re.compile(r'"[^"]*"|[A-Za-z_][\w.]*|\d+|[{}\[\]<>=;,()]|\S')


class Parser:
    def __init__(self, text: str, package: str):
        self.toks = TOKEN.findall(strip_comments(text))
        self.i = 0
        self.package = package
        self.messages: dict[str, list] = {}   # full name -> [(json, type, repeated, map_value)]
        self.enums: dict[str, list[str]] = {}  # full name -> value names

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self):
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def skip_statement(self):
        depth = 0
        while True:
            tok = self.take()
            if tok == "{":
                depth += 1
            elif tok == "}":
                depth -= 1
                if depth == 0:
                    return
            elif tok == ";" and depth == 0:
                return

    def parse_file(self):
        while self.peek() is not None:
            tok = self.peek()
            if tok == "message":
                self.take()
                self.parse_message(self.package)
            elif tok == "enum":
                self.take()
                self.parse_enum(self.package)
            else:
                self.skip_statement()

    def parse_enum(self, scope: str):
        """`enum NAME { VALUE = N [options]; ... }`: the value names, in declaration order."""
        name = f"{scope}.{self.take()}"
        assert self.take() == "{"
        values = []
        while self.peek() != "}":
            if self.peek() not in ("option", "reserved", ";"):
                values.append(self.peek())
            self.skip_statement()
        self.take()
        self.enums[name] = values

    def parse_message(self, scope: str):
        name = f"{scope}.{self.take()}"
        assert self.take() == "{"
        fields = self.messages.setdefault(name, [])
        while self.peek() != "}":
            tok = self.peek()
            if tok == "message":
                self.take()
                self.parse_message(name)
            elif tok == "enum":
                self.take()
                self.parse_enum(name)
            elif tok == "oneof":
                self.take()
                self.take()
                assert self.take() == "{"
                while self.peek() != "}":
                    if self.peek() == "option":
                        self.skip_statement()
                    else:
                        fields.append(self.parse_field())
                self.take()
            elif tok in ("reserved", "option", "extensions", ";"):
                self.skip_statement()
            else:
                fields.append(self.parse_field())
        self.take()
        self.messages[name] = fields
        return name

    def parse_field(self):
        repeated = False
        if self.peek() in ("repeated", "optional"):
            repeated = self.take() == "repeated"
        if self.peek() == "map":
            self.take()
            assert self.take() == "<"
            self.take()                      # key type: always string in these APIs
            assert self.take() == ","
            value = self.take()
            assert self.take() == ">"
            ftype, is_map = value, True
        else:
            ftype, is_map = self.take(), False
        name = self.take()
        assert self.take() == "="
        self.take()
        json_name = None
        if self.peek() == "[":
            depth = 0
            opts = []
            while True:
                tok = self.take()
                opts.append(tok)
                if tok == "[":
                    depth += 1
                elif tok == "]":
                    depth -= 1
                    if depth == 0:
                        break
            joined = " ".join(opts)
            m = re.search(r'json_name\s*=\s*"([^"]+)"', joined)
            if m:
                json_name = m.group(1)
        assert self.take() == ";", name
        if json_name is None:
            parts = name.split("_")
            json_name = parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])
        return (json_name, ftype, repeated, is_map)


def resolve(ftype: str, scope: str, messages: dict, enums: dict) -> str:
    if ftype in SCALARS or ftype in OPEN:
        return ftype
    if ftype.startswith("."):
        ftype = ftype[1:]
    candidates = []
    parts = scope.split(".")
    while parts:
        candidates.append(".".join(parts) + "." + ftype)
        parts.pop()
    candidates.append(ftype)
    for c in candidates:
        if c in messages or c in enums:
            return c
    raise SystemExit(f"cannot resolve type {ftype} in {scope}")


def swift_node(ftype: str, repeated: bool, is_map: bool, messages, enums, names) -> str:
    if ftype in OPEN:
        inner = ".open"
    elif ftype in SCALARS or ftype in enums:
        inner = ".scalar"
    else:
        inner = f'.message("{names[ftype]}")'
    if is_map:
        return f".map({inner})"
    if repeated:
        return f".list({inner})"
    return inner


# The CRDs: kind -> (plural, short names, printer columns), as in istio's own CRDs
# (istio/api kubernetes/customresourcedefinitions.gen.yaml). A CRD with no columns gets kubectl's
# default (Age).
AGE = ("Age", ".metadata.creationTimestamp", "date")
CRDS = {
    "VirtualService": ("virtualservices", ["vs"],
                       [("Gateways", ".spec.gateways", "string"), ("Hosts", ".spec.hosts", "string"), AGE]),
    "DestinationRule": ("destinationrules", ["dr"], [("Host", ".spec.host", "string"), AGE]),
    "ServiceEntry": ("serviceentries", ["se"],
                     [("Hosts", ".spec.hosts", "string"), ("Location", ".spec.location", "string"),
                      ("Resolution", ".spec.resolution", "string"), AGE]),
    "WorkloadEntry": ("workloadentries", ["we"], [AGE, ("Address", ".spec.address", "string")]),
    "Gateway": ("gateways", ["gw"], []),
    "Sidecar": ("sidecars", [], []),
    "PeerAuthentication": ("peerauthentications", ["pa"], [("Mode", ".spec.mtls.mode", "string"), AGE]),
    "AuthorizationPolicy": ("authorizationpolicies", ["ap"], [("Action", ".spec.action", "string"), AGE]),
    "RequestAuthentication": ("requestauthentications", ["ra"], []),
    "Telemetry": ("telemetries", ["telemetry"], [AGE]),
}
# group -> its versions, the storage version first
VERSIONS = {"networking.istio.io": ["v1", "v1beta1", "v1alpha3"], "security.istio.io": ["v1", "v1beta1"],
            "telemetry.istio.io": ["v1", "v1alpha1"]}
# protobuf scalar -> OpenAPI; wrappers as the scalar they wrap, durations and timestamps as their
# JSON strings. Unsigned integers are at least 0 (protobuf JSON refuses a negative one).
OPENAPI = {"string": {"type": "string"}, "bytes": {"type": "string"}, "bool": {"type": "boolean"},
           "double": {"type": "number"}, "float": {"type": "number"},
           "int32": {"type": "integer", "format": "int32"}, "sint32": {"type": "integer", "format": "int32"},
           "sfixed32": {"type": "integer", "format": "int32"}, "int64": {"type": "integer", "format": "int64"},
           "sint64": {"type": "integer", "format": "int64"}, "sfixed64": {"type": "integer", "format": "int64"},
           "uint32": {"type": "integer", "minimum": 0}, "fixed32": {"type": "integer", "minimum": 0},
           "uint64": {"type": "integer", "minimum": 0}, "fixed64": {"type": "integer", "minimum": 0},
           "google.protobuf.Duration": {"type": "string"}, "google.protobuf.Timestamp": {"type": "string"}}
for wrapper, scalar in [("UInt32Value", "uint32"), ("Int32Value", "int32"), ("UInt64Value", "uint64"),
                        ("Int64Value", "int64"), ("BoolValue", "bool"), ("DoubleValue", "double"),
                        ("FloatValue", "float"), ("StringValue", "string")]:
    OPENAPI[f"google.protobuf.{wrapper}"] = OPENAPI[scalar]
assert set(OPENAPI) == SCALARS
PRESERVE = {"x-kubernetes-preserve-unknown-fields": True}


def openapi_message(full: str, messages: dict, enums: dict, path: tuple = ()) -> dict:
    """A message as a structural schema: every field typed, its properties by JSON name. A message
    already on `path` (recursion, which a structural schema cannot express) keeps any fields."""
    if full in path:
        return {"type": "object", **PRESERVE}
    properties = {}
    for (json, ftype, repeated, is_map) in messages[full]:
        r = resolve(ftype, full, messages, enums)
        if r in OPEN:
            node = dict(PRESERVE)
        elif r in enums:
            node = {"type": "string", "enum": enums[r]}
        elif r in OPENAPI:
            node = dict(OPENAPI[r])
        else:
            node = openapi_message(r, messages, enums, path + (full,))
        if is_map:
            node = {"type": "object", "additionalProperties": node}
        elif repeated:
            node = {"type": "array", "items": node}
        properties[json] = node
    schema = {"type": "object"}
    if properties:
        schema["properties"] = dict(sorted(properties.items()))
    return schema


def crd(kind: str, spec: dict) -> dict:
    plural, short_names, columns = CRDS[kind]
    group = ("security.istio.io" if ROOTS[kind].startswith("istio.security.")
             else "telemetry.istio.io" if ROOTS[kind].startswith("istio.telemetry.") else "networking.istio.io")
    names = {"categories": ["istio-io", group.replace(".", "-").removesuffix("-io") + "-io"], "kind": kind,
             "listKind": kind + "List", "plural": plural}
    if short_names:
        names["shortNames"] = short_names
    names["singular"] = kind.lower()
    schema = {"openAPIV3Schema": {"type": "object", "properties": {
        "spec": spec, "status": {"type": "object", **PRESERVE}}}}
    versions = []
    for i, version in enumerate(VERSIONS[group]):
        entry = {"name": version, "served": True, "storage": i == 0}
        if columns:
            entry["additionalPrinterColumns"] = [{"name": n, "type": t, "jsonPath": p} for (n, p, t) in columns]
        entry["schema"] = schema
        entry["subresources"] = {"status": {}}
        versions.append(entry)
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}"},
            "spec": {"group": group, "names": names, "scope": "Namespaced", "versions": versions}}


PLAIN = re.compile(r"[A-Za-z][\w.\-/]*$")
YAML11_WORDS = {"y", "yes", "n", "no", "true", "false", "on", "off", "null"}


def yaml_scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if PLAIN.match(value) and value.lower() not in YAML11_WORDS:
        return value
    return json.dumps(value)


def yaml_flow(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {yaml_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(yaml_flow(v) for v in value) + "]"
    return yaml_scalar(value)


def yaml_block(value, indent: int = 0) -> list[str]:
    """Block YAML, lists at their key's indent (as the manifests under deploy/ are written); a
    value that fits in 110 columns is written in flow style."""
    pad = " " * indent
    lines = []
    if isinstance(value, dict):
        for key, item in value.items():
            flow = yaml_flow(item)
            if not isinstance(item, (dict, list)) or len(pad) + len(key) + len(flow) + 2 <= 110:
                lines.append(f"{pad}{key}: {flow}")
            else:
                lines.append(f"{pad}{key}:")
                lines += yaml_block(item, indent + (0 if isinstance(item, list) else 2))
    else:
        for item in value:
            inner = yaml_block(item, indent + 2) if isinstance(item, (dict, list)) else [pad + "  " + yaml_flow(item)]
            lines.append(pad + "- " + inner[0][indent + 2:])
            lines += inner[1:]
    return lines


def write_crds(messages: dict, enums: dict) -> None:
    out = ["# Generated by scripts/generate-istio-schema.py from istio/api's .proto files, with the Swift table",
           "# meshd validates specs with (Sources/MeshModel/Generated/IstioSchema+Generated.swift). Do not edit:",
           "#   scripts/generate-istio-schema.py ISTIO_API_CHECKOUT",
           "# The kinds meshd serves, under istio's CRD names. Apply these before meshd-kubernetes.yaml:",
           "#   kubectl apply -f deploy/kubernetes/istio-crds.yaml",
           "# Each spec schema types every field (misspelled fields are refused by the API server); the",
           "# semantic checks are meshd's validating webhook's."]
    for kind in CRDS:
        out += ["---", *yaml_block(crd(kind, openapi_message(ROOTS[kind], messages, enums)))]
    target = Path(__file__).resolve().parent.parent / "deploy/kubernetes/istio-crds.yaml"
    target.write_text("\n".join(out) + "\n")
    print(f"wrote {target} ({len(CRDS)} CustomResourceDefinitions)")


def main():
    root = Path(sys.argv[1])
    messages: dict[str, list] = {}
    enums: dict[str, list[str]] = {}
    for rel in FILES:
        text = (root / rel).read_text()
        package = re.search(r"package\s+([\w.]+)\s*;", text).group(1)
        parser = Parser(text, package)
        parser.parse_file()
        messages.update(parser.messages)
        enums |= parser.enums
    # Short, unique names for the Swift table: the message path inside its package.
    names = {}
    for full in messages:
        if full.startswith("istio.type.v1beta1."):
            # networking has its own WorkloadSelector and PortSelector
            short = "type." + full.split("v1beta1.", 1)[-1]
        elif full.startswith("istio.mesh.v1alpha1."):
            short = "mesh." + full.split("v1alpha1.", 1)[-1]
        elif full.startswith("istio.telemetry.v1alpha1."):
            short = "telemetry." + full.split("v1alpha1.", 1)[-1]
        elif full.startswith("istio.networking.v1beta1."):
            short = "networking.v1beta1." + full.split("v1beta1.", 1)[-1]
        else:
            short = full.split("v1alpha3.", 1)[-1] if "v1alpha3." in full else full.split("v1beta1.", 1)[-1]
        names[full] = short
    reachable: list[str] = []
    def visit(full):
        if full in reachable:
            return
        reachable.append(full)
        scope = full
        for (_, ftype, _, _) in messages[full]:
            r = resolve(ftype, scope, messages, enums)
            if r in messages:
                visit(r)
    for kind, msg in ROOTS.items():
        visit(msg)
    shorts = [names[f] for f in reachable]
    assert len(shorts) == len(set(shorts)), "two reachable messages share a short name"
    out = [
        "// Generated by scripts/generate-istio-schema.py from istio/api's networking/v1alpha3,",
        "// security/v1beta1, telemetry/v1alpha1 and type/v1beta1 .proto files (field names are Istio's; JSON names as protobuf JSON spells",
        "// them). Do not edit: re-run the script.",
        "",
        "extension IstioSchema {",
        "    /// Every message reachable from the kinds' specs: message name → field JSON name → shape.",
        "    static func generatedMessages() -> [String: [String: SchemaNode]] {",
        "        var messages: [String: [String: SchemaNode]] = [:]",
    ]
    for full in sorted(reachable, key=lambda f: names[f]):
        fields = []
        for (json, ftype, repeated, is_map) in messages[full]:
            r = resolve(ftype, full, messages, enums)
            fields.append(f'"{json}": {swift_node(r, repeated, is_map, messages, enums, names)}')
        body = ", ".join(fields) if fields else ":"
        out.append(f'        messages["{names[full]}"] = [{body}]')
    out += ["        return messages", "    }", "", "    /// The spec message of each kind.",
            "    static let generatedRoots: [String: String] = ["]
    for kind, msg in ROOTS.items():
        out.append(f'        "{kind}": "{names[msg]}",')
    out += ["    ]", "}", ""]
    target = Path(__file__).resolve().parent.parent / "Sources/MeshModel/Generated/IstioSchema+Generated.swift"
    target.write_text("\n".join(out))
    print(f"wrote {target} ({len(reachable)} messages)")
    write_crds(messages, enums)


if __name__ == "__main__":
    main()
