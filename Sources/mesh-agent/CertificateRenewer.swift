import Foundation
import Logging

/// Keeps one workload certificate fresh in one directory: issue, publish, sleep until half the
/// lifetime (±10%), repeat; after a failure, retry with exponential backoff.
///
/// A plain structured loop rather than a swift-service-lifecycle `Service`: the agent runs this
/// one loop and nothing else, and it stops by task cancellation (see `MeshAgentCommand`).
struct CertificateRenewer: Sendable {
    /// Who signs the CSRs.
    let signer: any CertificateSigner
    /// Where the certificate, key and root are published.
    let writer: AtomicDirectoryWriter
    /// Where the bearer token comes from, re-read for every issuance.
    let tokenSource: TokenSource
    /// The algorithm of each new key.
    let keyType: KeyType
    /// The lifetime asked for.
    let validity: ValidityDuration
    /// The root written when meshd returns the leaf alone (see `IssuedCertificate`).
    let fallbackRootPEM: String
    /// Renewal point and backoff.
    var policy = RenewalPolicy()
    /// Where issuances and failures are reported.
    let logger: Logger
    /// Told of each certificate after its files are published (the SDS server pushes it).
    var onIssued: @Sendable (IssuedCertificate) -> Void = { _ in }

    /// Issues one certificate and publishes it.
    ///
    /// `current`, when still valid, is presented as the TLS client certificate; if that call
    /// fails and a token is at hand, the call is repeated once with the token alone, because a
    /// certificate meshd no longer trusts (its root was replaced) must not block renewal.
    @discardableResult
    func issue(current: IssuedCertificate?) async throws -> IssuedCertificate {
        let token = try tokenSource.current()
        let presented = current.flatMap { $0.isValid(at: Date()) ? $0 : nil }
        let credentials = SignerCredentials(token: token, clientCertificate: presented)
        guard !credentials.isEmpty else {
            throw AgentError(
                .configuration,
                """
                no credentials: the certificate in \(writer.directory) is missing or expired and no token \
                was given (--token, --token-file or MESH_AGENT_TOKEN)
                """)
        }

        let key = try WorkloadKey.generate(keyType)
        let csr = try key.certificateSigningRequest(commonName: "mesh-agent")
        let chain: [String]
        do {
            chain = try await signer.sign(csrPEM: csr, validitySeconds: validity.seconds, credentials: credentials)
        } catch let error as AgentError where presented != nil && token != nil {
            logger.debug(
                "renewal with client certificate failed, retrying with the token alone",
                metadata: [
                    "status": "\(error.status ?? "-")", "error": "\(error.message)",
                ])
            let tokenOnly = SignerCredentials(token: token, clientCertificate: nil)
            chain = try await signer.sign(csrPEM: csr, validitySeconds: validity.seconds, credentials: tokenOnly)
        }

        let issued = try IssuedCertificate(chain: chain, key: key, fallbackRootPEM: fallbackRootPEM)
        try writer.publish(issued.files)
        onIssued(issued)
        logger.info(
            "issued certificate",
            metadata: [
                "identity": "\(issued.identity)",
                "notAfter": "\(Self.timestamp(issued.notAfter))",
                "authenticatedBy": "\(credentials.summary)",
                "dir": "\(writer.directory)",
            ])
        return issued
    }

    /// Renews until the task is cancelled; returns normally then.
    ///
    /// `initial` is a certificate an earlier run left in the directory: while its renewal point
    /// is ahead, the loop waits for it instead of issuing at once, so restarting the agent does
    /// not re-issue (and still renews after the token has expired).
    func run(initial: IssuedCertificate?) async throws {
        var current = initial
        if let initial, initial.isValid(at: Date()) {
            let delay = policy.renewalDelay(for: initial)
            logger.info(
                "using existing certificate",
                metadata: [
                    "identity": "\(initial.identity)",
                    "notAfter": "\(Self.timestamp(initial.notAfter))",
                    "renewIn": "\(Self.format(delay))",
                ])
            guard (try? await Task.sleep(for: delay)) != nil else { return }
        }

        var failures = 0
        while !Task.isCancelled {
            let wait: Duration
            do {
                let issued = try await issue(current: current)
                current = issued
                failures = 0
                wait = policy.renewalDelay(for: issued)
                logger.info("next renewal scheduled", metadata: ["renewIn": "\(Self.format(wait))"])
            } catch is CancellationError {
                return
            } catch {
                failures += 1
                wait = policy.backoff(afterFailures: failures)
                logFailure(error, attempt: failures, retryIn: wait, holding: current)
            }
            guard (try? await Task.sleep(for: wait)) != nil else { return }
        }
    }

    private func logFailure(_ error: any Error, attempt: Int, retryIn: Duration, holding current: IssuedCertificate?) {
        var metadata: Logger.Metadata = [
            "attempt": "\(attempt)",
            "retryIn": "\(Self.format(retryIn))",
            "error": "\((error as? AgentError)?.message ?? String(describing: error))",
        ]
        if let status = (error as? AgentError)?.status { metadata["status"] = "\(status)" }
        if let current {
            // How much time is left is what tells an operator whether this is urgent.
            metadata["currentNotAfter"] = "\(Self.timestamp(current.notAfter))"
        }
        logger.error("certificate issuance failed", metadata: metadata)
    }

    /// RFC 3339 in UTC, as Kubernetes and Istio log times.
    static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601)
    }

    /// `12h0m0s`-style, whole seconds.
    static func format(_ duration: Duration) -> String {
        let seconds = duration.components.seconds
        return seconds > 0 ? ValidityDuration(seconds: seconds).description : "0s"
    }
}
