import AdminAPI
import ArgumentParser
import EnvoyAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import Storage
import XDS

/// meshd: the control plane. Wiring only — every behaviour lives in the library modules.
@main
struct MeshdCommand: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "meshd",
        abstract: "A service-mesh control plane: registry, translator and xDS push server.",
        version: version)

    @Option(name: .long, help: "Directory for the embedded SQLite store (default: /var/lib/meshd as root, else ~/.local/share/meshd; env MESHD_DATA_DIR).")
    var dataDir: String?

    @Option(name: .long, help: "Plaintext xDS gRPC port (0 picks a free port).")
    var grpcPort: Int = 15010

    @Option(name: .long, help: "Admin REST API, /metrics and /debug port (0 picks a free port).")
    var adminPort: Int = 15014

    @Option(name: .long, help: "Address to listen on.")
    var listenAddress: String = "0.0.0.0"

    @Option(name: .long, help: "Debounce: push once config has been quiet this long (e.g. 100ms, 1s).")
    var debounceAfter: String = "100ms"

    @Option(name: .long, help: "Debounce: push at the latest this long after the first change.")
    var debounceMax: String = "10s"

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String = "info"

    func run() async throws {
        var logger = Logger(label: "meshd")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        guard let quiet = DurationFlag.parse(debounceAfter), let maxDelay = DurationFlag.parse(debounceMax) else {
            throw ValidationError("--debounce-after and --debounce-max take durations like 100ms, 2s or 1m")
        }
        let directory = DataDirectory.resolve(dataDir)
        let store = try SQLiteConfigStore(directory: directory)
        let revision = try await store.currentRevision()
        logger.info("config store open", metadata: ["data_dir": "\(directory.path)", "revision": "\(revision)"])
        EnvoyTypes.registerForJSON()

        let prometheus = PrometheusCollectorRegistry()
        let metrics = XDSMetrics(registry: prometheus)
        let publisher = PushContextPublisher()
        let statuses = ProxyStatusRegistry()
        let debouncer = PushDebouncer(store: store, publisher: publisher, quiet: quiet, maxDelay: maxDelay,
                                      metrics: metrics, logger: logger)
        let ads = AggregatedDiscoveryServer(publisher: publisher, cache: SnapshotCache(), statuses: statuses,
                                            metrics: metrics, logger: logger)
        let grpc = GRPCServerService(
            server: GRPCServer(transport: .http2NIOPosix(address: .ipv4(host: listenAddress, port: grpcPort),
                                                         transportSecurity: .plaintext),
                               services: [ads]),
            logger: logger)

        let router = AdminRouter.make(AdminDependencies(store: store, publisher: publisher, statuses: statuses,
                                                        metrics: prometheus, logger: logger))
        let adminLogger = logger
        let admin = Application(
            router: router,
            configuration: .init(address: .hostname(listenAddress, port: adminPort), serverName: "meshd"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                adminLogger.info("admin API listening admin_address=\(Self.display(listenAddress)):\(port)")
            },
            logger: logger)

        let group = ServiceGroup(configuration: .init(
            services: [debouncer, grpc, admin],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
        logger.info("meshd stopped")
    }

    /// The address to print for a listener: a wildcard bind is reachable on loopback.
    static func display(_ address: String) -> String {
        address == "0.0.0.0" ? "127.0.0.1" : address
    }
}

/// Runs a gRPC server as a lifecycle service and logs its bound address.
struct GRPCServerService: Service {
    let server: GRPCServer<HTTP2ServerTransport.Posix>
    let logger: Logger

    func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                let address = try await server.listeningAddress
                if let ipv4 = address?.ipv4 {
                    logger.info("xDS gRPC server listening xds_address=\(MeshdCommand.display(ipv4.host)):\(ipv4.port)")
                }
            }
            try await withGracefulShutdownHandler {
                try await server.serve()
            } onGracefulShutdown: {
                server.beginGracefulShutdown()
            }
        }
    }
}
