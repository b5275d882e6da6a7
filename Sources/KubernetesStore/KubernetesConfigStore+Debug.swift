import MeshModel

extension KubernetesConfigStore {
    /// What `/debug/ledger` shows of the store: the ledger's head, floor and entries, what is
    /// watched and failing, and the objects meshd cannot serve, with why.
    public func debugStatus() -> JSONValue {
        state.withLock { state in
            let failing: [String: JSONValue] = state.failing.mapValues { .string($0) }
            return .object([
                "enabled": true,
                "namespace": .string(namespace),
                "head": .number(Double(state.ledger.head)),
                "floor": .number(Double(state.ledger.floor)),
                "prunedThrough": .number(Double(state.ledger.prunedThrough)),
                "entries": .number(Double(state.entries.count)),
                "objects": .number(Double(state.objects.count)),
                "credentials": .number(Double(state.credentials.count)),
                "synced": .array(state.synced.sorted().map(JSONValue.string)),
                "failing": .object(failing),
                "problems": .array(
                    state.problems.sorted { $0.key < $1.key }.map {
                        .object(["resource": .string($0.key.description), "problem": .string($0.value)])
                    }),
            ])
        }
    }
}
