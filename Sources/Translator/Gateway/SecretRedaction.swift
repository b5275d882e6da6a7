import EnvoyAPI
import Foundation
import SwiftProtobuf

/// What tools may show of a generated resource: the resource itself, except a `Secret`'s
/// private key, replaced by `[redacted]` as Envoy's own config dump does. Every place that
/// renders resources for people (`/debug/config_dump`, dry-run diffs, `meshctl proxy-config`)
/// goes through here.
public enum SecretRedaction {
    /// The bytes shown in place of a private key.
    public static let placeholder = Data("[redacted]".utf8)

    /// `resource`'s payload as it may be shown.
    public static func displayable(_ resource: XDSResource) -> Google_Protobuf_Any {
        guard resource.typeURL == TypeURL.secret,
            var secret = try? Envoy_Extensions_TransportSockets_Tls_V3_Secret(serializedBytes: resource.payload.value)
        else { return resource.payload }
        guard case .tlsCertificate = secret.type else { return resource.payload }
        secret.tlsCertificate.privateKey = Envoy_Config_Core_V3_DataSource()
        secret.tlsCertificate.privateKey.inlineBytes = placeholder
        return AnyPacking.pack(secret)
    }
}
