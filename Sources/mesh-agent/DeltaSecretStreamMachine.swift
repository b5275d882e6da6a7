import EnvoyAPI

/// The incremental SDS protocol (DeltaSecrets) for one stream: what Envoy uses when an
/// `sds_config` says `api_type: DELTA_GRPC`.
///
/// Rules (xDS spec): subscriptions accumulate across requests; the first request's
/// `initial_resource_versions` say what Envoy already holds (after a reconnect), so an unchanged
/// secret is not re-sent; a response carries only secrets whose version differs from what Envoy
/// holds, and a subscribed name the agent does not serve is reported in `removed_resources`.
/// ACK, NACK and stale nonces as in the state-of-the-world machine; subscription changes in a
/// request are applied even when its nonce is stale.
struct DeltaSecretStreamMachine: Sendable {
    private var tracker: SecretResponseTracker
    private var started = false
    private var subscribed: Set<String> = []
    /// What Envoy holds, as far as this stream knows: name → version.
    private var held: [String: String] = [:]
    /// Subscribed names Envoy has been told do not exist.
    private var reportedMissing: Set<String> = []
    private var secrets: WorkloadSecrets?

    /// The version Envoy last accepted, nil before its first ACK.
    var ackedVersion: String? { tracker.ackedVersion }

    init(streamID: String) {
        self.tracker = SecretResponseTracker(streamID: streamID)
    }

    /// Handles one request from Envoy.
    mutating func receive(_ request: Envoy_Service_Discovery_V3_DeltaDiscoveryRequest) throws(SecretStreamError) -> [SecretStreamEvent] {
        try SecretStreamError.checkType(request.typeURL)
        var events: [SecretStreamEvent] = []
        // Subscription changes below apply even when the nonce is stale.
        if let answer = tracker.answer(nonce: request.responseNonce, error: request.hasErrorDetail ? request.errorDetail.message : nil) {
            events.append(answer)
        }
        if !started {
            started = true
            for (name, version) in request.initialResourceVersions { held[name] = version }
        }
        for name in request.resourceNamesUnsubscribe {
            subscribed.remove(name)
            held[name] = nil
            reportedMissing.remove(name)
        }
        subscribed.formUnion(request.resourceNamesSubscribe)
        try SecretStreamError.checkCount(subscribed.count)
        return events + respond()
    }

    /// Takes a new generation and sends what changed for the subscribed names.
    mutating func update(_ secrets: WorkloadSecrets) -> [SecretStreamEvent] {
        // A generation older than the one held (queued for the stream while a newer one was
        // handed to it directly) is stale: taking it would withdraw newer secrets.
        if let held = self.secrets, secrets.sequence < held.sequence { return [] }
        self.secrets = secrets
        return respond()
    }

    /// A response with what Envoy lacks, or nothing when it holds everything current (or no
    /// certificate has been issued yet: the subscription waits for it).
    private mutating func respond() -> [SecretStreamEvent] {
        guard let secrets else { return [] }
        var response = Envoy_Service_Discovery_V3_DeltaDiscoveryResponse()
        response.typeURL = WorkloadSecrets.typeURL
        var unknown: [String] = []
        for name in subscribed.sorted() {
            if let entry = secrets.entries[name] {
                guard held[name] != entry.version, let packed = try? secrets.packed(name) else { continue }
                var resource = Envoy_Service_Discovery_V3_Resource()
                resource.name = name
                resource.version = entry.version
                resource.resource = packed
                response.resources.append(resource)
                held[name] = entry.version
            } else if !reportedMissing.contains(name) {
                reportedMissing.insert(name)
                held[name] = nil
                unknown.append(name)
                response.removedResources.append(name)
            }
        }
        var events: [SecretStreamEvent] = unknown.isEmpty ? [] : [.unknownNames(unknown)]
        guard !response.resources.isEmpty || !response.removedResources.isEmpty else { return events }
        response.systemVersionInfo = secrets.version
        response.nonce = tracker.stamp(version: secrets.version)
        events.append(.sendDelta(response))
        return events
    }
}
