import Foundation
import Kubernetes
import MeshModel
import Storage

extension KubernetesConfigStore {
    /// Writes `change` through the API server and returns once the ledger has recorded it
    /// (bounded by `recordTimeout`).
    ///
    /// Expectations (`metadata.resourceVersion` as meshd numbers revisions) are checked against
    /// the recorded configuration with `ChangePlan`, as every store does; each object is then
    /// written with Kubernetes' own precondition, the `resourceVersion` of the object meshd read
    /// (so a change made in between, by kubectl or another replica, fails the write with 409
    /// instead of being overwritten). Objects are written one by one in the plan's order: the
    /// Kubernetes API has no transaction over several objects, so a refusal part-way leaves the
    /// objects before it written (and recorded); the error names them.
    public func write(_ change: ConfigWrite) async throws(StorageError) -> ChangeOutcome {
        var change = change
        if change.metadata.operation == .rollback {
            // Secrets are the API server's (kubectl's) to change: a rollback restores Istio
            // resources and leaves gateway credentials as they are.
            change.puts.removeAll { $0.resource.key.kind == .secret }
            change.deletes.removeAll { $0.key.kind == .secret }
        }
        for key in change.keys where key.kind == .canary {
            throw StorageError(
                code: .refused,
                message:
                    "\(key): canaries are not stored in the Kubernetes API yet (no canaries.meshd.io CRD); run them with --store sqlite or etcd",
                resource: key.description)
        }
        for key in change.keys where !ConfigKind.kubeServed.contains(key.kind) {
            throw StorageError(
                code: .refused,
                message:
                    "\(key): with --store kubernetes, gateway credentials are Kubernetes Secrets (kubectl create secret tls NAME -n NAMESPACE --cert=FILE --key=FILE); meshd's secret store is not used",
                resource: key.description)
        }
        // Objects are read and written in one version, so results compare like with like.
        for index in change.puts.indices {
            let kind = change.puts[index].resource.key.kind
            change.puts[index].resource.apiVersion = "\(kind.group)/\(ConfigKind.kubeVersion)"
        }
        let keys = change.keys
        let (existing, objects) = state.withLock { state in
            (
                Dictionary(uniqueKeysWithValues: keys.compactMap { key in state.ledger.mirror.records[key].map { (key, $0) } }),
                Dictionary(uniqueKeysWithValues: keys.compactMap { key in state.objects[key].map { (key, $0) } })
            )
        }
        let plan = try ChangePlan.plan(change, existing: existing, nextRevision: 0)
        guard !plan.isEmpty else { return ChangeOutcome(revision: state.withLock { $0.ledger.head }, results: plan.results) }
        let manager = FieldManager.name(for: change.metadata)
        var written: [ConfigKey: ConfigResource?] = [:]
        state.withLock { $0.writing += 1 }
        var failure: StorageError?
        do throws(StorageError) {
            for upsert in plan.upserts {
                let key = upsert.record.key
                let expected = change.puts.last { $0.resource.key == key }?.expected
                try await put(upsert.record.resource, object: objects[key], recorded: existing[key], expected: expected, manager: manager)
                written.updateValue(upsert.record.resource, forKey: key)
            }
            for key in plan.deletes {
                let expected = change.deletes.last { $0.key == key }?.expected
                let deleter = FieldManager(actor: change.metadata.actor, rolledBackTo: change.metadata.rolledBackTo)
                state.withLock { $0.deleters[key] = deleter }
                do {
                    try await delete(key, object: objects[key], recorded: existing[key], expected: expected)
                } catch {
                    state.withLock { _ = $0.deleters.removeValue(forKey: key) }
                    throw error
                }
                written.updateValue(nil, forKey: key)
            }
        } catch {
            failure = error
        }
        state.withLock { $0.writing -= 1 }
        wakeRecorder.publish(0)
        if var failure {
            if !written.isEmpty {
                let names = written.keys.sorted().map(\.description).joined(separator: ", ")
                failure.message +=
                    "; already written to the API server before it: \(names) (the Kubernetes API has no multi-object transaction; they stay, and are recorded)"
            }
            throw failure
        }
        await waitForRecord(written)
        return ChangeOutcome(revision: state.withLock { $0.ledger.head }, results: plan.results)
    }

