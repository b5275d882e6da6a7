import EtcdAPI
import GRPCCore
import Storage

/// etcd leases, for keys that must vanish with the replica that wrote them (shared proxy
/// status, the singleton election).
extension EtcdClient {
    /// A new lease of `ttl` seconds; returns its id.
    func grantLease(ttl: Int64, what: String) async throws(StorageError) -> Int64 {
        var request = Etcdserverpb_LeaseGrantRequest()
        request.ttl = ttl
        let options = options()
        return try await call(what) { grpc in
            try await Etcdserverpb_Lease.Client(wrapping: grpc).leaseGrant(request, options: options).id
        }
    }

    /// One keep-alive round trip; returns the lease's remaining TTL (0 or less: gone).
    func keepAlive(lease: Int64, what: String) async throws(StorageError) -> Int64 {
        var request = Etcdserverpb_LeaseKeepAliveRequest()
        request.id = lease
        let message = request
        let options = options()
        return try await call(what) { grpc in
            try await Etcdserverpb_Lease.Client(wrapping: grpc).leaseKeepAlive(options: options) { writer in
                try await writer.write(message)
            } onResponse: { response in
                for try await answer in response.messages { return answer.ttl }
                return 0
            }
        }
    }

    /// Revokes `lease` (its keys go at once); best effort, bounded to a second.
    func revoke(lease: Int64, what: String) async {
        var request = Etcdserverpb_LeaseRevokeRequest()
        request.id = lease
        let options = options(timeout: .seconds(1))
        _ = try? await call(what) { grpc in
            try await Etcdserverpb_Lease.Client(wrapping: grpc).leaseRevoke(request, options: options)
        }
    }
}
