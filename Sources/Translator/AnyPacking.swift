import Foundation
import SwiftProtobuf

/// Packs messages into `google.protobuf.Any` the one way meshd does it everywhere: deterministic
/// field and map ordering (equal messages give equal bytes, so content versions are stable) and
/// the standard `type.googleapis.com/` prefix.
enum AnyPacking {
    /// The deterministic encoding of `message`.
    static func bytes(_ message: some SwiftProtobuf.Message) -> Data {
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        // Encoding a fully built message in memory cannot fail; an empty payload would be NACKed visibly.
        return (try? message.serializedBytes(options: options) as Data) ?? Data()
    }

    /// `message` as an `Any`.
    static func pack(_ message: some SwiftProtobuf.Message) -> Google_Protobuf_Any {
        var any = Google_Protobuf_Any()
        any.typeURL = "type.googleapis.com/" + type(of: message).protoMessageName
        any.value = bytes(message)
        return any
    }
}