    /// Creates or replaces one object. With an expectation, the object must still be as the
    /// ledger recorded it; without one, a stale local copy is read again and retried.
    private func put(
        _ resource: ConfigResource, object: IstioObject?, recorded: StoredConfig?, expected: WriteExpectation?, manager: String
    ) async throws(StorageError) {
        let key = resource.key
        var current = object
        if expected != nil, let current, current.resource != recorded?.resource {
            throw Self.changedSinceRecorded(key)
        }
        let query = [("fieldManager", manager), ("fieldValidation", "Strict")]
        for _ in 1...3 {
            do {
                if let version = current?.resourceVersion {
                    _ = try await api.request(
                        .PUT, key.kind.kubePath(key), query: query,
                        body: IstioObjectCodec.body(resource, resourceVersion: version, keeping: current?.otherMetadata ?? [:]),
                        what: "replace \(key)")
                } else {
                    _ = try await api.request(
                        .POST, key.kind.kubePath(namespace: key.namespace), query: query,
                        body: IstioObjectCodec.body(resource, resourceVersion: nil), what: "create \(key)")
                }
                return
            } catch  where error.status == 409 && expected == nil {
                // The local copy was behind the API server: read the object and try again.
                current = try await read(key)
            } catch {
                throw Self.storageError(error, key: key)
            }
        }
        throw StorageError(
            code: .conflict, message: "\(key) kept changing in the API server while meshd wrote it; nothing more was changed, try again",
            resource: key.description)
    }

    /// Deletes one object, with the recorded object's `resourceVersion` as precondition when the
    /// write expected a revision.
    private func delete(_ key: ConfigKey, object: IstioObject?, recorded: StoredConfig?, expected: WriteExpectation?) async throws(StorageError) {
        var body: String?
        if expected != nil {
            guard let object, object.resource == recorded?.resource else { throw Self.changedSinceRecorded(key) }
            let options: JSONValue = .object([
                "apiVersion": "v1", "kind": "DeleteOptions", "preconditions": .object(["resourceVersion": .string(object.resourceVersion)]),
            ])
            body = options.canonicalJSON()
        }
        do {
            _ = try await api.request(.DELETE, key.kind.kubePath(key), body: body, what: "delete \(key)")
        } catch  where error.status == 404 {
            return
        } catch {
            throw Self.storageError(error, key: key)
        }
    }

    /// The object as the API server holds it now, nil when absent.
    private func read(_ key: ConfigKey) async throws(StorageError) -> IstioObject? {
        do {
            let response = try await api.request(.GET, key.kind.kubePath(key), body: nil, what: "read \(key)")
            let body = try JSONValue.parse(json: response.body)
            guard let object = KubeObject(body: body) else { return nil }
            return IstioObjectCodec.decode(object, kind: key.kind)
        } catch let error as KubeAPIError where error.status == 404 {
            return nil
        } catch let error as KubeAPIError {
            throw Self.storageError(error, key: key)
        } catch {
            throw StorageError(code: .unavailable, message: "read \(key): the API server's answer is not JSON", cause: error)
        }
    }

    /// Waits until the ledger records each written key as written (bounded).
    private func waitForRecord(_ written: [ConfigKey: ConfigResource?]) async {
        let deadline = ContinuousClock.now + recordTimeout
        while ContinuousClock.now < deadline, !Task.isCancelled {
            let recorded = state.withLock { state in
                written.allSatisfy { key, resource in state.ledger.mirror.records[key]?.resource == resource }
            }
            if recorded { return }
            try? await Task.sleep(for: .milliseconds(2))
        }
        logger.warning(
            "written to the API server but not recorded in time; is a meshd replica holding the leader Lease?",
            metadata: ["resources": "\(written.keys.sorted().map(\.description))"])
    }

    static func changedSinceRecorded(_ key: ConfigKey) -> StorageError {
        StorageError(
            code: .conflict,
            message: "\(key) was changed in the API server after the revision you read; read it again and reapply your change; nothing was changed",
            resource: key.description, field: "metadata.resourceVersion")
    }

    /// A refusal by the API server as the admin API reports it: unreachable 503, a
    /// precondition or a concurrent writer 409, admission or validation refusals 422 with the
    /// API server's message.
    static func storageError(_ error: KubeAPIError, key: ConfigKey) -> StorageError {
        switch error.status {
        case 0, 429, 500...:
            StorageError(code: .unavailable, message: "the Kubernetes API server: \(error.message)", resource: key.description, cause: error)
        case 409:
            StorageError(
                code: .conflict, message: "\(key) changed in the API server while meshd wrote it: \(error.message)", resource: key.description,
                field: "metadata.resourceVersion")
        default:
            StorageError(code: .refused, message: "the Kubernetes API server refused it: \(error.message)", resource: key.description)
        }
    }
}
