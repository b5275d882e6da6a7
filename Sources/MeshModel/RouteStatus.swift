/// A Gateway API route's `status`, as the API defines it (`RouteStatus`): one entry per parent
/// meshd manages, each with its `Accepted` and `ResolvedRefs` conditions and the API's reasons.
///
/// meshd computes it with every configuration it builds (it is a function of the routes, the
/// ReferenceGrants and the registry), shows it on reads, and writes it to the API server when
/// Kubernetes is its store.
public struct RouteStatus: Sendable, Hashable {
    /// The controller name meshd writes in `status.parents[].controllerName`.
    public static let controllerName = "meshd.io/gateway-controller"

    /// One condition (`metav1.Condition` without its timestamps, which the writer adds).
    public struct Condition: Sendable, Hashable {
        /// `Accepted` or `ResolvedRefs`.
        public var type: String
        /// Whether the condition holds.
        public var isTrue: Bool
        /// The API's reason (`Accepted`, `NoMatchingParent`, `BackendNotFound`, `RefNotPermitted`…).
        public var reason: String
        /// What happened, for people.
        public var message: String

        public init(type: String, isTrue: Bool, reason: String, message: String) {
            self.type = type
            self.isTrue = isTrue
            self.reason = reason
            self.message = message
        }
    }

    /// The status for one parent.
    public struct Parent: Sendable, Hashable {
        /// The parent as the route names it.
        public var parentRef: GatewayRoute.ParentReference
        /// `Accepted` then `ResolvedRefs`.
        public var conditions: [Condition]

        public init(parentRef: GatewayRoute.ParentReference, conditions: [Condition]) {
            self.parentRef = parentRef
            self.conditions = conditions
        }

        /// The condition of `type`, if any.
        public func condition(_ type: String) -> Condition? { conditions.first { $0.type == type } }
    }

    /// One entry per parent meshd manages (Services), in `parentRefs` order.
    public var parents: [Parent]

    public init(parents: [Parent]) { self.parents = parents }

    /// The Kubernetes-shaped `status` object. `lastTransitionTime` is `since` (RFC 3339) for
    /// every condition; `observedGeneration` is `generation` when known.
    public func toJSONValue(since: String, generation: Int64? = nil) -> JSONValue {
        .object([
            "parents": .array(
                parents.map { parent in
                    var ref: [String: JSONValue] = [
                        "group": .string(parent.parentRef.group), "kind": .string(parent.parentRef.kind),
                        "name": .string(parent.parentRef.name),
                    ]
                    if let namespace = parent.parentRef.namespace { ref["namespace"] = .string(namespace) }
                    if let section = parent.parentRef.sectionName { ref["sectionName"] = .string(section) }
                    if let port = parent.parentRef.port { ref["port"] = .number(Double(port)) }
                    return .object([
                        "parentRef": .object(ref),
                        "controllerName": .string(Self.controllerName),
                        "conditions": .array(
                            parent.conditions.map { condition in
                                var object: [String: JSONValue] = [
                                    "type": .string(condition.type), "status": .string(condition.isTrue ? "True" : "False"),
                                    "reason": .string(condition.reason), "message": .string(condition.message),
                                    "lastTransitionTime": .string(since),
                                ]
                                if let generation { object["observedGeneration"] = .number(Double(generation)) }
                                return .object(object)
                            }),
                    ])
                })
        ])
    }
}
