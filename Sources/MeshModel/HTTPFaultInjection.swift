/// Istio's `HTTPFaultInjection`: delay or abort a share of a rule's requests, to test how
/// callers cope.
public struct HTTPFaultInjection: Sendable, Hashable {
    /// A fixed delay before forwarding.
    public struct Delay: Sendable, Hashable {
        /// The delay as a duration string (`5s`); parse with `IstioDuration`.
        public var fixedDelay: String
        /// The share of requests delayed, in percent (0–100, fractions allowed).
        public var percentage: Double
    }

    /// An error answered instead of forwarding.
    public struct Abort: Sendable, Hashable {
        /// What the caller gets.
        public enum Status: Sendable, Hashable {
            /// An HTTP status (200–599).
            case http(UInt32)
            /// A gRPC status code, by its number.
            case grpc(UInt32)
        }

        public var status: Status
        /// The share of requests aborted, in percent (0–100, fractions allowed).
        public var percentage: Double
    }

    public var delay: Delay?
    public var abort: Abort?

    public init(delay: Delay? = nil, abort: Abort? = nil) {
        self.delay = delay
        self.abort = abort
    }

    /// gRPC's status codes by the names Istio takes in `grpcStatus`.
    public static let grpcCodes: [String: UInt32] = [
        "OK": 0, "CANCELLED": 1, "UNKNOWN": 2, "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4, "NOT_FOUND": 5,
        "ALREADY_EXISTS": 6, "PERMISSION_DENIED": 7, "RESOURCE_EXHAUSTED": 8, "FAILED_PRECONDITION": 9, "ABORTED": 10,
        "OUT_OF_RANGE": 11, "UNIMPLEMENTED": 12, "INTERNAL": 13, "UNAVAILABLE": 14, "DATA_LOSS": 15, "UNAUTHENTICATED": 16,
    ]
}

extension HTTPFaultInjection {
    /// Istio's rules: a fault sets a delay or an abort (or both); a delay has a fixed delay of
    /// at least 1 ms (exponential delays are not supported); an abort sets exactly one of
    /// `httpStatus` (200–599) or `grpcStatus` (a gRPC code name); percentages are 0–100.
    init(reading r: FieldReader) throws(MeshModelError) {
        guard try r.object() != nil else { throw r.error("expected an object") }
        if try r["delay"].object() != nil {
            let d = r["delay"]
            if !d["exponentialDelay"].isAbsent {
                throw d["exponentialDelay"].error("exponential delays are not supported (Istio does not implement them)")
            }
            guard let fixed = try d["fixedDelay"].duration() else { throw d["fixedDelay"].error("required") }
            delay = Delay(fixedDelay: fixed, percentage: try Self.percentage(d))
        } else {
            delay = nil
        }
        if try r["abort"].object() != nil {
            let a = r["abort"]
            let set = ["httpStatus", "grpcStatus", "http2Error"].filter { !a[$0].isAbsent }
            guard set.count == 1 else { throw a.error("must set exactly one of httpStatus, grpcStatus") }
            let status: Abort.Status
            switch set[0] {
            case "httpStatus":
                guard let code = try a["httpStatus"].integer(in: 200...599, message: "must be an HTTP status between 200 and 599") else {
                    throw a["httpStatus"].error("required")
                }
                status = .http(UInt32(code))
            case "grpcStatus":
                let names = HTTPFaultInjection.grpcCodes.keys.sorted { (Self.grpcCodes[$0] ?? 0) < (Self.grpcCodes[$1] ?? 0) }
                guard let name = try a["grpcStatus"].oneOf(names, what: "gRPC status"), let code = Self.grpcCodes[name] else {
                    throw a["grpcStatus"].error("required")
                }
                status = .grpc(code)
            default:
                throw a["http2Error"].error("HTTP/2 error aborts are not supported (Envoy has no such fault)")
            }
            abort = Abort(status: status, percentage: try Self.percentage(a))
        } else {
            abort = nil
        }
        guard delay != nil || abort != nil else { throw r.error("must set delay or abort") }
    }

    /// `percentage.value` (0–100), else the deprecated integer `percent`, else 100 (Istio's
    /// default: every request).
    private static func percentage(_ r: FieldReader) throws(MeshModelError) -> Double {
        if let percentage = try r["percentage"].percent() { return percentage }
        if let percent = try r["percent"].integer(in: 0...100, message: "must be between 0 and 100") { return Double(percent) }
        return 100
    }
}
