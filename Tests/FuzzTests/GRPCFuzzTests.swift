import CertificateAuthority
import Crypto
import EnvoyAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import PushPipeline
import SwiftASN1
import SwiftProtobuf
import Testing
import Translator
import X509
import XDS
import XDSCore

/// Random DiscoveryRequests and CSRs through the real gRPC servers (ADS and the CA's
/// CertificateService, in process on 127.0.0.1 over HTTP/2). Every call must end in responses or
/// a gRPC status within its deadline, and afterwards the server must still answer a valid call.
extension FuzzTests {
    @Suite("gRPC fuzzing")
    struct GRPCFuzzTests {
        static let configuration = FuzzConfiguration.current

        init() {
            CrashReporter.install(caseTimeout: Self.configuration.caseTimeout)
        }

        /// The ADS server and the CA service on one ephemeral port, with a client connected to it.
        static func withServer(_ body: @Sendable (GRPCClient<HTTP2ClientTransport.Posix>, TokenAuthority) async throws -> Void) async throws {
            let publisher = PushContextPublisher()
            publisher.publish(
                PushContextBuilder.build(
                    revision: 1,
                    inputs: FuzzPipeline.baselineInputs.map {
                        .init(key: $0.0.key, createdRevision: 1, config: $0.1)
                    }))
            var logger = Logger(label: "meshd-fuzz")
            logger.logLevel = .critical
            let ads = AggregatedDiscoveryServer(
                publisher: publisher, cache: SnapshotCache(generators: .testing), statuses: ProxyStatusRegistry(),
                metrics: nil, logger: logger)
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshd-fuzz-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let ca = try LocalCertificateAuthority.loadOrCreate(directory: directory, trustDomain: "cluster.local")
            let tokens = TokenAuthority(privateKey: P256.Signing.PrivateKey())
            let certificates = CertificateService(ca: ca, tokens: tokens, metrics: nil, logger: logger)
            let server = GRPCServer(
                transport: .http2NIOPosix(address: .ipv4(host: "127.0.0.1", port: 0), transportSecurity: .plaintext),
                services: [ads, certificates])
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { try await server.serve() }
                let port = try #require(try await server.listeningAddress?.ipv4?.port)
                try await withGRPCClient(transport: .http2NIOPosix(target: .ipv4(host: "127.0.0.1", port: port), transportSecurity: .plaintext)) {
                    client in
                    try await body(client, tokens)
                }
                server.beginGracefulShutdown()
            }
        }

        // MARK: - ADS

        static let knownTypes = [TypeURL.cluster, TypeURL.endpoint, TypeURL.listener, TypeURL.route]
        static let knownNames = [
            "outbound|9080||reviews.default.svc.cluster.local", "outbound|9080|v1|reviews.default.svc.cluster.local",
            "reviews.default.svc.cluster.local:9080", "*",
        ]

