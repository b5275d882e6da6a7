import EtcdAPI
import GRPCCore
import Logging
import MeshModel
import ServiceLifecycle
import Storage

extension EtcdConfigStore: Service {
    /// Keeps the local copy current until graceful shutdown: a watch of the config range from
    /// the last revision seen (moving to the next member when its stream breaks, relisting when
    /// etcd has compacted past it), and a once-a-second quorum read that tells `health` whether
    /// etcd can commit writes.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.watchLoop() }
                group.addTask { await self.probeLoop() }
            }
        }
    }

    private struct Compacted: Error {}

    private func watchLoop() async {
        var failures = 0
        while !Task.isCancelled {
            let started = ContinuousClock.now
            do {
                try await watchOnce()
                failures += 1
            } catch is Compacted {
                logger.notice("etcd compacted past the watched revision; reading the whole config again")
                do {
                    try await relist()
                    broadcaster.publish(mirror.withLock { $0.revision })
                    continue
                } catch {
                    failures += 1
                }
            } catch {
                if Task.isCancelled { return }
                failures += 1
                logger.warning(
                    "etcd watch broken; resuming from the last revision seen",
                    metadata: [
                        "error": "\(error)", "revision": "\(mirror.withLock { $0.revision })",
                    ])
            }
            // A stream that ran for a while was healthy: start the backoff again from its floor.
            if ContinuousClock.now - started > .seconds(10) { failures = 1 }
            client.rotatePreferred()
            let delay = Duration.milliseconds(100 * (1 << min(failures, 5)))
            try? await Task.sleep(for: delay)
        }
    }

    /// One watch stream on the preferred member; returns when etcd ends it.
    private func watchOnce() async throws {
        let (grpc, _) = client.current
        var create = Etcdserverpb_WatchCreateRequest()
        create.key = keyspace.configStart
        create.rangeEnd = keyspace.configEnd
        create.startRevision = mirror.withLock { $0.revision } + 1
        var watch = Etcdserverpb_WatchRequest()
        watch.createRequest = create
        let request = watch
        let (done, finish) = AsyncStream<Void>.makeStream()
        var options = client.options()
        options.timeout = nil
        try await Etcdserverpb_Watch.Client(wrapping: grpc).watch(options: options) { writer in
            try await writer.write(request)
            // Keep the request side open as long as responses are read.
            for await _ in done {}
        } onResponse: { response in
            defer { finish.finish() }
            for try await message in response.messages {
                if message.compactRevision > 0 { throw Compacted() }
                if message.canceled {
                    throw StorageError(code: .unavailable, message: "etcd canceled the watch: \(message.cancelReason)")
                }
                self.receive(message.events)
            }
        }
    }

    /// Applies one watch response's events (one or more whole revisions) and tells subscribers.
    func receive(_ events: [Mvccpb_Event]) {
        guard let last = events.last?.kv.modRevision else { return }
        var undecodable: [String] = []
        mirror.withLock { mirror in
            for event in events {
                guard let key = keyspace.configKey(event.kv.key) else { continue }
                var record: StoredConfig?
                if event.type == .put {
                    do {
                        record = StoredConfig(
                            resource: try EtcdKeyspace.decode(key, event.kv.value),
                            revision: event.kv.modRevision, createdRevision: event.kv.createRevision)
                    } catch {
                        undecodable.append("\(key): \(error)")
                    }
                }
                mirror.apply(key, record: record, revision: event.kv.modRevision)
            }
            mirror.advance(to: last)
        }
        for problem in undecodable {
            logger.error("etcd holds a config value meshd cannot read; it is left out", metadata: ["error": "\(problem)"])
        }
        broadcaster.publish(last)
    }

    /// Once a second, a quorum read: etcd answering means writes can commit; not answering is
    /// a degradation (replicas keep serving the configuration they have).
    private func probeLoop() async {
        var degraded = false
        while !Task.isCancelled {
            var request = Etcdserverpb_RangeRequest()
            request.key = keyspace.configStart
            request.rangeEnd = keyspace.configEnd
            request.countOnly = true
            do {
                _ = try await client.range(request, what: "quorum probe", timeout: .seconds(2))
                if degraded {
                    degraded = false
                    health(nil)
                    logger.notice("etcd reachable with quorum again; writes accepted")
                }
            } catch {
                if Task.isCancelled { return }
                let revision = mirror.withLock { $0.revision }
                let message =
                    "etcd is unreachable or has no quorum (\(error.message)); serving the last configuration read (etcd revision \(revision)); config writes answer 503 until it returns"
                if !degraded { logger.error("\(message)") }
                degraded = true
                health(message)
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }
}
