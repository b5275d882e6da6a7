import ArgumentParser
import Foundation

/// `meshctl bootstrap`: prints an xDS bootstrap for proxyless gRPC clients (grpcio and others).
///
/// It does not contact meshd: the output is for `GRPC_XDS_BOOTSTRAP` (a file) or
/// `GRPC_XDS_BOOTSTRAP_CONFIG` (the JSON inline).
struct BootstrapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bootstrap",
        abstract: "Print a gRPC xDS bootstrap JSON pointing at meshd.")

    /// meshd's plaintext xDS port (istiod's), used with the --server host by default.
    static let defaultXDSPort = 15010

    @ParentCommand var root: MeshctlCommand

    @Option(help: ArgumentHelp(
        "Node ID the client announces (default: proxyless~<hostname>-<pid>).", valueName: "id"))
    var nodeID: String?

    @Option(help: ArgumentHelp(
        "xDS server address (default: the --server host, port \(BootstrapCommand.defaultXDSPort)).",
        valueName: "host:port"))
    var xdsAddress: String?

    @Option(help: ArgumentHelp(
        "Directory mesh-agent writes certificates to; adds a file_watcher certificate provider named 'default'.",
        valueName: "dir"))
    var certDir: String?

    @Option(help: ArgumentHelp(
        "Namespace of the workload (node metadata NAMESPACE): which policies and routes apply to it.",
        valueName: "namespace"))
    var namespace: String?

    @Option(help: ArgumentHelp(
        "Labels of the workload, KEY=VALUE[,KEY=VALUE...] (node metadata LABELS): what policy selectors match.",
        valueName: "labels"))
    var labels: String?

    func validate() throws {
        if let namespace, namespace.isEmpty {
            throw ValidationError("--namespace must not be empty")
        }
        if let labels { _ = try Self.parseLabels(labels) }
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
        let bootstrap = Self.bootstrap(
            serverURI: try resolvedXDSAddress(), nodeID: resolvedNodeID,
            certificateDirectory: certDir.map { URL(fileURLWithPath: $0).standardizedFileURL.path },
            namespace: namespace, labels: try labels.map(Self.parseLabels) ?? [:])
        Console.out(try bootstrap.prettyJSON() + "\n")
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
    static func bootstrap(serverURI: String, nodeID: String, certificateDirectory: String? = nil,
                          namespace: String? = nil, labels: [String: String] = [:]) -> JSONValue {
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
                ]),
            ])
            document = .object(members)
        }
        return document
    }

    /// Istio's name template for a gRPC server's inbound listener (`%s` is the listening address).
    static let serverListenerTemplate = "xds.istio.io/grpc/lds/inbound/%s"

    /// `KEY=VALUE[,KEY=VALUE...]` as a label map; a key must be non-empty and appear once.
    static func parseLabels(_ text: String) throws -> [String: String] {
        var labels: [String: String] = [:]
        for pair in text.split(separator: ",", omittingEmptySubsequences: true) {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw ValidationError("--labels takes KEY=VALUE[,KEY=VALUE...], got '\(pair)'")
            }
            let key = String(pair[..<equals])
            guard labels.updateValue(String(pair[pair.index(after: equals)...]), forKey: key) == nil else {
                throw ValidationError("--labels names '\(key)' twice")
            }
        }
        return labels
    }

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
                ]),
            ]),
            "node": .object(["id": .string(nodeID), "metadata": .object(metadata)]),
            "server_listener_resource_name_template": .string(serverListenerTemplate),
        ])
    }

    private var resolvedNodeID: String {
        nodeID ?? "proxyless~\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
    }

    /// `--xds-address`, else the admin server's host with the xDS port (bracketed if IPv6).
    private func resolvedXDSAddress() throws -> String {
        if let xdsAddress { return xdsAddress }
        let server = root.global.resolvedServer
        guard var host = URL(string: server)?.host, !host.isEmpty else {
            throw MeshctlError(.input, "cannot take the xDS host from server URL '\(server)'; give --xds-address")
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.contains(":") ? "[\(host)]:\(Self.defaultXDSPort)" : "\(host):\(Self.defaultXDSPort)"
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