        static func randomRequest(_ rng: inout SeededGenerator, notes: inout [String]) -> Envoy_Service_Discovery_V3_DiscoveryRequest {
            var request = Envoy_Service_Discovery_V3_DiscoveryRequest()
            request.typeURL =
                switch rng.int(0...9) {
                case 0...5: rng.pick(knownTypes)
                case 6:
                    rng.pick([
                        "", "type.googleapis.com/unknown.Type", "type.googleapis.com/envoy.config.cluster.v3.Cluster ",
                        "type.googleapis.com/envoy.service.discovery.v3.DiscoveryRequest",
                    ])
                case 7: String(repeating: "t", count: rng.pick([1_000, 100_000]))
                default: FuzzValues.randomString(&rng)
                }
            switch rng.int(0...5) {
            case 0: request.resourceNames = []
            case 1: request.resourceNames = (0..<rng.int(1...5)).map { _ in rng.pick(knownNames) }
            case 2: request.resourceNames = (0..<rng.pick([1_000, 10_000])).map { "name-\($0)" }
            case 3: request.resourceNames = [String(repeating: "n", count: 100_000)]
            default: request.resourceNames = (0..<rng.int(1...4)).map { _ in FuzzValues.randomString(&rng) }
            }
            request.responseNonce = rng.pick(["", "", "", FuzzValues.randomString(&rng), "1-1", String(repeating: "9", count: 10_000)])
            request.versionInfo = rng.pick(["", "", FuzzValues.randomString(&rng)])
            if rng.chance(0.25) {
                request.errorDetail.code = rng.pick([0, 3, -1, Int32.max, Int32.min])
                request.errorDetail.message = rng.pick(["", "rejected", FuzzValues.randomString(&rng), String(repeating: "e", count: 50_000)])
            }
            if rng.chance(0.6) {
                request.node.id = rng.pick([
                    "", "sidecar~10.0.0.1~pod.ns~ns.svc.cluster.local", FuzzValues.randomString(&rng), String(repeating: "n", count: 60_000),
                ])
                request.node.cluster = FuzzValues.randomString(&rng)
                request.node.userAgentName = rng.pick(["envoy", "grpc", "", FuzzValues.randomString(&rng)])
                if rng.chance(0.3) {
                    request.node.metadata.fields["GENERATOR"] = Google_Protobuf_Value(stringValue: rng.pick(["grpc", "", "x"]))
                    request.node.metadata.fields[FuzzValues.randomString(&rng)] = Google_Protobuf_Value(numberValue: .nan)
                }
                request.node.locality.region = FuzzValues.randomString(&rng)
                request.node.clientFeatures = (0..<rng.int(0...3)).map { _ in FuzzValues.randomString(&rng) }
            }
            notes.append(
                "type=\(request.typeURL.prefix(60)) names=\(request.resourceNames.count) nonce=\(request.responseNonce.prefix(12).debugDescription) nack=\(request.hasErrorDetail)"
            )
            return request
        }

        /// Known gap: a nonce-less request naming only resources that do not exist gets an empty
        /// response when the stream has its snapshot, but none at all when it is processed before the
        /// stream's first snapshot (the push then sends nothing new), so the client waits for its
        /// does-not-exist timer (15 s in grpcio). Counted; failed on with MESHD_FUZZ_KNOWN_CRASHES.
        static let unansweredGap = "ads-unanswered-before-first-snapshot"

        /// The nonce placeholder in a follow-up request: replaced by the first response's nonce.
        static let echoNonce = "<echo>"

        /// Follow-ups to the first response: ACKs, NACKs (random `error_detail`), changed names,
        /// stale nonces — the stream state machine's ACK/NACK paths over the wire.
        static func followUps(_ rng: inout SeededGenerator, notes: inout [String]) -> [Envoy_Service_Discovery_V3_DiscoveryRequest] {
            (0..<rng.int(1...4)).map { _ in
                var request = randomRequest(&rng, notes: &notes)
                if rng.chance(0.7) { request.typeURL = "" }  // "" = the first response's type
                request.responseNonce = rng.chance(0.8) ? echoNonce : request.responseNonce
                return request
            }
        }

        /// Sends `requests` on one ADS stream; with `followUps`, waits for the first response and
        /// sends them with its nonce (and type, when theirs is empty); then half-closes and returns
        /// the responses, or throws the RPC's status. `followUps` needs `requests[0]` to be a
        /// nonce-less request for a served type, which is always answered.
        static func exchange(
            _ client: GRPCClient<HTTP2ClientTransport.Posix>, _ requests: [Envoy_Service_Discovery_V3_DiscoveryRequest],
            followUps: [Envoy_Service_Discovery_V3_DiscoveryRequest] = [],
            awaitResponse: Bool
        ) async throws -> [Envoy_Service_Discovery_V3_DiscoveryResponse] {
            let ads = Envoy_Service_Discovery_V3_AggregatedDiscoveryService.Client(wrapping: client)
            let (firstResponse, signal) = AsyncStream<(type: String, nonce: String)>.makeStream()
            var options = CallOptions.defaults
            options.timeout = .seconds(10)
            return try await ads.streamAggregatedResources(
                options: options,
                requestProducer: { writer in
                    for request in requests { try await writer.write(request) }
                    guard awaitResponse || !followUps.isEmpty else { return }
                    // Bounded: a request for names that do not exist, processed before the stream's first
                    // snapshot, is never answered (a known gap; see `unansweredGap`).
                    let first = await withTaskGroup(of: (type: String, nonce: String)?.self) { group in
                        group.addTask {
                            for await response in firstResponse { return response }
                            return nil
                        }
                        group.addTask {
                            try? await Task.sleep(for: .seconds(awaitResponse ? 8 : 1))
                            return nil
                        }
                        let first = await group.next() ?? nil
                        group.cancelAll()
                        return first
                    }
                    guard let first else { return }
                    for var request in followUps {
                        if request.responseNonce == echoNonce { request.responseNonce = first.nonce }
                        if request.typeURL.isEmpty { request.typeURL = first.type }
                        try await writer.write(request)
                    }
                },
                onResponse: { response in
                    var received: [Envoy_Service_Discovery_V3_DiscoveryResponse] = []
                    for try await message in response.messages {
                        received.append(message)
                        signal.yield((message.typeURL, message.nonce))
                    }
                    signal.finish()
                    return received
                })
        }

