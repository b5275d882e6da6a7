import ArgumentParser
import Foundation
import MeshCommon
import MeshModel

/// `meshctl bootstrap`: prints an xDS bootstrap for proxyless gRPC clients (grpcio and others),
/// or with `--envoy` an Envoy sidecar's bootstrap (see BootstrapCommand+Envoy.swift).
///
/// It does not contact meshd: the output is for `GRPC_XDS_BOOTSTRAP` (a file) or
/// `GRPC_XDS_BOOTSTRAP_CONFIG` (the JSON inline), or for `envoy -c`.
struct BootstrapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bootstrap",
        abstract: "Print a gRPC xDS bootstrap JSON pointing at meshd (or, with --envoy, an Envoy sidecar's).",
        discussion: """
            With --envoy, --node-id is required and must be an Istio sidecar id, \
            sidecar~IP~POD.NAMESPACE~NAMESPACE.svc.cluster.local, or a gateway's, router~IP~POD.NAMESPACE~… \
            (give it --labels to match Gateways' selectors). Envoy then gets its listeners and \
            clusters from meshd over delta ADS (mTLS on port 15013 with the certificate mesh-agent \
            serves over SDS, or --plaintext on 15010) and its certificates from mesh-agent's \
            --sds-socket.
            """)

    /// meshd's plaintext xDS port (istiod's), used with the --server host by default.
    static let defaultXDSPort = MeshDefaults.xdsPort

    @ParentCommand var root: MeshctlCommand

    @Option(
        help: ArgumentHelp(
            "Node ID the client announces (default: proxyless~<hostname>-<pid>).", valueName: "id"))
    var nodeID: String?

    @Option(
        help: ArgumentHelp(
            "xDS server address (default: the --server host, port \(BootstrapCommand.defaultXDSPort)).",
            valueName: "host:port"))
    var xdsAddress: String?

    @Option(
        help: ArgumentHelp(
            "Directory mesh-agent writes certificates to; adds a file_watcher certificate provider named 'default'.",
            valueName: "dir"))
    var certDir: String?

    @Flag(help: "Print an Envoy sidecar bootstrap instead of a gRPC one.")
    var envoy = false

    @Option(
        help: ArgumentHelp(
            "The workload's namespace (node metadata NAMESPACE: which policies and routes apply to it; for Envoy it must match the node id's).",
            valueName: "namespace"))
    var namespace: String?

    @Option(
        help: ArgumentHelp(
            "Workload labels, k=v[,k=v...], may be repeated (node metadata LABELS: what policy selectors match).",
            valueName: "labels"))
    var labels: [String] = []

    @Option(help: ArgumentHelp("Envoy: CLUSTER_ID node metadata (default: Kubernetes, Istio's).", valueName: "id"))
    var clusterID: String?

    @Flag(help: "Envoy: plaintext xDS to port \(Envoy.plaintextXDSPort) (trusted networks only) instead of mTLS to \(Envoy.mutualTLSXDSPort).")
    var plaintext = false

    @Option(help: ArgumentHelp("Envoy: the name meshd's certificate is checked against (default: the xDS host).", valueName: "name"))
    var serverName: String?

    @Option(help: ArgumentHelp("Envoy: mesh-agent's SDS socket (default: \(Envoy.defaultSDSSocket)).", valueName: "path"))
    var sdsSocket: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("Output format: json or yaml.", valueName: "json|yaml"))
    var output: OutputFormat = .json

    func validate() throws {
        if output == .table { throw ValidationError("--output must be json or yaml") }
        if !envoy {
            let envoyOnly = [
                (plaintext, "--plaintext"), (serverName != nil, "--server-name"), (sdsSocket != nil, "--sds-socket"),
                (clusterID != nil, "--cluster-id"),
            ]
            if let flag = envoyOnly.first(where: \.0)?.1 { throw ValidationError("\(flag) is for --envoy bootstraps") }
            if namespace?.isEmpty == true { throw ValidationError("--namespace must not be empty") }
            _ = try parsedLabels()
        } else {
            guard nodeID != nil else { throw ValidationError("--envoy needs --node-id (\(EnvoyNodeID.shape))") }
            if certDir != nil { throw ValidationError("--cert-dir is for gRPC bootstraps; Envoy gets its certificate over SDS") }
            if sdsSocket?.isEmpty == true { throw ValidationError("--sds-socket must not be empty") }
            _ = try parsedLabels()
        }
        if let xdsAddress, !Self.isHostPort(xdsAddress) {
            throw ValidationError("--xds-address must be HOST:PORT, got '\(xdsAddress)'")
        }
        if let nodeID, nodeID.isEmpty {
            throw ValidationError("--node-id must not be empty")
        }
        if let certDir, certDir.isEmpty {
            throw ValidationError("--cert-dir must not be empty")
        }
    }

    func run() throws {
        let bootstrap =
            envoy
            ? Self.envoyBootstrap(try envoyInput())
            : Self.bootstrap(
                serverURI: try resolvedXDSAddress(), nodeID: resolvedNodeID,
                certificateDirectory: certDir.map { URL(fileURLWithPath: $0).standardizedFileURL.path },
                namespace: namespace, labels: try parsedLabels())
        Console.out(output == .yaml ? try bootstrap.yamlDocument() : bootstrap.prettyJSON() + "\n")
    }

    /// The validated input of an Envoy bootstrap: the node id parsed (a malformed one refused),
    /// the namespace agreeing with it, the xDS address defaulting to the mTLS or plaintext port.
    private func envoyInput() throws -> EnvoyBootstrapInput {
        let node = try EnvoyNodeID(parsing: nodeID ?? "")
        if let namespace, namespace != node.namespace {
            throw MeshctlError(.input, "--namespace \(namespace) differs from the node id's namespace \(node.namespace)")
        }
        let port = plaintext ? Envoy.plaintextXDSPort : Envoy.mutualTLSXDSPort
        let address = try xdsAddress ?? resolvedXDSAddress(port: port)
        guard let colon = address.lastIndex(of: ":"), let xdsPort = Int(address[address.index(after: colon)...]) else {
            throw MeshctlError(.input, "--xds-address must be HOST:PORT, got '\(address)'")
        }
        var host = String(address[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return EnvoyBootstrapInput(
            node: node, labels: try parsedLabels(), clusterID: clusterID ?? "Kubernetes", xdsHost: host,
            xdsPort: xdsPort, plaintext: plaintext, serverName: serverName ?? host,
            sdsSocket: sdsSocket ?? Envoy.defaultSDSSocket)
    }

    /// `--labels app=reviews,version=v1 --labels team=a` as a map; a malformed pair is refused.
    func parsedLabels() throws -> [String: String] {
        var result: [String: String] = [:]
        for pair in labels.flatMap({ $0.split(separator: ",") }) {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw ValidationError("--labels: '\(pair)' is not KEY=VALUE")
            }
            let key = String(pair[..<equals])
            if result[key] != nil { throw ValidationError("--labels: '\(key)' is given twice") }
            result[key] = String(pair[pair.index(after: equals)...])
        }
        return result
    }

    /// The instance name meshd's UpstreamTlsContext refers to (identity certificate `default`,
    /// CA certificate `ROOTCA`, both served by this one provider instance).
    static let certificateProviderInstance = "default"

    /// How often grpcio re-reads the files: mesh-agent renews at half the lifetime, so seconds
    /// of delay are harmless, and the atomic `..data` swap makes any moment safe to read.
    static let certificateRefreshInterval = "5s"

    /// The minimal bootstrap grpcio accepts: one plaintext xDS v3 server and the node ID; with
    /// `certificateDirectory` (absolute), a `file_watcher` certificate provider reading the
    /// files mesh-agent keeps there, which meshd's xDS mTLS config names.
    /// Every bootstrap also names its server listeners as istiod's do
    /// (`server_listener_resource_name_template`), so an xDS-enabled gRPC server asks meshd for
    /// its inbound listener, and its node metadata says it is proxyless gRPC (`GENERATOR`) with
    /// `namespace` and `labels` when given (what selects its security policies).
    static func bootstrap(
        serverURI: String, nodeID: String, certificateDirectory: String? = nil,
        namespace: String? = nil, labels: [String: String] = [:]
    ) -> JSONValue {
        var document = minimalBootstrap(serverURI: serverURI, nodeID: nodeID, namespace: namespace, labels: labels)
        if let certificateDirectory, case .object(var members) = document {
            func file(_ name: String) -> JSONValue {
                .string((certificateDirectory as NSString).appendingPathComponent(name))
            }
            members["certificate_providers"] = .object([
                certificateProviderInstance: .object([
                    "plugin_name": .string("file_watcher"),
                    "config": .object([
                        "certificate_file": file("cert-chain.pem"),
                        "private_key_file": file("key.pem"),
                        "ca_certificate_file": file("root-cert.pem"),
                        "refresh_interval": .string(certificateRefreshInterval),
                    ]),
                ])
            ])
            document = .object(members)
        }
        return document
    }

    /// Istio's name template for a gRPC server's inbound listener (`%s` is the listening address).
    static let serverListenerTemplate = "xds.istio.io/grpc/lds/inbound/%s"

    private static func minimalBootstrap(serverURI: String, nodeID: String, namespace: String?, labels: [String: String]) -> JSONValue {
        var metadata: [String: JSONValue] = ["GENERATOR": .string("grpc")]
        if let namespace { metadata["NAMESPACE"] = .string(namespace) }
        if !labels.isEmpty { metadata["LABELS"] = .object(labels.mapValues(JSONValue.string)) }
        return .object([
            "xds_servers": .array([
                .object([
                    "server_uri": .string(serverURI),
                    "channel_creds": .array([.object(["type": .string("insecure")])]),
                    "server_features": .array([.string("xds_v3")]),
                ])
            ]),
            "node": .object(["id": .string(nodeID), "metadata": .object(metadata)]),
            "server_listener_resource_name_template": .string(serverListenerTemplate),
        ])
    }

    private var resolvedNodeID: String {
        nodeID ?? "proxyless~\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
    }

    /// `--xds-address`, else the admin server's host with the xDS port (bracketed if IPv6).
    private func resolvedXDSAddress(port: Int = BootstrapCommand.defaultXDSPort) throws -> String {
        if let xdsAddress { return xdsAddress }
        let server = root.global.resolvedServer
        guard var host = URL(string: server)?.host, !host.isEmpty else {
            throw MeshctlError(.input, "cannot take the xDS host from server URL '\(server)'; give --xds-address")
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// HOST:PORT with a non-empty host and a port in 1...65535; `[v6]:PORT` allowed.
    private static func isHostPort(_ value: String) -> Bool {
        guard let colon = value.lastIndex(of: ":") else { return false }
        let host = value[..<colon]
        guard let port = Int(value[value.index(after: colon)...]), (1...65535).contains(port), !host.isEmpty
        else { return false }
        // An unbracketed IPv6 address is ambiguous (where does the port start?).
        return !host.contains(":") || (host.hasPrefix("[") && host.hasSuffix("]"))
    }
}
