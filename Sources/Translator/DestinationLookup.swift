import Discovery

/// What resolving a route destination needs: the services one proxy (or namespace) can see and
/// the DestinationRule it sees for a host. `ProxyView` answers for a proxy;
/// `NamespaceLookup` for the namespace of a VirtualService (apply-time reference warnings).
public protocol DestinationLookup: Sendable {
    /// The visible service with `host`, nil when there is none or it is not visible.
    func service(_ host: String) -> Service?
    /// The DestinationRule that applies to `host`, nil when none does.
    func destinationRule(_ host: String) -> PushContext.DestinationRuleEntry?
}

/// The lookup of a namespace without any Sidecar: every service exported to it, and the
/// DestinationRule the namespace-aware lookup chooses.
public struct NamespaceLookup: DestinationLookup {
    public let push: PushContext
    public let namespace: String

    public init(push: PushContext, namespace: String) {
        self.push = push
        self.namespace = namespace
    }

    public func service(_ host: String) -> Service? {
        push.registry.service(host).flatMap { $0.isExported(to: namespace) ? $0 : nil }
    }

    public func destinationRule(_ host: String) -> PushContext.DestinationRuleEntry? {
        push.destinationRule(for: host, serviceNamespace: push.registry.service(host)?.namespace, from: namespace)
    }
}
