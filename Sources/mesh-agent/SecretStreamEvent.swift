import EnvoyAPI

/// What an SDS stream machine asks its server to do or log, in order.
enum SecretStreamEvent: Sendable, Equatable {
    /// Write this state-of-the-world response.
    case send(Envoy_Service_Discovery_V3_DiscoveryResponse)
    /// Write this incremental response.
    case sendDelta(Envoy_Service_Discovery_V3_DeltaDiscoveryResponse)
    /// Envoy accepted the response that carried `version`.
    case acked(version: String)
    /// Envoy rejected the response that carried `version`; it keeps what it had.
    case rejected(version: String, message: String)
    /// A request answered a nonce that is not the latest one sent: ignored (xDS spec).
    case ignoredStale(nonce: String)
    /// Envoy asked for names the agent does not serve; they are left out of every answer.
    case unknownNames([String])
}

/// A request the stream cannot serve; ends the stream with INVALID_ARGUMENT.
struct SecretStreamError: Error, Sendable, Equatable {
    let message: String

    /// The check both machines make: SDS serves one type, and a request naming another is a
    /// misconfigured client, not something to answer empty.
    static func checkType(_ typeURL: String) throws(SecretStreamError) {
        guard typeURL.isEmpty || typeURL == WorkloadSecrets.typeURL else {
            throw SecretStreamError(message: "this SDS server serves \(WorkloadSecrets.typeURL) only, not \(typeURL.prefix(200))")
        }
    }

    /// Names a stream may subscribe to at once: Envoy asks for one or two.
    static let maxNames = 64

    static func checkCount(_ count: Int) throws(SecretStreamError) {
        guard count <= maxNames else {
            throw SecretStreamError(message: "a stream may subscribe to at most \(maxNames) secrets, asked for \(count)")
        }
    }
}
