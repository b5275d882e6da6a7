import Hummingbird
import Testing

@testable import AdminAPI

/// The admin port's access rules as a pure function of one request's facts.
@Suite struct AdminAccessPolicyTests {
    let policy = AdminAccessPolicy(
        adminToken: "admin-secret", trustedAddresses: ["127.0.0.1", "::1"],
        allowedHostNames: ["meshd.mesh-system.svc", "Meshd.Example."])

    func status(_ request: AdminAccessPolicy.Request, _ policy: AdminAccessPolicy? = nil) -> Int {
        do {
            try (policy ?? self.policy).check(request)
            return 200
        } catch {
            return error.status.code
        }
    }

    func get(
        _ path: String = "/api/v1/config/vs", host: String? = "127.0.0.1:15014", origin: String? = nil,
        site: String? = nil, token: String? = nil, peer: String? = "127.0.0.1"
    ) -> AdminAccessPolicy.Request {
        .init(
            method: .get, path: path, host: host, origin: origin, fetchSite: site,
            authorization: token.map { "Bearer " + $0 }, peerIP: peer)
    }

    @Test func loopbackCallersNeedNoTokenOthersDo() {
        #expect(status(get()) == 200)
        #expect(status(get(peer: "::1")) == 200)
        #expect(status(get(peer: "10.0.0.9")) == 401)
        #expect(status(get(token: "admin-secret", peer: "10.0.0.9")) == 200)
        #expect(status(get(token: "wrong", peer: "10.0.0.9")) == 401)
    }

    /// The actor config history records: the token wins over the address.
    @Test func theCallerIsNamedForHistory() throws {
        let trusting = AdminAccessPolicy(adminToken: "admin-secret", trustedAddresses: ["127.0.0.1", "::1", "10.0.0.5"])
        #expect(try trusting.check(get()) == "loopback 127.0.0.1")
        #expect(try trusting.check(get(peer: "::1")) == "loopback ::1")
        #expect(try trusting.check(get(peer: "10.0.0.5")) == "trusted 10.0.0.5")
        #expect(try trusting.check(get(token: "admin-secret")) == "admin")
        #expect(try trusting.check(get(token: "admin-secret", peer: "10.0.0.9")) == "admin")
        #expect(try trusting.check(get(token: "wrong")) == "loopback 127.0.0.1")
        #expect(try trusting.check(get(peer: nil)) == "local")
    }

    @Test func mintingATokenNeedsTheAdminTokenEvenFromLoopback() {
        let mint = AdminAccessPolicy.Request(
            method: .post, path: "/api/v1/tokens", host: "127.0.0.1:15014",
            contentType: "application/json", peerIP: "127.0.0.1")
        #expect(status(mint) == 401)
        var withToken = mint
        withToken.authorization = "Bearer admin-secret"
        #expect(status(withToken) == 200)
        var optedIn = policy
        optedIn.allowTrustedTokenMinting = true
        #expect(status(mint, optedIn) == 200)
        // The opt-in covers trusted addresses only.
        var remote = mint
        remote.peerIP = "10.0.0.9"
        #expect(status(remote, optedIn) == 401)
        // Reading the root certificate stays open to loopback.
        #expect(status(get("/api/v1/ca/root")) == 200)
    }

    @Test func browserRequestsAreNeverTrustedByAddress() {
        #expect(status(get(origin: "http://127.0.0.1:15014")) == 401)
        #expect(status(get(site: "same-origin")) == 401)
        #expect(status(get(site: "none")) == 401)
        #expect(status(get("/debug/syncz", site: "none")) == 401)
        #expect(status(get(origin: "http://127.0.0.1:15014", token: "admin-secret")) == 200)
    }

    @Test func foreignOriginsAndCrossSiteRequestsAre403EvenWithTheToken() {
        for origin in ["http://evil.example", "null", "http://127.0.0.1:8080", "https://127.0.0.1:15014", "http://localhost:15014"] {
            #expect(status(get(origin: origin, token: "admin-secret")) == 403, "Origin \(origin)")
        }
        #expect(status(get(site: "cross-site", token: "admin-secret")) == 403)
        #expect(status(get(site: "same-site", token: "admin-secret")) == 403)
    }

    @Test func foreignHostNamesAre403() {
        for host in ["127.0.0.1.evil.example:15014", "evil.example", "127.1:15014", "localhost.evil.example", "[::1"] {
            #expect(status(get(host: host)) == 403, "Host \(host)")
            #expect(status(get(host: host, token: "admin-secret", peer: "10.0.0.9")) == 403, "Host \(host) with token")
        }
        for host in [
            "127.0.0.1:15014", "127.0.0.2", "localhost:15014", "LOCALHOST", "[::1]:15014", "10.1.2.3:15014",
            "[fd00::7]:15014", "meshd.mesh-system.svc:15014", "meshd.example", "MESHD.EXAMPLE.:15014",
        ] {
            #expect(status(get(host: host)) == 200, "Host \(host)")
        }
        // No Host at all (HTTP/1.0, in-process clients) is no browser.
        #expect(status(get(host: nil)) == 200)
        let any = AdminAccessPolicy(adminToken: nil, trustedAddresses: ["127.0.0.1"], allowedHostNames: ["*"])
        #expect(status(get(host: "anything.example"), any) == 200)
    }

    @Test func probesAndScrapersAreOpenWhateverTheirHeaders() {
        for path in ["/healthz", "/ready", "/metrics"] {
            #expect(status(get(path, host: "10.1.2.3:15014", peer: "10.9.9.9")) == 200)
            #expect(status(get(path, host: "prometheus-target.example", origin: "http://evil.example", peer: "10.9.9.9")) == 200)
        }
    }

    @Test func bodiesMustBeDeclaredYAMLOrJSON() {
        func post(_ path: String, _ contentType: String?, method: HTTPRequest.Method = .post) -> Int {
            status(.init(method: method, path: path, host: "127.0.0.1:15014", contentType: contentType, peerIP: "127.0.0.1"))
        }
        for type in [
            "application/yaml", "application/x-yaml", "text/yaml", "application/json",
            "application/json; charset=utf-8", "Application/YAML",
        ] {
            #expect(post("/api/v1/apply", type) == 200, "\(type)")
        }
        for type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "", "yaml"] {
            #expect(post("/api/v1/apply", type) == 415, "\(type)")
        }
        #expect(post("/api/v1/apply", nil) == 415)
        #expect(post("/api/v1/delete", "text/plain") == 415)
        #expect(post("/api/v1/registry/workloads/default/vm", "text/plain", method: .put) == 415)
        #expect(post("/api/v1/config/vs/default/x", nil, method: .delete) == 200)
    }
}
