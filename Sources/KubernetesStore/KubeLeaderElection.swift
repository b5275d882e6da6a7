import Foundation
import Kubernetes
import Logging
import MeshModel
import ServiceLifecycle
import Synchronization

/// Leader election over a `coordination.k8s.io/v1` Lease, as client-go's leaderelection does it
/// (istiod elects its singleton controllers the same way): every replica keeps serving; the
/// holder of the Lease runs `work` — recording the history ledger and pruning it.
///
/// Defaults are client-go's: a 15 s lease, renewed every 2 s; a leader that cannot renew for
/// 10 s stops its work before its lease can lapse and another replica take over. A leader
/// that shuts down releases the Lease (empty holder), so the next one starts at once.
public final class KubeLeaderElection: Service, Sendable {
    let api: KubeAPIClient
    let namespace: String
    let name: String
    /// This replica's `holderIdentity`.
    public let identity: String
    let leaseDuration: Duration
    let renewDeadline: Duration
    let retryPeriod: Duration
    let logger: Logger
    let work: @Sendable () async -> Void
    private let leading = Atomic<Bool>(false)
    private let lastHolder = Mutex<String?>(nil)
    private let rules: Mutex<LeaseRules>

    /// An election for the Lease `namespace/name`; `work` runs while this replica holds it and
    /// is cancelled when it stops.
    public init(
        api: KubeAPIClient, namespace: String, name: String = "meshd-leader", identity: String, leaseDuration: Duration = .seconds(15),
        renewDeadline: Duration = .seconds(10), retryPeriod: Duration = .seconds(2), logger: Logger,
        work: @escaping @Sendable () async -> Void
    ) {
        self.api = api
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.leaseDuration = leaseDuration
        self.renewDeadline = renewDeadline
        self.retryPeriod = retryPeriod
        self.logger = logger
        self.work = work
        self.rules = Mutex(LeaseRules(identity: identity))
    }

    /// Whether this replica holds the Lease now.
    public var isLeader: Bool { leading.load(ordering: .relaxed) }

    /// The holder last seen (this replica or another), nil before the first read.
    public var holder: String? { lastHolder.withLock { $0 } }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                if await self.tryAcquireOrRenew() {
                    self.logger.notice(
                        "holding the leader Lease", metadata: ["lease": "\(self.namespace)/\(self.name)", "identity": "\(self.identity)"])
                    self.leading.store(true, ordering: .relaxed)
                    await self.lead()
                    self.leading.store(false, ordering: .relaxed)
                    self.logger.notice("stopped leading", metadata: ["lease": "\(self.namespace)/\(self.name)"])
                    // Not in this (cancelled) task: the release must still reach the API server.
                    if Task.isCancelled { await Task.detached { await self.release() }.value }
                }
                try? await Task.sleep(for: self.retryPeriod)
            }
        }
    }

    /// Runs `work` while renewals succeed within `renewDeadline`.
    private func lead() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.work() }
            group.addTask {
                var renewed = ContinuousClock.now
                while !Task.isCancelled {
                    try? await Task.sleep(for: self.retryPeriod)
                    if Task.isCancelled { return }
                    if await self.tryAcquireOrRenew() {
                        renewed = .now
                    } else if ContinuousClock.now - renewed > self.renewDeadline || self.holder != self.identity {
                        self.logger.warning("lost the leader Lease; stopping singleton work", metadata: ["identity": "\(self.identity)"])
                        return
                    }
                }
            }
            await group.next()
            group.cancelAll()
        }
    }

    /// One round of client-go's `tryAcquireOrRenew`: read the Lease, then create, renew or take
    /// it over as the rules say. Returns whether this replica holds it afterwards.
    private func tryAcquireOrRenew() async -> Bool {
        let path = "/apis/coordination.k8s.io/v1/namespaces/\(namespace)/leases"
        let now = Date()
        var lease: LeaseRecord?
        do {
            let response = try await api.request(.GET, "\(path)/\(name)", body: nil, what: "read the leader Lease")
            lease = try LeaseRecord(body: JSONValue.parse(json: response.body))
        } catch let error as KubeAPIError where error.status == 404 {
            lease = nil
        } catch {
            logger.debug("cannot read the leader Lease", metadata: ["error": "\(error)"])
            return false
        }
        let decision = rules.withLock { $0.decide(lease, now: .now) }
        let seconds = Int(leaseDuration.components.seconds)
        let stamp = LeaseRecord.microTime(now)
        let next: LeaseRecord
        switch decision {
        case .follow(let holder):
            lastHolder.withLock { $0 = holder }
            return false
        case .create:
            next = LeaseRecord(holder: identity, durationSeconds: seconds, acquireTime: stamp, renewTime: stamp, transitions: 0)
        case .renew:
            guard let lease else { return false }
            next = LeaseRecord(
                holder: identity, durationSeconds: seconds, acquireTime: lease.acquireTime, renewTime: stamp,
                transitions: lease.transitions, resourceVersion: lease.resourceVersion)
        case .takeOver:
            guard let lease else { return false }
            next = LeaseRecord(
                holder: identity, durationSeconds: seconds, acquireTime: stamp, renewTime: stamp, transitions: lease.transitions + 1,
                resourceVersion: lease.resourceVersion)
        }
        do {
            if decision == .create {
                _ = try await api.request(.POST, path, body: next.body(name: name, namespace: namespace), what: "create the leader Lease")
            } else {
                _ = try await api.request(.PUT, "\(path)/\(name)", body: next.body(name: name, namespace: namespace), what: "update the leader Lease")
            }
        } catch {
            // 409: another replica wrote it first; it is read again next round.
            logger.debug("leader Lease not taken", metadata: ["error": "\(error)"])
            return false
        }
        if decision == .takeOver { logger.notice("took over the leader Lease", metadata: ["from": "\(lease?.holder ?? "")"]) }
        lastHolder.withLock { $0 = identity }
        return true
    }

    /// Gives the Lease up on shutdown, as client-go's `ReleaseOnCancel`: an empty holder that any
    /// replica may take at once.
    private func release() async {
        let path = "/apis/coordination.k8s.io/v1/namespaces/\(namespace)/leases/\(name)"
        guard let response = try? await api.request(.GET, path, body: nil, what: "read the leader Lease"),
            let lease = try? LeaseRecord(body: JSONValue.parse(json: response.body)), lease.holder == identity
        else { return }
        let stamp = LeaseRecord.microTime(Date())
        let released = LeaseRecord(
            holder: "", durationSeconds: 1, acquireTime: stamp, renewTime: stamp, transitions: lease.transitions,
            resourceVersion: lease.resourceVersion)
        _ = try? await api.request(.PUT, path, body: released.body(name: name, namespace: namespace), what: "release the leader Lease")
    }
}
