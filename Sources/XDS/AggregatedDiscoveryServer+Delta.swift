import EnvoyAPI
import GRPCCore
import PushPipeline
import XDSCore

/// Delta (incremental) ADS: the same stream loop, limits, metrics, logging and shutdown as
/// state of the world, with a `DeltaStreamStateMachine` per stream. `system_version_info` is
/// the content version of the set the proxy holds of the type after the response (what state of
/// the world would send as `version_info` for that set).
extension AggregatedDiscoveryServer {
    public func deltaAggregatedResources(
        request: RPCAsyncSequence<Envoy_Service_Discovery_V3_DeltaDiscoveryRequest, any Error>,
        response: RPCWriter<Envoy_Service_Discovery_V3_DeltaDiscoveryResponse>,
        context: ServerContext
    ) async throws {
        let limits = self.limits
        let peer = try await authenticatedPeer(context)
        try await admit { connectionID, connectedAt, logger in
            try await serve(
                DeltaStreamStateMachine(streamID: connectionID, registry: types), requests: request, connectionID: connectionID,
                connectedAt: connectedAt, logger: logger, peer: peer,
                node: { $0.hasNode ? $0.node : nil },
                decode: { message in
                    try limits.checkNames(
                        message.resourceNamesSubscribe.count + message.resourceNamesUnsubscribe.count
                            + message.initialResourceVersions.count)
                    return Self.deltaInfo(message)
                },
                write: { try await response.write(Self.deltaMessage($0)) })
        }
    }

    static func deltaInfo(_ message: Envoy_Service_Discovery_V3_DeltaDiscoveryRequest) -> DeltaDiscoveryRequestInfo {
        DeltaDiscoveryRequestInfo(
            typeURL: message.typeURL, subscribe: message.resourceNamesSubscribe,
            unsubscribe: message.resourceNamesUnsubscribe, initialVersions: message.initialResourceVersions,
            responseNonce: message.responseNonce,
            errorDetail: message.hasErrorDetail ? errorText(message.errorDetail) : nil,
            nodeID: message.hasNode ? message.node.id : nil)
    }

    static func deltaMessage(_ info: DiscoveryResponseInfo) -> Envoy_Service_Discovery_V3_DeltaDiscoveryResponse {
        var message = Envoy_Service_Discovery_V3_DeltaDiscoveryResponse()
        message.typeURL = info.typeURL
        message.systemVersionInfo = info.versionInfo
        message.nonce = info.nonce
        message.resources = info.resources.map { resource in
            var wrapped = Envoy_Service_Discovery_V3_Resource()
            wrapped.name = resource.name
            wrapped.version = resource.version
            wrapped.resource = resource.payload
            return wrapped
        }
        message.removedResources = info.removedResources
        return message
    }
}
