import AdminAPI
import ArgumentParser
import CertificateAuthority
import EtcdStore
import Foundation
import Logging
import MeshCommon
import MeshModel
import PushPipeline
import ServiceLifecycle
import Storage
import XDS

/// What `--store` opened: the store, the identity, the services they need running and, for
/// replicas on etcd, the other replicas' proxies.
struct StoreContext {
    let store: any ConfigStore
    /// Where gateway credentials' key material is kept: the SQLite file, or etcd sealed.
    let vault: any CredentialVault
    let identity: MeshIdentity
    let services: [any Service]
    let peers: (any PeerProxyStatuses)?
    /// Whether the store holds its backend's configuration yet; the first push waits for it.
    var synced: @Sendable () -> Bool = { true }
    /// With `--store kubernetes`: what the elected replica's work needs.
    var kubernetes: KubernetesStoreParts? = nil
}

/// The etcd proxy-status share as the admin API's view of the other replicas.
struct EtcdPeers: PeerProxyStatuses {
    let share: EtcdProxyStatusShare
    var replicaID: String { share.replicaID }
    func peerEntries() async -> [JSONValue] { await share.peerEntries() }
}

extension MeshdCommand {
    /// Opens the config store and the identity `--store` names and runs `body` with them and the
    /// services the store needs running (the etcd watch, the proxy-status share); etcd
    /// connections close when it returns.
    ///
    /// `sqlite`: the embedded store and the identity files in the data directory. `etcd://…`:
    /// the shared store and the sealed cluster identity; needs `--kek-file`. `kubernetes`:
    /// Istio's objects in the API server (`withKubernetesStore`).
    /// `singletons` runs on one replica at a time: always on a lone SQLite meshd, on the
    /// elected replica on etcd.
    func withStore(
        directory: URL, health: ServingHealth, statuses: ProxyStatusRegistry, caMetrics: CAMetrics, singletons: SingletonWork,
        logger: Logger, _ body: (StoreContext) async throws -> Void
    ) async throws {
        let caDirectory = caDir.map { URL(fileURLWithPath: $0) }
        guard let retention = HistoryRetention.parse(historyRetention) else {
            throw ValidationError("--history-retention takes a count of revisions (1000) or an age (90m, 12h, 7d)")
        }
        guard storeSpec != "sqlite" else {
            let store = try SQLiteConfigStore(directory: directory, historyRetention: retention)
            let identity = try MeshIdentity.load(
                dataDirectory: directory, caDirectory: caDirectory,
                trustDomain: trustDomain, metrics: caMetrics, logger: logger)
            // One meshd, so it leads: its singleton work runs for as long as it does.
            let singleton = BackgroundService { await singletons.run() }
            try await body(StoreContext(store: store, vault: store, identity: identity, services: [singleton], peers: nil))
            return
        }
        if storeSpec == "kubernetes" {
            try await withKubernetesStore(
                directory: directory, retention: retention, health: health, statuses: statuses, caMetrics: caMetrics, logger: logger, body)
            return
        }
        let endpoints: [EtcdEndpoint]
        do {
            endpoints = try EtcdEndpoint.parse(storeURL: storeSpec)
        } catch {
            throw ValidationError(error.message)
        }
        guard let kekFile else {
            throw ValidationError(
                "--store \(storeSpec) needs --kek-file: the same 32-byte key on every replica (head -c 32 /dev/urandom > FILE; chmod 600 FILE)")
        }
        let kek: KeyEncryptionKey
        do {
            kek = try KeyEncryptionKey.load(path: kekFile)
        } catch {
            throw ValidationError(error.description)
        }
        let tls = try etcdTLS()
        guard let compaction = DurationSyntax.parse(etcdCompactionInterval, units: .withDays) else {
            throw ValidationError("--etcd-compaction-interval takes a duration like 5m (0s: off)")
        }
        let keyspace = EtcdKeyspace(prefix: etcdPrefix)
        try await EtcdClient.withClient(endpoints: endpoints, tls: tls) { client in
            let store = try await EtcdConfigStore(client: client, keyspace: keyspace, logger: logger) { trouble in
                health.set("etcd", trouble)
            }
            let identity = try await MeshIdentity.loadShared(
                client: client, keyspace: keyspace, kek: kek, dataDirectory: directory, caDirectory: caDirectory,
                trustDomain: trustDomain, metrics: caMetrics, logger: logger)
            let replica = replicaName ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())"
            let share = EtcdProxyStatusShare(client: client, keyspace: keyspace, replicaID: replica, logger: logger) {
                SynczEntries.local(statuses)
            }
            logger.info("replica on etcd", metadata: ["replica": "\(replica)", "endpoints": "\(endpoints)"])
            // Singleton work runs on the elected replica only: history pruning, etcd compaction
            // and whatever meshd adds (the canaries' driver).
            let pruner = EtcdHistoryPruner(client: client, keyspace: keyspace, retention: retention, interval: .seconds(60), logger: logger)
            let compactor = compaction > .zero ? EtcdCompactor(client: client, interval: compaction, logger: logger) : nil
            let election = EtcdElection(client: client, keyspace: keyspace, replicaID: replica, logger: logger) {
                await withDiscardingTaskGroup { group in
                    group.addTask { await pruner.run() }
                    if let compactor { group.addTask { await compactor.run() } }
                    group.addTask { await singletons.run() }
                }
            }
            let services: [any Service] = [store, share, election]
            let vault = EtcdCredentialVault(client: client, keyspace: keyspace, kek: kek)
            try await body(StoreContext(store: store, vault: vault, identity: identity, services: services, peers: EtcdPeers(share: share)))
        }
    }

    /// TLS to etcd from `--etcd-ca`, `--etcd-cert`, `--etcd-key`; nil (plaintext) when none is given.
    private func etcdTLS() throws -> EtcdTLS? {
        guard etcdCa != nil || etcdCert != nil || etcdKey != nil else { return nil }
        guard let etcdCa else { throw ValidationError("--etcd-cert and --etcd-key need --etcd-ca (the CA of etcd's certificates)") }
        guard (etcdCert == nil) == (etcdKey == nil) else { throw ValidationError("--etcd-cert and --etcd-key go together") }
        for file in [etcdCa, etcdCert, etcdKey].compactMap({ $0 }) where !FileManager.default.isReadableFile(atPath: file) {
            throw ValidationError("cannot read \(file)")
        }
        return EtcdTLS(caFile: etcdCa, certificateFile: etcdCert, keyFile: etcdKey)
    }
}
