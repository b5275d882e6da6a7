import Foundation

extension TokenAuthority {
    /// The JOSE header. Optional fields so a header lacking one still decodes and gets a precise refusal.
    struct Header: Codable {
        var alg: String?
        var typ: String?
        var kid: String?
        /// Extensions the verifier must understand (RFC 7515 §4.1.11); we understand none, so any is refused.
        var crit: [String]?
    }

    /// The claims, shaped like a Kubernetes projected service-account token so Istio agents and
    /// tooling read them unchanged.
    struct Claims: Codable {
        var iss: String?
        var sub: String?
        var aud: Audience?
        var iat: Double?
        var nbf: Double?
        var exp: Double?
        var kubernetes: Kubernetes?

        enum CodingKeys: String, CodingKey {
            case iss, sub, aud, iat, nbf, exp
            case kubernetes = "kubernetes.io"
        }
    }

    /// `aud` is a string or an array of strings (RFC 7519 §4.1.3); we always write an array.
    struct Audience: Codable {
        var values: [String]

        init(_ values: [String]) { self.values = values }

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let single = try? container.decode(String.self) {
                values = [single]
            } else {
                values = try container.decode([String].self)
            }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(values)
        }
    }

    /// The `kubernetes.io` claim: the workload's namespace and service account.
    struct Kubernetes: Codable {
        struct ServiceAccount: Codable {
            var name: String?
        }

        var namespace: String?
        var serviceaccount: ServiceAccount?
    }
}
