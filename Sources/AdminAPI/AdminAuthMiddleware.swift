import Crypto
import Foundation
import Hummingbird

/// Like istiod's debug port: callers from trusted addresses (loopback by default) are let in;
/// any other caller must present `Authorization: Bearer <admin token>` for every `/api` and
/// `/debug` call. `/ready` and `/metrics` stay open for probes and scrapers.
struct AdminAuthMiddleware: RouterMiddleware {
    typealias Context = AdminRequestContext

    let adminToken: String?
    let trustedAddresses: Set<String>

    static let openPaths: Set<String> = ["/ready", "/metrics"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.openPaths.contains(request.uri.path) || isTrusted(context) {
            return try await next(request, context)
        }
        guard let adminToken, let header = request.headers[.authorization], header.hasPrefix("Bearer "),
              Self.constantTimeEqual(String(header.dropFirst("Bearer ".count)), adminToken)
        else {
            throw AdminError(code: "unauthenticated", status: .unauthorized,
                             message: "callers from \(context.remoteAddress?.ipAddress ?? "an unknown address") must present the admin token (Authorization: Bearer ...; meshd writes it to DATA_DIR/admin-token)")
        }
        return try await next(request, context)
    }

    private func isTrusted(_ context: Context) -> Bool {
        // A test client without a socket (Hummingbird's router test mode) has no address: trusted.
        guard let address = context.remoteAddress else { return true }
        guard let ip = address.ipAddress else { return true }  // unix socket: local by definition
        return trustedAddresses.contains(ip)
    }

    /// Compares digests so the comparison time does not depend on where the strings differ.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = SHA256.hash(data: Data(a.utf8)), y = SHA256.hash(data: Data(b.utf8))
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
