#!/usr/bin/env python3
"""Generates Sources/MeshModel/Generated/IstioSchema+Generated.swift: every field of the Istio kinds meshd
accepts, by JSON name, from istio/api's .proto files (the facts of the schema; the generated
Swift is committed, like the Envoy protos, and this script re-derives it when istio/api moves).

Usage: scripts/generate-istio-schema.py ISTIO_API_CHECKOUT
  (a checkout of https://github.com/istio/api; reads networking/v1alpha3/*.proto,
  security/v1beta1/*.proto and type/v1beta1/selector.proto — networking v1 and v1beta1, and
  security v1, are generated from the same messages)
"""
from __future__ import annotations

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
        self.enums: set[str] = set()

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
                self.enums.add(f"{self.package}.{self.take()}")
                self.skip_block()
            else:
                self.skip_statement()

    def skip_block(self):
        assert self.take() == "{"
        depth = 1
        while depth:
            tok = self.take()
            depth += {"{": 1, "}": -1}.get(tok, 0)

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
                self.enums.add(f"{name}.{self.take()}")
                self.skip_block()
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


def resolve(ftype: str, scope: str, messages: dict, enums: set) -> str:
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


def main():
    root = Path(sys.argv[1])
    messages: dict[str, list] = {}
    enums: set[str] = set()
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
        "// security/v1beta1 and type/v1beta1 .proto files (field names are Istio's; JSON names as protobuf JSON spells",
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


if __name__ == "__main__":
    main()
