import EtcdAPI
import Foundation
import MeshModel
import Storage

extension EtcdConfigStore {
    /// Records where history begins, once per etcd keyspace (the first replica to start with
    /// history wins): changes before it were never recorded, so nothing older can be restored.
    func startHistory() async throws(StorageError) {
        var absent = Etcdserverpb_Compare()
        absent.key = keyspace.historyFloor
        absent.target = .create
        absent.result = .equal
        absent.createRevision = 0
        var request = Etcdserverpb_TxnRequest()
        request.compare = [absent]
        let revision = mirror.withLock { $0.revision }
        request.success = [EtcdClient.put(keyspace.historyFloor, Data(String(revision).utf8))]
        _ = try await client.txn(request, what: "start the config history")
    }

    /// Read from etcd, not the local copy: history is not mirrored.
    public func history(_ query: HistoryQuery) async throws(StorageError) -> HistoryPage {
        let (records, floor, _) = try await readHistory(withConfig: false)
        let items = records.reversed().filter { $0.touches(kind: query.kind, namespace: query.namespace, name: query.name) }
        return HistoryPage(items: Array(items.prefix(query.limit)), oldestRevision: floor)
    }

    /// Read from etcd in one transaction: the configuration and the records at one revision.
    public func historyWindow(after revision: Int64) async throws(StorageError) -> HistoryWindow {
        let (records, floor, snapshot) = try await readHistory(withConfig: true)
        return HistoryWindow(
            snapshot: snapshot ?? ConfigSnapshot(revision: 0, configs: []),
            records: records.filter { $0.revision > revision }, floor: floor)
    }

    /// Every history record (oldest first), the floor and, when asked, the configuration, read
    /// from etcd in one transaction (one revision): never from the local copy, which may lag.
    func readHistory(withConfig: Bool) async throws(StorageError) -> ([HistoryRecord], Int64, ConfigSnapshot?) {
        var history = Etcdserverpb_RangeRequest()
        history.key = keyspace.historyStart
        history.rangeEnd = keyspace.historyEnd
        var config = Etcdserverpb_RangeRequest()
        config.key = keyspace.configStart
        config.rangeEnd = keyspace.configEnd
        var ops = [EtcdClient.get(keyspace.historyFloor)]
        var historyOp = Etcdserverpb_RequestOp()
        historyOp.requestRange = history
        ops.append(historyOp)
        if withConfig {
            var configOp = Etcdserverpb_RequestOp()
            configOp.requestRange = config
            ops.append(configOp)
        }
        var request = Etcdserverpb_TxnRequest()
        request.success = ops
        let response = try await client.txn(request, what: "read the config history")
        guard response.responses.count == ops.count else {
            throw StorageError(code: .database, message: "etcd answered \(response.responses.count) of \(ops.count) history reads")
        }
        let floor = response.responses[0].responseRange.kvs.first.flatMap { Int64(String(decoding: $0.value, as: UTF8.self)) } ?? 0
        var records: [HistoryRecord] = []
        for kv in response.responses[1].responseRange.kvs {
            records.append(try HistoryCodec.decode(String(decoding: kv.value, as: UTF8.self), revision: kv.createRevision))
        }
        records.sort { $0.revision < $1.revision }
        var snapshot: ConfigSnapshot?
        if withConfig {
            var configs: [StoredConfig] = []
            for kv in response.responses[2].responseRange.kvs {
                guard let key = keyspace.configKey(kv.key) else { continue }
                configs.append(
                    StoredConfig(
                        resource: try EtcdKeyspace.decode(key, kv.value), revision: kv.modRevision,
                        createdRevision: kv.createRevision))
            }
            snapshot = ConfigSnapshot(revision: response.header.revision, configs: configs.sorted { $0.key < $1.key })
        }
        return (records, floor, snapshot)
    }
}