        @Test("random DiscoveryRequests end in responses or a status; ADS still answers afterwards")
        func discoveryRequests() async throws {
            let config = Self.configuration
            let cases = max(1, config.grpcCases / 2)
            print("[fuzz] ads: seed \(config.seedText), \(cases) streams")
            try await Self.withServer { client, _ in
                var statuses: [String: Int] = [:]
                var responses = 0
                var unanswered = 0
                var problems: [String] = []
                for index in config.onlyCase.map({ [$0] }) ?? Array(0..<cases) {
                    var rng = SeededGenerator(seed: SeededGenerator.derive(config.seed, "ads", index))
                    var notes: [String] = []
                    var requests = (0..<rng.int(1...6)).map { _ in Self.randomRequest(&rng, notes: &notes) }
                    var followUps: [Envoy_Service_Discovery_V3_DiscoveryRequest] = []
                    if rng.chance(0.4) {
                        // A first request that is always answered, then follow-ups echoing its nonce.
                        requests[0].typeURL = rng.pick(Self.knownTypes)
                        requests[0].responseNonce = ""
                        notes.append("then")
                        followUps = Self.followUps(&rng, notes: &notes)
                    }
                    let label = "seed=\(config.seedText) ads case=\(index) [\(notes.joined(separator: "; "))]"
                    if config.verbose {
                        print("[fuzz] \(label)")
                        for request in requests + followUps {
                            print(
                                "  type=\(request.typeURL.prefix(80).debugDescription) names=\(request.resourceNames.count) first=\(request.resourceNames.first?.prefix(40).debugDescription ?? "-") nonce=\(request.responseNonce.prefix(20).debugDescription) version=\(request.versionInfo.prefix(20).debugDescription) nack=\(request.hasErrorDetail) node=\(request.hasNode) id=\(request.node.id.prefix(20).debugDescription)"
                            )
                        }
                    }
                    CrashReporter.arm(label: label, input: (requests + followUps).map { $0.textFormatString() }.joined(separator: "\n---\n"))
                    defer { CrashReporter.disarm() }
                    do {
                        let received = try await Self.exchange(client, requests, followUps: followUps, awaitResponse: false)
                        statuses["ok", default: 0] += 1
                        if !followUps.isEmpty, !received.contains(where: { $0.typeURL == requests[0].typeURL }) {
                            unanswered += 1
                            let gap =
                                "\(label): nonce-less \(XDSTypeRegistry.standard.shortName(requests[0].typeURL)) request for \(requests[0].resourceNames.count) name(s) never answered"
                            if config.runsKnown(Self.unansweredGap) {
                                problems.append(gap)
                            } else if unanswered <= 3 {
                                print("[fuzz] ads: known gap \(Self.unansweredGap): \(gap.prefix(300))")
                            }
                        }
                        responses += received.count
                        let asked = Set((requests + followUps).map(\.typeURL))
                        for response in received {
                            if !asked.contains(response.typeURL) { problems.append("\(label): response of unasked type \(response.typeURL)") }
                            if response.nonce.isEmpty { problems.append("\(label): response without a nonce") }
                            if response.resources.contains(where: { $0.typeURL != response.typeURL }) {
                                problems.append("\(label): a \(response.typeURL) response carries another type")
                            }
                        }
                    } catch let error as RPCError {
                        statuses["\(error.code)", default: 0] += 1
                        if error.code == .deadlineExceeded { problems.append("\(label): hung until the deadline") }
                        if error.code == .unknown || error.code == .internalError { problems.append("\(label): \(error)") }
                    }
                }
                print(
                    "[fuzz] ads: \(cases) streams; outcomes \(statuses.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")); \(responses) responses; known gap \(Self.unansweredGap): \(unanswered)"
                )
                for problem in problems.prefix(10) { Issue.record(Comment(rawValue: problem)) }

