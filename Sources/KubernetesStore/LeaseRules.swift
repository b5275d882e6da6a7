import Foundation
import MeshModel

/// A `coordination.k8s.io/v1` Lease as leader election reads and writes it.
struct LeaseRecord: Sendable, Hashable {
    var holder: String
    var durationSeconds: Int
    var acquireTime: String
    var renewTime: String
    var transitions: Int
    /// The object's `resourceVersion`, the precondition of the next update.
    var resourceVersion: String?

    /// The Lease in `body`, nil when it has no spec.
    init?(body: JSONValue) {
        guard let spec = body["spec"] else { return nil }
        holder = spec["holderIdentity"]?.stringValue ?? ""
        durationSeconds = spec["leaseDurationSeconds"]?.intValue ?? 0
        acquireTime = spec["acquireTime"]?.stringValue ?? ""
        renewTime = spec["renewTime"]?.stringValue ?? ""
        transitions = spec["leaseTransitions"]?.intValue ?? 0
        resourceVersion = body["metadata"]?["resourceVersion"]?.stringValue
    }

    init(holder: String, durationSeconds: Int, acquireTime: String, renewTime: String, transitions: Int, resourceVersion: String? = nil) {
        self.holder = holder
        self.durationSeconds = durationSeconds
        self.acquireTime = acquireTime
        self.renewTime = renewTime
        self.transitions = transitions
        self.resourceVersion = resourceVersion
    }

    /// The Lease object `name` in `namespace` as JSON (with the precondition when it has one).
    func body(name: String, namespace: String) -> String {
        var metadata: [String: JSONValue] = ["name": .string(name), "namespace": .string(namespace)]
        if let resourceVersion { metadata["resourceVersion"] = .string(resourceVersion) }
        let object: JSONValue = .object([
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": .object(metadata),
            "spec": .object([
                "holderIdentity": .string(holder), "leaseDurationSeconds": .number(Double(durationSeconds)),
                "acquireTime": .string(acquireTime), "renewTime": .string(renewTime), "leaseTransitions": .number(Double(transitions)),
            ]),
        ])
        return object.canonicalJSON()
    }

    /// `MicroTime` as Kubernetes writes it: RFC 3339 in UTC with exactly six fractional digits.
    static func microTime(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        let micros = Int(((date.timeIntervalSince1970 - seconds) * 1_000_000).rounded(.down))
        let whole = Date(timeIntervalSince1970: seconds).formatted(.iso8601).dropLast()  // drop "Z"
        let digits = String(micros)
        return "\(whole).\(String(repeating: "0", count: max(0, 6 - digits.count)))\(digits)Z"
    }
}

/// client-go's leader-election rules, without I/O: who may take a Lease, judged by this
/// replica's own clock (the holder's times are only compared for change, never against the
/// local clock, so clock skew between replicas does not matter).
struct LeaseRules: Sendable {
    /// What to do with the Lease as read.
    enum Decision: Sendable, Hashable {
        /// None exists: create it, holding it.
        case create
        /// This replica holds it: renew it.
        case renew
        /// Its holder let it lapse (or released it): take it over.
        case takeOver
        /// Another replica holds it.
        case follow(holder: String)
    }

    /// This replica's identity (`holderIdentity`).
    let identity: String
    /// The record last seen and when it was first seen unchanged (this replica's clock).
    private(set) var observed: (record: LeaseRecord, at: ContinuousClock.Instant)?

    init(identity: String) {
        self.identity = identity
    }

    /// Decides on `lease` as read at `now`, remembering it.
    mutating func decide(_ lease: LeaseRecord?, now: ContinuousClock.Instant) -> Decision {
        guard let lease else {
            observed = nil
            return .create
        }
        // A changed holder or renew time starts the expiry clock again.
        if observed == nil || observed!.record.holder != lease.holder || observed!.record.renewTime != lease.renewTime {
            observed = (lease, now)
        } else {
            observed!.record = lease
        }
        if lease.holder == identity { return .renew }
        if lease.holder.isEmpty { return .takeOver }
        let duration = Duration.seconds(max(lease.durationSeconds, 1))
        return now - observed!.at > duration ? .takeOver : .follow(holder: lease.holder)
    }
}
