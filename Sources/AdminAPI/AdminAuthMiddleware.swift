import Hummingbird

/// Applies `AdminAccessPolicy` to every request: like istiod's debug port, callers from trusted
/// addresses (loopback by default) are let in without a token, except where the policy says
/// otherwise (browsers, foreign `Host`/`Origin`, token minting, body content types).
struct AdminAuthMiddleware: RouterMiddleware {
    typealias Context = AdminRequestContext

    let policy: AdminAccessPolicy

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let headers = request.headers
        var context = context
        // Who the caller is travels with the request, for the history record of a write.
        context.actor = try policy.check(
            AdminAccessPolicy.Request(
                method: request.method, path: request.uri.path, host: request.head.authority,
                origin: headers[.origin], fetchSite: headers.first { $0.name.canonicalName == "sec-fetch-site" }?.value,
                authorization: headers[.authorization],
                contentType: headers[.contentType],
                // A test client without a socket (Hummingbird's router test mode) and a Unix socket
                // have no IP address: both are local.
                peerIP: context.remoteAddress?.ipAddress))
        return try await next(request, context)
    }
}
