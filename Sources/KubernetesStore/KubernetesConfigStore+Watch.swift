import Kubernetes
import MeshModel
import ServiceLifecycle
import Storage

extension KubernetesConfigStore: Service {
    /// Lists and watches every kind's objects and the ledger until shutdown. The API client is
    /// shared (the election, the identity) and closed by its owner.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                for kind in ConfigKind.kubeServed {
                    group.addTask {
                        if kind.isOptionalOnKubernetes, await !self.awaitInstalled(kind) { return }
                        let watcher = KubeWatcher(collection: kind.kubeCollection, api: self.api)
                        await watcher.run(
                            apply: { effects in self.applyObjects(kind, effects) },
                            report: { report in self.note(kind.kubeCollection, report) })
                    }
                }
                if let credentials = self.credentials {
                    group.addTask {
                        let watcher = KubeWatcher(collection: Self.secretsCollection, api: self.api)
                        await watcher.run(
                            apply: { effects in self.applySecrets(effects, decode: credentials) },
                            report: { report in self.note(Self.secretsCollection, report) })
                    }
                }
                group.addTask {
                    let collection = LedgerCodec.collection(namespace: self.namespace)
                    let watcher = KubeWatcher(collection: collection, api: self.api)
                    await watcher.run(
                        apply: { effects in self.applyLedger(effects) }, report: { report in self.note(collection, report) })
                }
            }
        }
    }

    /// Waits until the API server serves `kind` (its CRD installed) and meshd may read it,
    /// asking every 30 seconds; false when cancelled first. A missing optional CRD is not a
    /// failing API server, nor is a ClusterRole from before meshd served the kind (an upgrade
    /// that has not applied the new install manifest yet): each is said once in the log.
    func awaitInstalled(_ kind: ConfigKind) async -> Bool {
        var announced: Int?
        while !Task.isCancelled {
            guard let response = try? await api.get(kind.kubeCollection.path, query: [("limit", "1")]) else {
                return true  // unreachable: the watcher reports it as any failure
            }
            guard response.status == 404 || response.status == 403 else { return true }
            if announced != response.status {
                if response.status == 404 {
                    logger.notice(
                        "the API server does not serve this kind (its CRD is not installed); watching for it",
                        metadata: ["collection": "\(kind.kubeCollection)"])
                } else {
                    logger.warning(
                        "meshd may not read this kind (its ClusterRole predates it: apply the install manifest again); watching for it",
                        metadata: ["collection": "\(kind.kubeCollection)"])
                }
                announced = response.status
            }
            try? await Task.sleep(for: .seconds(30))
        }
        return false
    }

    func applyObjects(_ kind: ConfigKind, _ effects: [ListWatchMachine.Effect]) {
        let problems: [(ConfigKey, String)] = state.withLock { state in
            var problems: [(ConfigKey, String)] = []
            for effect in effects {
                switch effect {
                case .upsert(let object):
                    let key = ConfigKey(kind: kind, namespace: object.key.namespace, name: object.key.name)
                    let decoded = IstioObjectCodec.decode(object, kind: kind, previous: state.objects[key])
                    state.objects[key] = decoded
                    if let problem = decoded.problem {
                        if state.problems.updateValue(problem, forKey: key) != problem { problems.append((key, problem)) }
                    } else {
                        state.problems.removeValue(forKey: key)
                    }
                case .delete(let object):
                    let key = ConfigKey(kind: kind, namespace: object.key.namespace, name: object.key.name)
                    state.objects.removeValue(forKey: key)
                    state.problems.removeValue(forKey: key)
                case .synced:
                    state.synced.insert(kind.kubeCollection.name)
                case .send, .wait:
                    break
                }
            }
            // A Gateway names credentials: which Secrets are recorded may change with it.
            if kind == .gateway, credentials != nil { Self.selectCredentials(&state) }
            return problems
        }
        for (key, problem) in problems {
            logger.warning("Istio object cannot be served; fix it in the API server", metadata: ["resource": "\(key)", "error": "\(problem)"])
        }
        wakeRecorder.publish(0)
    }

    func applyLedger(_ effects: [ListWatchMachine.Effect]) {
        var refused: [String] = []
        let moved: Int64? = state.withLock { state in
            var moved = false
            for effect in effects {
                switch effect {
                case .upsert(let object):
                    if let through = LedgerCodec.prunedThrough(object) {
                        state.ledger.pruned(through: through)
                        continue
                    }
                    do {
                        let entry = try LedgerCodec.readable(object)
                        state.entries.insert(entry.revision)
                        moved = state.ledger.receive(entry) || moved
                        for change in entry.record.changes where change.after == nil { state.deleters.removeValue(forKey: change.key) }
                    } catch {
                        refused.append("\(error)")
                    }
                case .delete(let object):
                    guard let revision = LedgerCodec.revision(name: object.key.name) else { continue }
                    state.entries.remove(revision)
                    state.ledger.forget(revision: revision)
                case .synced:
                    state.synced.insert(LedgerCodec.collection(namespace: namespace).name)
                case .send, .wait:
                    break
                }
            }
            return moved ? state.ledger.head : nil
        }
        for message in refused { logger.error("history ledger entry cannot be read; it is skipped", metadata: ["error": "\(message)"]) }
        if let moved { broadcaster.publish(moved) }
        wakeRecorder.publish(0)
    }

    func note(_ collection: KubeCollection, _ report: KubeWatcher.Report) {
        if Task.isCancelled { return }
        let message: String?? = state.withLock { state in
            switch report {
            case .failure(let message): state.failing[collection.name] = message
            case .watching: guard state.failing.removeValue(forKey: collection.name) != nil else { return .none }
            case .progress, .gone: return .none
            }
            guard !state.failing.isEmpty else { return .some(nil) }
            let failing = state.failing.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; ")
            return .some("the API server \(api.config.server) is failing (\(failing)); proxies keep the last configuration")
        }
        if case .failure(let failure) = report {
            logger.warning("kubernetes API request failed; retrying", metadata: ["collection": "\(collection)", "error": "\(failure)"])
        }
        if case .some(let message) = message { health(message) }
    }
}
