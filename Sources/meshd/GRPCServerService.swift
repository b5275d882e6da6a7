import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import ServiceLifecycle

/// Runs a gRPC server as a lifecycle service and logs its bound address as `KEY=HOST:PORT`.
struct GRPCServerService: Service {
    let server: GRPCServer<HTTP2ServerTransport.Posix>
    let name: String
    let addressKey: String
    let logger: Logger

    func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                let address = try await server.listeningAddress
                if let ipv4 = address?.ipv4 {
                    logger.info("\(name) listening \(addressKey)=\(MeshdCommand.display(ipv4.host)):\(ipv4.port)")
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
