import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MeshModel
import MeshTesting
import Prometheus
import PushPipeline
import Storage
import Testing
import XDSCore

@testable import AdminAPI

/// The dashboard page and the exact requests it makes: the page is served to anyone who may
/// reach the port (it holds no data), framing and foreign script are refused, and every API call
/// the page makes — reads and the rollback alike — needs the admin token, loopback or not.
@Suite struct DashboardTests {
    static let adminToken = "dashboard-test-token"
    /// What Chromium sends for the page's own calls to meshd on 127.0.0.1:15000.
    static let host = "127.0.0.1:15000"
    static let origin = "http://127.0.0.1:15000"
    /// Hummingbird's in-process test client always names `localhost` as the authority.
    static let testOrigin = "http://localhost"

    func withApp(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let router = AdminRouter.make(
            AdminDependencies(
                store: InMemoryConfigStore(), publisher: PushContextPublisher(), statuses: ProxyStatusRegistry(),
                metrics: PrometheusCollectorRegistry(), logger: Logger(label: "test"), adminToken: Self.adminToken, generators: .testing))
        try await Application(router: router).test(.router, body)
    }

    static func browser(_ site: String, token: String? = nil, origin: Bool = false, json: Bool = false) -> HTTPFields {
        var headers: HTTPFields = [:]
        headers[HTTPField.Name("Sec-Fetch-Site")!] = site
        if origin { headers[.origin] = testOrigin }
        if json { headers[.contentType] = "application/json" }
        if let token { headers[.authorization] = "Bearer \(token)" }
        return headers
    }

