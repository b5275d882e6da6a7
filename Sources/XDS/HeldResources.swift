import PushPipeline
import Translator
import XDSCore

/// The resources a Delta client holds of one type, by name and version, with the version of
/// the whole set kept up to date as members come and go.
///
/// The set's version is the one state of the world would send for the same resources
/// (`ContentVersion.of`), so a proxy shows the same version whichever protocol it speaks; it is
/// summed member by member, so a response costs O(changes), not O(everything held).
struct HeldResources: Sendable {
    struct Member: Sendable {
        var version: String
        var digest: UInt64
    }

    private var members: [String: Member] = [:]
    private var digestSum: UInt64 = 0

    /// The version the client declared or was sent for `name`; nil when it holds none.
    func version(of name: String) -> String? { members[name]?.version }

    /// Whether the client holds `name`.
    func contains(_ name: String) -> Bool { members[name] != nil }

    /// The names held.
    var names: Dictionary<String, Member>.Keys { members.keys }

    /// How many resources are held.
    var count: Int { members.count }

    /// The version of the whole set.
    var version: String { ContentVersion.version(ofDigestSum: digestSum) }

    /// Records that the client holds `resource` (sent to it).
    mutating func insert(_ resource: XDSResource) {
        replace(resource.name, with: Member(version: resource.version, digest: resource.setDigest))
    }

    /// Records a resource the client says it already holds (`initial_resource_versions`).
    mutating func insert(name: String, version: String) {
        replace(name, with: Member(version: version, digest: ContentVersion.memberDigest(name: name, version: version)))
    }

    /// Forgets `name` (removed, or no longer subscribed to).
    mutating func remove(_ name: String) {
        if let old = members.removeValue(forKey: name) { digestSum &-= old.digest }
    }

    /// Keeps only the names `keep` accepts.
    mutating func keep(where keep: (String) -> Bool) {
        for name in members.keys.filter({ !keep($0) }) { remove(name) }
    }

    private mutating func replace(_ name: String, with member: Member) {
        if let old = members.updateValue(member, forKey: name) { digestSum &-= old.digest }
        digestSum &+= member.digest
    }
}