                // The server still serves: a proxyless client's first CDS request gets the baseline clusters.
                var valid = Envoy_Service_Discovery_V3_DiscoveryRequest()
                valid.typeURL = TypeURL.cluster
                valid.node.id = "fuzz-check"
                let received = try await Self.exchange(client, [valid], awaitResponse: true)
                let clusters = received.first { $0.typeURL == TypeURL.cluster }
                #expect(clusters?.resources.count == 3, "CDS after fuzzing: \(received.map(\.typeURL))")
            }
        }

        // MARK: - CA

        /// A valid P-256 CSR, as mesh-agent makes one.
        static func validCSR() throws -> String {
            let key = P256.Signing.PrivateKey()
            let csr = try CertificateSigningRequest(
                version: .v1, subject: DistinguishedName { CommonName("fuzz") }, privateKey: Certificate.PrivateKey(key),
                attributes: CertificateSigningRequest.Attributes(), signatureAlgorithm: .ecdsaWithSHA256)
            return try csr.serializeAsPEM().pemString
        }

        static func randomCSR(_ rng: inout SeededGenerator, valid: String) -> (String, String) {
            let der = (try? PEMDocument(pemString: valid).derBytes) ?? []
            switch rng.int(-3...9) {
            case ...0: return (valid, "valid")
            case 1: return (String(valid.prefix(rng.int(0...valid.count))), "truncated")
            case 2:
                var bytes = der
                for _ in 0..<rng.int(1...4) where !bytes.isEmpty { bytes[rng.int(0...bytes.count - 1)] ^= UInt8(1) << UInt8(rng.int(0...7)) }
                return (PEMDocument(type: "CERTIFICATE REQUEST", derBytes: bytes).pemString, "bit-flipped DER")
            case 3:
                let cut = Array(der.prefix(rng.int(0...der.count)))
                return (PEMDocument(type: "CERTIFICATE REQUEST", derBytes: cut).pemString, "truncated DER")
            case 4:
                let bytes = (0..<rng.int(0...2_048)).map { _ in UInt8(rng.int(0...255)) }
                return (
                    rng.chance(0.5) ? String(decoding: bytes, as: UTF8.self) : PEMDocument(type: "CERTIFICATE REQUEST", derBytes: bytes).pemString,
                    "random bytes"
                )
            case 5: return (String(repeating: valid, count: rng.pick([2, 100, 2_000])), "repeated")
            case 6: return (valid.replacingOccurrences(of: "CERTIFICATE REQUEST", with: rng.pick(["CERTIFICATE", "PRIVATE KEY", "X"])), "relabelled")
            case 7: return (String(repeating: "A", count: rng.pick([65_536, 65_537, 3_000_000])), "huge")
            case 8:
                var bytes = der
                // DER length fields set to extremes.
                if bytes.count > 4 {
                    bytes[1] = rng.pick([0x84, 0x88, 0xFF, 0x80])
                    bytes[2] = 0xFF
                }
                return (PEMDocument(type: "CERTIFICATE REQUEST", derBytes: bytes).pemString, "bad DER length")
            default: return ("", "empty")
            }
        }

        @Test("random CSRs end in a certificate or a status; the CA still signs afterwards")
        func certificateRequests() async throws {
            let config = Self.configuration
            let cases = max(1, config.grpcCases - config.grpcCases / 2)
            print("[fuzz] ca: seed \(config.seedText), \(cases) CSRs")
            let valid = try Self.validCSR()
            try await Self.withServer { client, tokens in
                let ca = Istio_V1_Auth_IstioCertificateService.Client(wrapping: client)
                var statuses: [String: Int] = [:]
                var problems: [String] = []
                var notes: [String] = []
                for index in config.onlyCase.map({ [$0] }) ?? Array(0..<cases) {
                    var rng = SeededGenerator(seed: SeededGenerator.derive(config.seed, "ca", index))
                    let (csr, kind) = Self.randomCSR(&rng, valid: valid)
                    var request = Istio_V1_Auth_IstioCertificateRequest()
                    request.csr = csr
                    request.validityDuration = rng.pick([0, 1, -1, 3_600, Int64.max, Int64.min, 3_153_600_000, Int64(Int32.max) + 1])
                    var metadata = Metadata()
                    let auth = rng.int(0...7)
                    switch auth {
                    case 0: break
                    case 1, 2, 6, 7:
                        metadata.addString(
                            "Bearer \(tokens.issue(namespace: "default", serviceAccount: "fuzz", ttl: .seconds(600)))", forKey: "authorization")
                    case 3:
                        let namespace = rng.pick(FuzzValues.strings.filter { $0.count < 300 && !$0.contains("\u{0}") })
                        let account = FuzzValues.randomString(&rng, maxLength: 20)
                        metadata.addString(
                            "Bearer \(tokens.issue(namespace: namespace, serviceAccount: account, ttl: .seconds(rng.pick([600, 0, -5]))))",
                            forKey: "authorization")
                    case 4:
                        metadata.addString(
                            rng.pick(["Bearer ", "Bearer x.y.z", "Basic abc", "bearer", String(repeating: "B", count: 8_000)]),
                            forKey: "authorization")
                    default:
                        metadata.addString(
                            "Bearer "
                                + FuzzValues.randomString(&rng, maxLength: 200).filter { c in
                                    // HTTP/2 forbids control characters in header values: the transport would close the
                                    // connection before the CA sees the call, which tests nothing of meshd's.
                                    c.unicodeScalars.allSatisfy { (0x20...0x7E).contains($0.value) }
                                }, forKey: "authorization")
                    }
                    let label = "seed=\(config.seedText) ca case=\(index) [csr=\(kind) validity=\(request.validityDuration) auth=\(auth)]"
                    if config.verbose { print("[fuzz] \(label)") }
                    CrashReporter.arm(
                        label: label,
                        input:
                            "validity_duration: \(request.validityDuration)\nauthorization: \(metadata[stringValues: "authorization"].first { _ in true } ?? "")\ncsr:\n\(csr.prefix(100_000))"
                    )
                    defer { CrashReporter.disarm() }
                    var options = CallOptions.defaults
                    options.timeout = .seconds(10)
                    do {
                        let chain = try await ca.createCertificate(request, metadata: metadata, options: options) { try $0.message.certChain }
                        statuses["ok", default: 0] += 1
                        if chain.isEmpty { problems.append("\(label): success without a certificate chain") }
                    } catch let error as RPCError {
                        statuses["\(error.code)", default: 0] += 1
                        if error.code == .deadlineExceeded { problems.append("\(label): hung until the deadline") }
                        if error.code == .unknown { problems.append("\(label): \(error)") }
                        if error.code == .unavailable || error.code == .resourceExhausted {
                            notes.append("\(label): \(error.code): \(error.message.prefix(200))")
                        }
                    }
                }
                for note in notes.prefix(5) { print("[fuzz] ca: \(note)") }
                print(
                    "[fuzz] ca: \(cases) CSRs; outcomes \(statuses.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))"
                )
                for problem in problems.prefix(10) { Issue.record(Comment(rawValue: problem)) }

                var request = Istio_V1_Auth_IstioCertificateRequest()
                request.csr = valid
                request.validityDuration = 3_600
                var metadata = Metadata()
                metadata.addString(
                    "Bearer \(tokens.issue(namespace: "default", serviceAccount: "fuzz", ttl: .seconds(600)))", forKey: "authorization")
                let chain = try await ca.createCertificate(request, metadata: metadata) { try $0.message.certChain }
                #expect(chain.count >= 2)
            }
        }
    }
}
