/// What a proxy subscribes to in one xDS type: every resource (a wildcard LDS or CDS
/// subscription), or the names it asked for.
public enum ResourceSubscription: Sendable, Hashable {
    /// Every resource of the type.
    case all
    /// Only these names.
    case names(Set<String>)

    /// Whether `name` is subscribed.
    public func contains(_ name: String) -> Bool {
        switch self {
        case .all: true
        case .names(let names): names.contains(name)
        }
    }
}