    @Test func thePageIsServedWithItsSecurityHeaders() async throws {
        try await withApp { client in
            // A navigation typed into the address bar: Sec-Fetch-Site: none, no token.
            let page = try await client.execute(uri: "/ui/", method: .get, headers: Self.browser("none"))
            #expect(page.status == .ok)
            #expect(page.headers[.contentType] == "text/html; charset=utf-8")
            let policy = page.headers[.contentSecurityPolicy] ?? ""
            #expect(policy.contains("default-src 'self'"))
            #expect(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"))
            #expect(policy.contains("frame-ancestors 'none'"))
            #expect(page.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
            #expect(page.headers[.eTag] != nil)
            let html = String(buffer: page.body)
            #expect(html.contains(#"<script src="render.js" defer></script>"#) && html.contains(#"<script src="app.js" defer></script>"#))
            // No inline script and no inline handlers: the CSP would block them anyway.
            #expect(html.components(separatedBy: "<script").count == 3)
            #expect(html.range(of: #"\son[a-z]+\s*="#, options: .regularExpression) == nil)

            for file in ["app.js", "render.js", "app.css"] {
                let asset = try await client.execute(uri: "/ui/\(file)", method: .get, headers: Self.browser("same-origin"))
                #expect(asset.status == .ok, "\(file)")
                #expect(asset.headers[.contentSecurityPolicy] == DashboardController.contentSecurityPolicy)
            }
            for file in ["app.js", "render.js"] {
                let js = try await client.execute(uri: "/ui/\(file)", method: .get, headers: Self.browser("same-origin"))
                let text = String(buffer: js.body)
                #expect(
                    !text.contains("innerHTML") && !text.contains("outerHTML") && !text.contains("insertAdjacentHTML"),
                    "\(file) renders with textContent only")
            }
        }
    }

    @Test func slashlessPathRedirectsAndUnknownFilesAre404() async throws {
        try await withApp { client in
            let redirect = try await client.execute(uri: "/ui", method: .get)
            #expect(redirect.status == .movedPermanently)
            #expect(redirect.headers[.location] == "/ui/")
            #expect(try await client.execute(uri: "/ui/nope.js", method: .get).status == .notFound)
            // A path that leaves /ui must not borrow its openness.
            let escaped = try await client.execute(uri: "/ui/../api/v1/overview", method: .get, headers: Self.browser("none"))
            #expect(escaped.status != .ok)
        }
    }

    @Test func crossSiteLoadsOfThePageAreRefused() async throws {
        try await withApp { client in
            let crossSite = try await client.execute(uri: "/ui/", method: .get, headers: Self.browser("cross-site"))
            #expect(crossSite.status == .forbidden)
            var foreign = Self.browser("same-origin")
            foreign[.origin] = "http://evil.example"
            let foreignOrigin = try await client.execute(uri: "/ui/app.js", method: .get, headers: foreign)
            #expect(foreignOrigin.status == .forbidden)
        }
    }

    @Test func thePagesReadsNeedTheToken() async throws {
        try await withApp { client in
            for path in ["/api/v1/overview", "/api/v1/events"] {
                let refused = try await client.execute(uri: path, method: .get, headers: Self.browser("same-origin"))
                #expect(refused.status == .unauthorized, "\(path)")
                #expect(String(buffer: refused.body).contains("unauthenticated"))
            }
            let read = try await client.execute(
                uri: "/api/v1/overview", method: .get,
                headers: Self.browser("same-origin", token: Self.adminToken))
            #expect(read.status == .ok)
            let overview = try JSONValue.parse(json: String(buffer: read.body))
            #expect(overview["services"] == .array([]))
            #expect(overview["proxies"] == .array([]))
        }
    }

    @Test func thePagesWritesNeedTheTokenEvenFromLoopback() async throws {
        try await withApp { client in
            let body = ByteBuffer(string: #"{"toRevision": 1}"#)
            // fetch() POSTs same-origin with Origin and Sec-Fetch-Site: same-origin.
            for path in ["/api/v1/rollback", "/api/v1/apply"] {
                let refused = try await client.execute(
                    uri: path, method: .post,
                    headers: Self.browser("same-origin", origin: true, json: true), body: body)
                #expect(refused.status == .unauthorized, "\(path)")
                let wrong = try await client.execute(
                    uri: path, method: .post,
                    headers: Self.browser("same-origin", token: "guess", origin: true, json: true), body: body)
                #expect(wrong.status == .unauthorized, "\(path)")
            }
            // With the token a browser's apply goes through (JSON body, as the page would send).
            let apply = try await client.execute(
                uri: "/api/v1/apply", method: .post, headers: Self.browser("same-origin", token: Self.adminToken, origin: true, json: true),
                body: ByteBuffer(
                    string:
                        #"{"apiVersion":"networking.istio.io/v1","kind":"DestinationRule","metadata":{"name":"r","namespace":"default"},"spec":{"host":"r"}}"#
                ))
            #expect(apply.status == .ok)
        }
    }

    /// The rollback call exactly as the page makes it, against the policy alone (the route is
    /// the history branch's): every browser-shaped variant without the token is refused.
    @Test func theRollbackRequestAsThePageSendsIt() throws {
        let policy = AdminAccessPolicy(adminToken: Self.adminToken, trustedAddresses: ["127.0.0.1", "::1"])
        func request(token: String?, origin: String? = Self.origin, site: String? = "same-origin", peer: String = "127.0.0.1")
            -> AdminAccessPolicy.Request
        {
            AdminAccessPolicy.Request(
                method: .post, path: "/api/v1/rollback", host: Self.host, origin: origin, fetchSite: site,
                authorization: token.map { "Bearer \($0)" }, contentType: "application/json", peerIP: peer)
        }
        func status(_ request: AdminAccessPolicy.Request) -> HTTPResponse.Status? {
            do {
                try policy.check(request)
                return nil
            } catch { return error.status }
        }
        #expect(status(request(token: Self.adminToken)) == nil)
        #expect(status(request(token: nil)) == .unauthorized)
        #expect(status(request(token: nil, site: nil)) == .unauthorized, "Origin alone marks a browser")
        #expect(status(request(token: nil, origin: nil)) == .unauthorized, "Sec-Fetch-Site alone marks a browser")
        #expect(status(request(token: Self.adminToken, origin: "http://evil.example")) == .forbidden)
        #expect(status(request(token: Self.adminToken, site: "cross-site")) == .forbidden)
        #expect(status(request(token: Self.adminToken, site: "same-site")) == .forbidden)
        // DNS rebinding: the page's own origin under a foreign name.
        var rebound = request(token: Self.adminToken, origin: "http://evil.example:15000")
        rebound.host = "evil.example:15000"
        #expect(status(rebound) == .forbidden)
        var reboundPage = AdminAccessPolicy.Request(method: .get, path: "/ui/", host: "evil.example:15000", fetchSite: "none", peerIP: "127.0.0.1")
        #expect(status(reboundPage) == .forbidden)
        reboundPage.host = Self.host
        #expect(status(reboundPage) == nil)
        // The page's static files, from another machine, need no token; its data does.
        let remoteAsset = AdminAccessPolicy.Request(method: .get, path: "/ui/app.js", host: Self.host, fetchSite: "same-origin", peerIP: "10.0.0.9")
        #expect(status(remoteAsset) == nil)
        let remoteData = AdminAccessPolicy.Request(
            method: .get, path: "/api/v1/overview", host: Self.host, fetchSite: "same-origin", peerIP: "10.0.0.9")
        #expect(status(remoteData) == .unauthorized)
        // Only reads of /ui are open.
        let post = AdminAccessPolicy.Request(method: .post, path: "/ui/", host: Self.host, peerIP: "10.0.0.9")
        #expect(status(post) == .unauthorized)
    }
}
