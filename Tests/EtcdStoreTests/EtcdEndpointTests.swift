import Storage
import Testing

@testable import EtcdStore

@Suite struct EtcdEndpointTests {
    @Test func storeURLsNameOneOrMoreMembers() throws {
        #expect(try EtcdEndpoint.parse(storeURL: "etcd://127.0.0.1:2379") == [EtcdEndpoint(host: "127.0.0.1", port: 2379)])
        #expect(
            try EtcdEndpoint.parse(storeURL: "etcd://a:1,b,[::1]:3") == [
                EtcdEndpoint(host: "a", port: 1), EtcdEndpoint(host: "b", port: 2379), EtcdEndpoint(host: "::1", port: 3),
            ])
        for bad in ["sqlite3", "etcd://", "etcd://a:0", "etcd://a:x", "etcd://a:1,,b:2", "etcd://[::1"] {
            #expect(throws: StorageError.self, "\(bad)") { try EtcdEndpoint.parse(storeURL: bad) }
        }
    }
}
