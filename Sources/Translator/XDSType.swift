/// One xDS resource type as the push server treats it: its name for operators, how
/// state-of-the-world responses carry it, and (by its place in a registry) when it is pushed.
public struct XDSType: Sendable, Hashable {
    /// The type URL proxies subscribe with.
    public var typeURL: String
    /// The short name operators know (LDS, CDS, SDS…), used in logs, metrics and status.
    public var shortName: String
    /// Whether a state-of-the-world response carries the full set (omission = deletion) and an
    /// empty name list subscribes to everything. True for LDS and CDS; RDS, EDS and SDS are
    /// named and answered per name.
    public var fullState: Bool
    /// Whether a Delta stream withdraws (`removed_resources`) a resource of this type that no
    /// longer exists. False for SDS: a deleted credential stays with the gateways that hold it
    /// (as state of the world leaves it, omission not being deletion for named types), so
    /// deleting a secret by mistake does not take a listener's certificate away.
    public var withdrawsDeleted: Bool

    public init(typeURL: String, shortName: String, fullState: Bool, withdrawsDeleted: Bool = true) {
        self.typeURL = typeURL
        self.shortName = shortName
        self.fullState = fullState
        self.withdrawsDeleted = withdrawsDeleted
    }

    public static let cluster = XDSType(typeURL: TypeURL.cluster, shortName: "CDS", fullState: true)
    public static let endpoint = XDSType(typeURL: TypeURL.endpoint, shortName: "EDS", fullState: false)
    public static let listener = XDSType(typeURL: TypeURL.listener, shortName: "LDS", fullState: true)
    public static let route = XDSType(typeURL: TypeURL.route, shortName: "RDS", fullState: false)
    public static let secret = XDSType(typeURL: TypeURL.secret, shortName: "SDS", fullState: false, withdrawsDeleted: false)
}

/// The xDS types a push server serves, in push order.
///
/// The order is the make-before-break order (CDS, EDS, SDS, LDS, RDS: what a resource names is
/// sent before it: a gateway's listeners name the credentials SDS carries); a type is served,
/// ordered and reported from its entry here, with no change to the stream machines. Requests for a type not registered are answered empty.
public struct XDSTypeRegistry: Sendable {
    /// Every served type, in push order.
    public let pushOrder: [XDSType]
    private let byURL: [String: XDSType]

    /// A registry of `types`, pushed in the order given; a type URL may appear once.
    public init(_ types: [XDSType]) {
        var byURL: [String: XDSType] = [:]
        var ordered: [XDSType] = []
        for type in types where byURL[type.typeURL] == nil {
            byURL[type.typeURL] = type
            ordered.append(type)
        }
        self.pushOrder = ordered
        self.byURL = byURL
    }

    /// The types meshd's generators produce today (SDS for gateways' credentials only).
    public static let standard = XDSTypeRegistry([.cluster, .endpoint, .secret, .listener, .route])

    /// The entry for `typeURL`, or nil when it is not served.
    public func type(_ typeURL: String) -> XDSType? { byURL[typeURL] }

    /// Whether `typeURL` is served.
    public func serves(_ typeURL: String) -> Bool { byURL[typeURL] != nil }

    /// Whether state-of-the-world responses of `typeURL` carry the full set.
    public func isFullState(_ typeURL: String) -> Bool { byURL[typeURL]?.fullState ?? false }

    /// The short name of `typeURL`: its registered name, or the type URL itself.
    public func shortName(_ typeURL: String) -> String { byURL[typeURL]?.shortName ?? typeURL }
}
