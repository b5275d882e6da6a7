import Foundation
import SwiftASN1
import X509

/// A workload certificate the agent holds: the chain meshd returned, split the way the
/// `file_watcher` certificate provider wants it, and the private key it was issued for.
///
/// Construction checks that the leaf certifies `key`: the one thing mesh-agent must never do is
/// publish a certificate and key that do not belong together.
struct IssuedCertificate: Sendable {
    /// The leaf certificate, for its identity and validity.
    let leaf: Certificate
    /// `cert-chain.pem`: the leaf then any intermediates, without the root.
    let chainPEM: String
    /// `root-cert.pem`: the trust anchor peers' certificates are checked against.
    let rootPEM: String
    /// `key.pem`: the private key of the leaf.
    let keyPEM: String
    /// When the agent received the certificate (for one loaded from disk: when it was written).
    ///
    /// Renewal is timed from here, not from notBefore: CAs backdate notBefore for clock skew
    /// (meshd by a minute), which for short lifetimes would put the half-life point before the
    /// certificate even arrived. istio-agent times rotation from receipt for the same reason.
    let receivedAt: Date

    /// The names of the three files, as `file_watcher` configs and meshctl's bootstrap use them.
    enum FileName {
        static let certificateChain = "cert-chain.pem"
        static let privateKey = "key.pem"
        static let rootCertificate = "root-cert.pem"
    }

    /// Builds the files from meshd's answer: PEMs ordered leaf first, root last.
    ///
    /// An element may hold several PEM blocks (some CAs concatenate); they are split and
    /// re-encoded so the written files are canonical. When meshd returns the leaf alone, the
    /// root is not known from the answer and `fallbackRootPEM` (the `--root-cert` anchor, which
    /// in meshd is the same CA) is written instead.
    init(chain: [String], key: WorkloadKey, fallbackRootPEM: String, receivedAt: Date = Date()) throws {
        let documents: [PEMDocument]
        do {
            documents = try chain.flatMap { try PEMDocument.parseMultiple(pemString: $0) }
        } catch {
            throw AgentError(.badResponse, "meshd returned a certificate chain that is not PEM", cause: error)
        }
        guard !documents.isEmpty else {
            throw AgentError(.badResponse, "meshd returned an empty certificate chain")
        }
        let certificates: [Certificate]
        do {
            certificates = try documents.map { try Certificate(pemDocument: $0) }
        } catch {
            throw AgentError(.badResponse, "meshd returned a chain with an unparsable certificate", cause: error)
        }
        guard certificates[0].publicKey == key.privateKey.publicKey else {
            throw AgentError(.badResponse, "meshd returned a certificate for a different key than the CSR's")
        }
        let pems = documents.map { $0.pemString + "\n" }
        self.leaf = certificates[0]
        self.chainPEM = pems.count > 1 ? pems.dropLast().joined() : pems[0]
        self.rootPEM = pems.count > 1 ? pems[pems.count - 1] : fallbackRootPEM
        self.keyPEM = key.pem
        self.receivedAt = receivedAt
    }

    /// Loads what an earlier run wrote into `directory`, or nil when the files are missing,
    /// unreadable or do not belong together — any of which just means "issue a new one".
    init?(loadingFrom directory: String) {
        func read(_ name: String) -> String? {
            try? String(contentsOfFile: (directory as NSString).appendingPathComponent(name), encoding: .utf8)
        }
        guard let chainPEM = read(FileName.certificateChain), let keyPEM = read(FileName.privateKey),
            let rootPEM = read(FileName.rootCertificate),
            let leafDocument = try? PEMDocument.parseMultiple(pemString: chainPEM).first,
            let leaf = try? Certificate(pemDocument: leafDocument),
            let key = try? Certificate.PrivateKey(pemEncoded: keyPEM),
            leaf.publicKey == key.publicKey
        else { return nil }
        self.leaf = leaf
        self.chainPEM = chainPEM
        self.rootPEM = rootPEM
        self.keyPEM = keyPEM
        // The generation's file, not the stable symlink, whose own mtime is when it was created.
        let written =
            try? FileManager.default.attributesOfItem(
                atPath: (directory as NSString).appendingPathComponent("\(AtomicDirectoryWriter.dataLink)/\(FileName.certificateChain)")
            )[.modificationDate] as? Date
        self.receivedAt = written ?? leaf.notValidBefore
    }

    /// The workload identity: the leaf's first URI SAN (`spiffe://cluster.local/ns/NS/sa/SA`).
    var identity: String {
        if let names = try? leaf.extensions.subjectAlternativeNames {
            for name in names {
                if case .uniformResourceIdentifier(let uri) = name { return uri }
            }
        }
        return "<no URI SAN>"
    }

    /// When the certificate starts being valid.
    var notBefore: Date { leaf.notValidBefore }
    /// When the certificate stops being valid.
    var notAfter: Date { leaf.notValidAfter }

    /// Where the lifetime that renewal is timed against starts: receipt, or notBefore if later.
    var lifetimeStart: Date { max(notBefore, min(receivedAt, notAfter)) }

    /// Whether the certificate can still authenticate the agent at `date`.
    func isValid(at date: Date) -> Bool {
        notBefore <= date && date < notAfter
    }

    /// The three files by name, in the order a reader would want them to appear.
    var files: [(name: String, contents: String, mode: Int)] {
        [
            (FileName.certificateChain, chainPEM, 0o644),
            (FileName.privateKey, keyPEM, 0o600),
            (FileName.rootCertificate, rootPEM, 0o644),
        ]
    }
}
