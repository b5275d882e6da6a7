import Foundation
import Hummingbird

/// The admin port's static files (the dashboard, the OpenAPI document), compiled into the binary
/// by `scripts/embed-assets.sh` so a copied meshd serves them with no files beside it.
public enum EmbeddedAssets {
    /// One static file.
    public struct Asset: Sendable, Hashable {
        /// The `Content-Type` it is served with.
        public var contentType: String
        /// A strong validator: the first 16 hex digits of the bytes' SHA-256.
        public var etag: String
        /// The bytes.
        public var bytes: Data
    }

    /// Decoded once; the table is a few hundred KiB at most.
    private static let decoded: [String: Asset] = encoded.compactMapValues { entry in
        Data(base64Encoded: entry.base64).map { Asset(contentType: entry.contentType, etag: entry.etag, bytes: $0) }
    }

    /// The file at `path` relative to Sources/AdminAPI/Assets (e.g. `ui/index.html`), or nil.
    public static func asset(_ path: String) -> Asset? { decoded[path] }

    /// Every embedded path, sorted.
    public static var paths: [String] { decoded.keys.sorted() }

    /// A 200 with the asset, or a 304 when the caller's `If-None-Match` names its ETag. Assets
    /// change only with the binary, so caches must revalidate (`no-cache`) but may keep them.
    static func response(_ asset: Asset, request: Request) -> Response {
        let etag = "\"\(asset.etag)\""
        var headers: HTTPFields = [
            .contentType: asset.contentType, .eTag: etag, .cacheControl: "no-cache",
            .init("X-Content-Type-Options")!: "nosniff",
        ]
        if request.headers[.ifNoneMatch] == etag {
            headers[.contentType] = nil
            return Response(status: .notModified, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: asset.bytes)))
    }
}
