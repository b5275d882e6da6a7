import EnvoyAPI
import MeshModel

/// A rule's `rewrite` as Envoy's route action fields, as istiod writes them for sidecars: `uri`
/// is `prefix_rewrite` (it replaces what the match matched as a prefix: all of an exact path,
/// the prefix of a prefix match, `/`… of a rule without a uri match), `uriRegexRewrite` is
/// `regex_rewrite`, and the authority — `rewrite.authority`, else a request header operation on
/// `:authority`/`host` — is `host_rewrite_literal`. gRPC clients ignore all three.
enum RouteRewrite {
    static func apply(_ rewrite: HTTPRewrite?, headerAuthority: String?, to action: inout Envoy_Config_Route_V3_RouteAction) {
        if let regex = rewrite?.uriRegexRewrite {
            var substitute = Envoy_Type_Matcher_V3_RegexMatchAndSubstitute()
            substitute.pattern = RouteMatchTranslation.regexMatcher(regex.match)
            substitute.substitution = regex.rewrite
            action.regexRewrite = substitute
        } else if let uri = rewrite?.uri {
            action.prefixRewrite = uri
        }
        if let authority = rewrite?.authority ?? headerAuthority {
            action.hostRewriteLiteral = authority
        }
    }
}
