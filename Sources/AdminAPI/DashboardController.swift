import Hummingbird

/// The dashboard's page at `/ui/`: static files compiled into the binary (Assets/ui), served
/// with headers that keep it from being framed or made to run anything but its own script.
///
/// The files hold no data, so they are served without the admin token (see
/// `AdminAccessPolicy.isPublicAsset`); everything the page shows comes from `/api/v1/*`, which
/// it calls with the token the operator types in.
struct DashboardController: Sendable {
    /// The page's Content-Security-Policy: its own script, styles and API only; no inline
    /// script, no plugins, no framing (the rollback button must not be clickjacked).
    static let contentSecurityPolicy = [
        "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
        "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'none'",
        "frame-ancestors 'none'",
    ].joined(separator: "; ")

    func register(on router: Router<AdminRequestContext>) {
        // The router matches `/ui` and `/ui/` alike: the path tells them apart, and relative
        // links in the page (`app.js`) resolve only under `/ui/`.
        router.get("/ui") { request, _ -> Response in
            guard request.uri.path.hasSuffix("/") else { return Response(status: .movedPermanently, headers: [.location: "/ui/"]) }
            return try Self.serve("index.html", request: request)
        }
        router.get("/ui/{file}") { request, context -> Response in
            try Self.serve(context.parameters.get("file") ?? "", request: request)
        }
    }

    /// `ui/<file>` with the page's security headers, or 404.
    static func serve(_ file: String, request: Request) throws -> Response {
        guard !file.isEmpty, !file.contains("/"), let asset = EmbeddedAssets.asset("ui/" + file) else {
            throw AdminError.notFound("dashboard file \"\(file)\"")
        }
        var response = EmbeddedAssets.response(asset, request: request)
        response.headers[.contentSecurityPolicy] = contentSecurityPolicy
        response.headers[.init("X-Frame-Options")!] = "DENY"
        response.headers[.init("Referrer-Policy")!] = "no-referrer"
        return response
    }
}
