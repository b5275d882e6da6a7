import Foundation

/// The answer to apply and delete: the store revision after the change and one result per resource.
struct MutationResponse: Decodable, Sendable {
    /// The config store revision after the request; absent if meshd omits it.
    let revision: Int64?
    /// One entry per resource in the request, in request order.
    let results: [ResourceResult]
    /// Non-fatal remarks from validation; printed to stderr as `Warning: ...`.
    let warnings: [String]

    private enum CodingKeys: String, CodingKey { case revision, results, warnings }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        revision = try container.decodeIfPresent(Int64.self, forKey: .revision)
        results = try container.decodeIfPresent([ResourceResult].self, forKey: .results) ?? []
        warnings = try container.decodeIfPresent([String].self, forKey: .warnings) ?? []
    }

    /// Decodes an answer body; the error says which answer could not be read.
    static func decode(_ data: Data, what: String) throws -> MutationResponse {
        do {
            return try JSONDecoder().decode(MutationResponse.self, from: data)
        } catch {
            throw MeshctlError(.badResponse, "cannot read \(what) from meshd", cause: error)
        }
    }
}
