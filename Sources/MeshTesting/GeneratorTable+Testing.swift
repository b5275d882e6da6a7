import MeshCommon
import Translator

extension GeneratorTable {
    /// meshd's table for the default trust domain: what tests and benchmarks generate with
    /// (production code passes the table meshd builds from its flags).
    public static let testing = GeneratorTable(trustDomain: MeshDefaults.trustDomain)
}
