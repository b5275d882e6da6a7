#!/usr/bin/env bash
# Regenerates the Swift code of the EnvoyAPI target from its .proto files.
#
#   Sources/EnvoyAPI/Protos/     the project's own subset of the xDS v3 API (+ google.rpc.Status,
#                                Istio's CA API), laid out as upstream
#   Sources/EnvoyAPI/Generated/  output (committed); replaced whole on every run
#
# Usage: scripts/generate-protos.sh        (from anywhere; no arguments)
#
# Needs protoc (Debian: apt-get install protobuf-compiler libprotobuf-dev; the well-known
# types are read from /usr/include, or from $PROTOC_INCLUDE) and two plugins, taken from
# $PROTOC_GEN_SWIFT and $PROTOC_GEN_GRPC_SWIFT (defaults below). To build the plugins, make a
# scratch SwiftPM package outside the repo, e.g. /tmp/plugins/Package.swift:
#
#   // swift-tools-version: 6.0
#   import PackageDescription
#   let package = Package(name: "plugins", dependencies: [
#       .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
#       .package(url: "https://github.com/grpc/grpc-swift-protobuf", exact: "2.4.1"),
#   ])
#
# then, in that folder:
#   swift build -c release --product protoc-gen-swift
#   swift build -c release --product protoc-gen-grpc-swift-2
# The plugins' versions must match the swift-protobuf / grpc-swift-protobuf versions the
# package resolves, or the generated code may not compile.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROTO_DIR="$ROOT/Sources/EnvoyAPI/Protos"
OUT_DIR="$ROOT/Sources/EnvoyAPI/Generated"

PROTOC="${PROTOC:-protoc}"
PROTOC_INCLUDE="${PROTOC_INCLUDE:-/usr/include}"
PROTOC_GEN_SWIFT="${PROTOC_GEN_SWIFT:-/tmp/plugins/.build/release/protoc-gen-swift}"
PROTOC_GEN_GRPC_SWIFT="${PROTOC_GEN_GRPC_SWIFT:-/tmp/plugins/.build/release/protoc-gen-grpc-swift-2}"

# Only these files get gRPC service code.
GRPC_PROTOS=(
  envoy/service/discovery/v3/ads.proto
  envoy/service/secret/v3/sds.proto
  istio/v1/auth/ca.proto
)

die() { echo "generate-protos: $*" >&2; exit 1; }
command -v "$PROTOC" >/dev/null || die "protoc not found (apt-get install protobuf-compiler)"
[ -f "$PROTOC_INCLUDE/google/protobuf/any.proto" ] \
  || die "well-known types not found under $PROTOC_INCLUDE (apt-get install libprotobuf-dev)"
[ -x "$PROTOC_GEN_SWIFT" ] || die "protoc-gen-swift not found at $PROTOC_GEN_SWIFT (see header)"
[ -x "$PROTOC_GEN_GRPC_SWIFT" ] || die "protoc-gen-grpc-swift-2 not found at $PROTOC_GEN_GRPC_SWIFT (see header)"

# Deterministic input order, paths relative to the proto root.
cd "$PROTO_DIR"
PROTOS=()
while IFS= read -r f; do PROTOS+=("${f#./}"); done < <(find . -name '*.proto' | LC_ALL=C sort)
[ "${#PROTOS[@]}" -gt 0 ] || die "no .proto files under $PROTO_DIR"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

"$PROTOC" \
  --proto_path="$PROTO_DIR" \
  --proto_path="$PROTOC_INCLUDE" \
  --plugin=protoc-gen-swift="$PROTOC_GEN_SWIFT" \
  --swift_out="$TMP" \
  --swift_opt=Visibility=Public,FileNaming=PathToUnderscores \
  "${PROTOS[@]}"

"$PROTOC" \
  --proto_path="$PROTO_DIR" \
  --proto_path="$PROTOC_INCLUDE" \
  --plugin=protoc-gen-grpc-swift-2="$PROTOC_GEN_GRPC_SWIFT" \
  --grpc-swift-2_out="$TMP" \
  --grpc-swift-2_opt=Visibility=Public,Server=true,Client=true,FileNaming=PathToUnderscores \
  "${GRPC_PROTOS[@]}"

# Replace the output folder whole, so files of removed protos do not linger.
rm -rf "$OUT_DIR"
mkdir -p "$OUT_DIR"
cp "$TMP"/*.swift "$OUT_DIR"/
echo "generate-protos: $(ls "$OUT_DIR" | wc -l) files in ${OUT_DIR#"$ROOT"/}"
