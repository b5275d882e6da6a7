import EnvoyAPI

/// The state-of-the-world SDS protocol (StreamSecrets) for one stream, as a value type: the
/// server feeds it requests and secret generations and performs the events it returns.
///
/// Rules (xDS spec, as Envoy speaks it for an `sds_config` over gRPC):
/// - every response carries a fresh nonce; a request answering an older nonce is stale and
///   ignored; the latest nonce without `error_detail` is an ACK, with it a NACK;
/// - a request without a nonce, or one that changes the names, is answered with every named
///   secret the agent serves; a request that only ACKs or NACKs is not answered (a NACKed
///   response is not re-sent: Envoy keeps its previous secret until the next rotation);
/// - before the first certificate nothing is answered; the request waits for it (Envoy holds its
///   listeners warming meanwhile, as with istio-agent);
/// - a new generation is pushed when a subscribed secret's content changed.
struct SecretStreamMachine: Sendable {
    private var tracker: SecretResponseTracker
    private var subscribed = false
    private var names: [String] = []
    private var secrets: WorkloadSecrets?
    /// The content versions the latest response carried.
    private var sentVersions: [String: String] = [:]
    /// Whether a request waits for the first certificate.
    private var waiting = false
    private var reportedUnknown: Set<String> = []

    /// The version Envoy last accepted, nil before its first ACK.
    var ackedVersion: String? { tracker.ackedVersion }

    init(streamID: String) {
        self.tracker = SecretResponseTracker(streamID: streamID)
    }

    /// Handles one request from Envoy.
    mutating func receive(_ request: Envoy_Service_Discovery_V3_DiscoveryRequest) throws(SecretStreamError) -> [SecretStreamEvent] {
        try SecretStreamError.checkType(request.typeURL)
        try SecretStreamError.checkCount(request.resourceNames.count)
        var events: [SecretStreamEvent] = []
        if let answer = tracker.answer(nonce: request.responseNonce, error: request.hasErrorDetail ? request.errorDetail.message : nil) {
            if case .ignoredStale = answer { return [answer] }
            events.append(answer)
        }
        let requested = Array(Set(request.resourceNames)).sorted()
        let changed = !subscribed || requested != names
        subscribed = true
        names = requested
        if request.responseNonce.isEmpty || changed {
            events += respond()
        }
        return events
    }

    /// Takes a new generation; pushes it when a subscribed secret changed.
    mutating func update(_ secrets: WorkloadSecrets) -> [SecretStreamEvent] {
        // A generation older than the one held (queued for the stream while a newer one was
        // handed to it directly) is stale: taking it would withdraw newer secrets.
        if let held = self.secrets, secrets.sequence < held.sequence { return [] }
        self.secrets = secrets
        guard subscribed else { return [] }
        if waiting { return respond() }
        let current = Dictionary(uniqueKeysWithValues: names.compactMap { name in secrets.entries[name].map { (name, $0.version) } })
        return current == sentVersions ? [] : respond()
    }

    /// The response for the subscribed names, or nothing while no certificate is held.
    private mutating func respond() -> [SecretStreamEvent] {
        guard let secrets else {
            waiting = true
            return []
        }
        waiting = false
        var events: [SecretStreamEvent] = []
        let unknown = names.filter { secrets.entries[$0] == nil && !reportedUnknown.contains($0) }
        if !unknown.isEmpty {
            reportedUnknown.formUnion(unknown)
            events.append(.unknownNames(unknown))
        }
        var response = Envoy_Service_Discovery_V3_DiscoveryResponse()
        response.typeURL = WorkloadSecrets.typeURL
        response.versionInfo = secrets.version
        sentVersions = [:]
        for name in names {
            guard let entry = secrets.entries[name], let packed = try? secrets.packed(name) else { continue }
            response.resources.append(packed)
            sentVersions[name] = entry.version
        }
        response.nonce = tracker.stamp(version: response.versionInfo)
        events.append(.send(response))
        return events
    }
}
