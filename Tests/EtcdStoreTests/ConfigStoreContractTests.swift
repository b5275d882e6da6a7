import Foundation
import Storage
import Testing

/// The same contract against the embedded SQLite store and the etcd store.
@Suite struct ConfigStoreContractTests {
    @Test func sqliteStoreKeepsTheContract() async throws {
        for check in ConfigStoreContract.checks {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshd-contract-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            try await check.run(try SQLiteConfigStore(directory: directory))
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
