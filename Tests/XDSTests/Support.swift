import MeshModel
import MeshTesting
import Translator
import XDSCore

@testable import PushPipeline
@testable import XDS

/// Builds a snapshot the way meshd does: parse, validate, build the PushContext, generate.
func snapshot(revision: Int64, _ texts: String...) throws -> ProxySnapshot {
    var inputs: [PushContextBuilder.Input] = []
    for text in texts {
        for resource in try ConfigDocumentParser.parse(text) {
            inputs.append(.init(key: resource.key, createdRevision: 1, config: try ConfigValidator.validate(resource)))
        }
    }
    return ProxySnapshot(proxy: Proxy(id: "test"), push: PushContextBuilder.build(revision: revision, inputs: inputs), table: .testing)
}

extension [StreamStateMachine.Event] {
    /// The responses among the events, in order.
    var sends: [DiscoveryResponseInfo] {
        compactMap { if case .send(let response) = $0 { response } else { nil } }
    }
}

let reviewsListener = "reviews.default.svc.cluster.local:9080"
let v1Cluster = "outbound|9080|v1|reviews.default.svc.cluster.local"
let v2Cluster = "outbound|9080|v2|reviews.default.svc.cluster.local"
let allCluster = "outbound|9080||reviews.default.svc.cluster.local"
