import EtcdStore
import Foundation
import MeshTesting
import Storage
import Testing

/// The same contract against every store: the embedded SQLite store, the etcd store, and the
/// in-memory store the other tests rely on (so what they prove holds for the real stores).
@Suite struct ConfigStoreContractTests {
    @Test func sqliteStoreKeepsTheContract() async throws {
        for check in ConfigStoreContract.checks {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshd-contract-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            try await check.run(try SQLiteConfigStore(directory: directory))
        }
    }

    @Test func inMemoryStoreKeepsTheContract() async throws {
        for check in ConfigStoreContract.checks {
            try await check.run(InMemoryConfigStore())
        }
    }

    @Test(.enabled(if: EtcdTestMember.binary != nil, "etcd binary not found (apt-get install etcd-server, or set ETCD_BIN)"))
    func etcdStoreKeepsTheContract() async throws {
        try await EtcdTestMember.with { member in
            for check in ConfigStoreContract.checks {
                // Each check gets its own key prefix: an empty store on the shared member.
                try await withEtcdStore(member: member) { store, _ in try await check.run(store) }
            }
        }
    }
}
