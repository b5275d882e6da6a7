import EtcdAPI
import Foundation
import GRPCCore
import Storage

extension EtcdClient {
    /// A range read (linearizable unless the request says serializable), with failover.
    public func range(
        _ request: Etcdserverpb_RangeRequest, what: String,
        timeout: Duration? = nil
    ) async throws(StorageError) -> Etcdserverpb_RangeResponse {
        let options = options(timeout: timeout)
        return try await call(what) { grpc in
            try await Etcdserverpb_KV.Client(wrapping: grpc).range(request, options: options)
        }
    }

    /// One transaction, with failover. A transaction etcd may have committed before the
    /// connection broke is sent again to another member, so every write transaction meshd sends
    /// either carries compares that make a second run fail instead of writing twice, or is
    /// idempotent (a replica's own proxy-status keys).
    public func txn(_ request: Etcdserverpb_TxnRequest, what: String) async throws(StorageError) -> Etcdserverpb_TxnResponse {
        let options = options()
        return try await call(what) { grpc in
            try await Etcdserverpb_KV.Client(wrapping: grpc).txn(request, options: options)
        }
    }

    /// A compare that holds when `key`'s last modification is `revision` (0: the key is absent).
    public static func modRevision(_ key: Data, is revision: Int64) -> Etcdserverpb_Compare {
        var compare = Etcdserverpb_Compare()
        compare.key = key
        compare.target = .mod
        compare.result = .equal
        compare.modRevision = revision
        return compare
    }

    /// A put operation.
    public static func put(_ key: Data, _ value: Data, lease: Int64 = 0) -> Etcdserverpb_RequestOp {
        var put = Etcdserverpb_PutRequest()
        put.key = key
        put.value = value
        put.lease = lease
        var op = Etcdserverpb_RequestOp()
        op.requestPut = put
        return op
    }

    /// A delete operation of one key.
    public static func delete(_ key: Data) -> Etcdserverpb_RequestOp {
        var delete = Etcdserverpb_DeleteRangeRequest()
        delete.key = key
        var op = Etcdserverpb_RequestOp()
        op.requestDeleteRange = delete
        return op
    }

    /// A read operation of one key.
    public static func get(_ key: Data) -> Etcdserverpb_RequestOp {
        var range = Etcdserverpb_RangeRequest()
        range.key = key
        var op = Etcdserverpb_RequestOp()
        op.requestRange = range
        return op
    }
}
