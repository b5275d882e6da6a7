import Foundation

/// The answer to `POST /api/v1/apply?dryRun=true`: what would happen to each resource, the
/// warnings, and which connected proxies would receive which resources (docs/admin-api.md).
struct DryRunAnswer: Decodable, Sendable {
    /// One proxy the change would send something.
    struct Impact: Decodable, Sendable {
        struct Resource: Decodable, Sendable {
            let type: String
            let name: String
            /// `added`, `modified` or `removed`.
            let change: String?
        }

        let proxy: String
        let kind: String?
        let resources: [Resource]
    }

    /// A proxy whose impact meshd could not work out.
    struct Incomplete: Decodable, Sendable {
        let proxy: String
        let reason: String
    }

    struct ProxyDiff: Decodable, Sendable {
        let proxy: String
        let diff: String
    }

    let results: [ResourceResult]
    let warnings: [String]
    let impact: [Impact]
    let incomplete: [Incomplete]
    let proxyDiff: ProxyDiff?

    private enum CodingKeys: String, CodingKey { case results, warnings, impact, impactIncomplete, proxyDiff }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        results = try container.decodeIfPresent([ResourceResult].self, forKey: .results) ?? []
        warnings = try container.decodeIfPresent([String].self, forKey: .warnings) ?? []
        impact = try container.decodeIfPresent([Impact].self, forKey: .impact) ?? []
        incomplete = try container.decodeIfPresent([Incomplete].self, forKey: .impactIncomplete) ?? []
        proxyDiff = try container.decodeIfPresent(ProxyDiff.self, forKey: .proxyDiff)
    }

    static func decode(_ data: Data) throws -> DryRunAnswer {
        do {
            return try JSONDecoder().decode(DryRunAnswer.self, from: data)
        } catch {
            throw MeshctlError(.badResponse, "cannot read the dry run's answer from meshd", cause: error)
        }
    }

    /// One line per affected proxy, its node id first, then its resources
    /// (`NODE-ID  Cluster outbound|9080|v2|reviews..., RouteConfiguration 9080`); an added or
    /// removed resource says so. A line saying so when no proxy is affected.
    var impactText: String {
        guard !impact.isEmpty else { return "no connected proxy would receive a change\n" }
        return impact.map { proxy in
            proxy.proxy + "  "
                + proxy.resources.map { resource in
                    "\(resource.type) \(resource.name)" + (resource.change.flatMap { $0 == "modified" ? nil : " (\($0))" } ?? "")
                }.joined(separator: ", ") + "\n"
        }.joined()
    }

    /// The `--proxy` diff, or a line saying the proxy would receive nothing.
    var diffText: String {
        guard let proxyDiff else { return "" }
        return proxyDiff.diff.isEmpty ? "proxy \(proxyDiff.proxy) would receive no change\n" : proxyDiff.diff
    }
}
