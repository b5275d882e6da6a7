import MeshModel
import MeshTesting
import Storage
import Testing

@Suite struct ConfigMirrorTests {
    func record(_ name: String, revision: Int64) -> StoredConfig {
        StoredConfig(resource: StoreFixture.resource(name, weight: Int(revision)), revision: revision, createdRevision: revision)
    }

    @Test func deltaReachesBackOnlyAsFarAsTheLog() {
        var mirror = ConfigMirror()
        mirror.load([record("a", revision: 3)], revision: 10)
        mirror.apply(StoreFixture.key("b"), record: record("b", revision: 11), revision: 11)
        mirror.advance(to: 11)
        mirror.apply(StoreFixture.key("a"), record: nil, revision: 12)
        mirror.advance(to: 12)
        #expect(mirror.delta(after: 9) == nil)
        let delta = mirror.delta(after: 10)
        #expect(delta?.changes.count == 2)
        #expect(delta?.changes[StoreFixture.key("a")]! == nil)
        #expect(mirror.delta(after: 11)?.changes.keys.map(\.name) == ["a"])
        #expect(mirror.delta(after: 12)?.changes.isEmpty == true)
        #expect(mirror.delta(after: 13) == nil)
        #expect(mirror.snapshot.configs.map(\.key.name) == ["b"])
    }

    @Test func replayedEventsAreIgnored() {
        var mirror = ConfigMirror()
        mirror.load([], revision: 5)
        mirror.apply(StoreFixture.key("a"), record: record("a", revision: 4), revision: 4)
        #expect(mirror.records.isEmpty && mirror.log.isEmpty)
    }
}
