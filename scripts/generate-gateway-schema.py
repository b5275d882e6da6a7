#!/usr/bin/env python3
"""Generates Sources/MeshModel/Generated/GatewaySchema+Generated.swift: the structural schema of
the Gateway API kinds meshd serves (HTTPRoute, GRPCRoute, ReferenceGrant), taken from the pinned
release's standard-channel CRDs — every field with its type, enum, pattern, lengths, item
bounds, numeric bounds, required members, list type and default. The CEL rules
(`x-kubernetes-validations`) are not generated: each is a hand-written check in
GatewayRules.swift, and the generated `celRules` table lists every rule text by schema path so a
test proves none is missing.

Usage: scripts/generate-gateway-schema.py GATEWAY_API_CHECKOUT [TAG]
  (a git checkout, or a bare clone, of https://github.com/kubernetes-sigs/gateway-api; TAG
  defaults to the pinned release below. Reads config/crd/standard/gateway.networking.k8s.io_*.yaml.)
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

PINNED = "v1.6.1"
# kind -> (CRD file stem, the version whose schema is generated)
KINDS = {
    "HTTPRoute": ("httproutes", "v1"),
    "GRPCRoute": ("grpcroutes", "v1"),
    "ReferenceGrant": ("referencegrants", "v1beta1"),
}
ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Sources/MeshModel/Generated/GatewaySchema+Generated.swift"
# The release's CRDs for the kinds meshd serves, descriptions left out: what a cluster (or the
# tests' stand-in API server) installs to serve them. Clusters normally install the release's
# own standard-install.yaml instead; the schemas are the same.
CRDS_OUT = ROOT / "deploy/kubernetes/gateway-api-crds.yaml"


def strip_descriptions(node):
    if isinstance(node, dict):
        return {k: strip_descriptions(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [strip_descriptions(v) for v in node]
    return node


def read_crd(checkout: str, tag: str, stem: str) -> dict:
    path = f"config/crd/standard/gateway.networking.k8s.io_{stem}.yaml"
    text = subprocess.run(["git", "-C", checkout, "show", f"{tag}:{path}"], check=True,
                          capture_output=True, text=True).stdout
    return yaml.safe_load(text)


def swift_string(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def swift_json(v) -> str:
    if v is None:
        return ".null"
    if isinstance(v, bool):
        return f".bool({'true' if v else 'false'})"
    if isinstance(v, (int, float)):
        return f".number({v})"
    if isinstance(v, str):
        return f".string({swift_string(v)})"
    if isinstance(v, list):
        return ".array([" + ", ".join(swift_json(x) for x in v) + "])"
    if isinstance(v, dict):
        if not v:
            return ".object([:])"
        return ".object([" + ", ".join(f"{swift_string(k)}: {swift_json(x)}" for k, x in sorted(v.items())) + "])"
    raise TypeError(v)


class Table:
    def __init__(self):
        self.nodes: list[str] = []
        self.index: dict[str, int] = {}
        self.rules: list[tuple[str, str, str, str]] = []  # (kind, path pattern, rule, message)

    def add(self, schema: dict, kind: str, path: str) -> int:
        for rule in schema.get("x-kubernetes-validations", []):
            self.rules.append((kind, path, rule["rule"], rule["message"]))
        args = [f"type: .{schema.get('type', 'object')}"]
        props = schema.get("properties", {})
        if props:
            members = ", ".join(f"{swift_string(k)}: {self.add(v, kind, f'{path}.{k}')}" for k, v in sorted(props.items()))
            args.append(f"properties: [{members}]")
        if "items" in schema:
            args.append(f"items: {self.add(schema['items'], kind, path + '[]')}")
        if isinstance(schema.get("additionalProperties"), dict):
            args.append(f"values: {self.add(schema['additionalProperties'], kind, path + '{}')}")
        if schema.get("required"):
            args.append("required: [" + ", ".join(swift_string(r) for r in schema["required"]) + "]")
        if "enum" in schema:
            args.append("enumValues: [" + ", ".join(swift_string(str(e)) for e in schema["enum"]) + "]")
        if "pattern" in schema:
            args.append(f"pattern: {swift_string(schema['pattern'])}")
        for key in ("minLength", "maxLength", "minItems", "maxItems", "minimum", "maximum"):
            if key in schema:
                args.append(f"{key}: {int(schema[key])}")
        if schema.get("format") == "int32":
            args.append("isInt32: true")
        if "x-kubernetes-list-type" in schema:
            args.append(f"listType: .{schema['x-kubernetes-list-type']}")
        if schema.get("x-kubernetes-list-map-keys"):
            args.append("listMapKeys: [" + ", ".join(swift_string(k) for k in schema["x-kubernetes-list-map-keys"]) + "]")
        if "default" in schema:
            args.append(f"defaultValue: {swift_json(schema['default'])}")
        text = "GatewaySchemaNode(" + ", ".join(args) + ")"
        if text not in self.index:
            self.index[text] = len(self.nodes)
            self.nodes.append(text)
        return self.index[text]


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    checkout = sys.argv[1]
    tag = sys.argv[2] if len(sys.argv) > 2 else PINNED
    table = Table()
    roots = {}
    versions = {}
    crds = []
    for kind, (stem, version) in KINDS.items():
        crd = read_crd(checkout, tag, stem)
        crds.append(strip_descriptions(crd))
        versions[kind] = [v["name"] for v in crd["spec"]["versions"] if v["served"]]
        schema = next(v for v in crd["spec"]["versions"] if v["name"] == version)["schema"]["openAPIV3Schema"]
        roots[kind] = table.add(schema["properties"]["spec"], kind, "spec")
    lines = [
        f"// Generated by scripts/generate-gateway-schema.py from kubernetes-sigs/gateway-api {tag}'s",
        "// standard-channel CRDs (config/crd/standard). Do not edit: re-run the script.",
        "",
        "extension GatewaySchema {",
        f"    /// The Gateway API release the schema comes from.",
        f"    public static let release = {swift_string(tag)}",
        "",
        "    /// The versions each kind's CRD serves, as the release lists them.",
        "    public static let servedVersions: [String: [String]] = [",
    ]
    for kind in sorted(versions):
        lines.append(f"        {swift_string(kind)}: [" + ", ".join(swift_string(v) for v in versions[kind]) + "],")
    lines += [
        "    ]",
        "",
        "    /// Each kind's `spec` node in `nodes`.",
        "    static let roots: [String: Int] = [",
    ]
    for kind in sorted(roots):
        lines.append(f"        {swift_string(kind)}: {roots[kind]},")
    lines += [
        "    ]",
        "",
        "    /// Every CEL rule of the CRDs (`x-kubernetes-validations`), as kind, schema path, rule text",
        "    /// and message: GatewayRules implements each one by its message (a test holds the two together).",
        "    static let celRules: [(kind: String, path: String, rule: String, message: String)] = [",
    ]
    for kind, path, rule, message in table.rules:
        lines.append(f"        ({swift_string(kind)}, {swift_string(path)}, {swift_string(rule)}, {swift_string(message)}),")
    lines += [
        "    ]",
        "",
        "    /// The schema's nodes, shared where two fields have the same schema.",
        "    static func generatedNodes() -> [GatewaySchemaNode] {",
        "        var nodes: [GatewaySchemaNode] = []",
        f"        nodes.reserveCapacity({len(table.nodes)})",
    ]
    for text in table.nodes:
        lines.append(f"        nodes.append({text})")
    lines += ["        return nodes", "    }", "}", ""]
    OUT.write_text("\n".join(lines))
    header = (f"# The Gateway API {tag} standard-channel CRDs of the kinds meshd serves (HTTPRoute, GRPCRoute,\n"
              "# ReferenceGrant), descriptions left out. Generated by scripts/generate-gateway-schema.py; do not edit.\n")
    CRDS_OUT.write_text(header + yaml.safe_dump_all(crds, sort_keys=False, width=1000))
    print(f"wrote {OUT} ({len(table.nodes)} nodes, {len(table.rules)} CEL rules)")


if __name__ == "__main__":
    main()
