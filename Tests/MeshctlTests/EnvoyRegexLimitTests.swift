import MeshModel
import Testing

@testable import meshctl

/// Apart from the other bootstrap tests: MeshModel has its own JSONValue, which would make
/// meshctl's ambiguous there.
@Suite struct EnvoyRegexLimitTests {
    @Test func theBootstrapsRegexLimitAdmitsEveryRegexMeshdAccepts() {
        #expect(BootstrapCommand.Envoy.regexProgramSizeLimit >= RegexSyntax.maxProgramSize)
    }
}
