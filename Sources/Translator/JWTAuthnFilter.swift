import EnvoyAPI
import MeshModel

/// RequestAuthentications → Envoy's `envoy.filters.http.jwt_authn`, as istiod builds it
/// (`pilot/pkg/security/authn`): one filter per proxy from every policy that applies, on every
/// inbound HTTP connection manager of a sidecar and every HTTP connection manager of a gateway.
///
/// - The rules of all applying policies, sorted by issuer, become providers `origins-0…N-1`;
///   each puts the verified payload in the `payload` metadata (what RBAC's request principals
///   and claims read) with `scope`, `permission` and `spaceDelimitedClaims` split into lists.
/// - One requirement covers every path: any provider's token verifies, or every provider that
///   finds a token accepts it while a missing token is allowed. So an invalid token is refused
///   (401; a wrong audience 403) and a request without one passes: requiring a token is an
///   AuthorizationPolicy's business (`requestPrincipals`).
/// - Keys: inline `jwks`, else the last good set meshd fetched from `jwksUri`
///   (`MeshSettings.fetchedKeySets`), else a set whose private key nobody has, so tokens of
///   that issuer are refused until the keys arrive (istiod's `PublicOnlyJwks`).
public enum JWTAuthnFilter {
    /// The filter's name (RBAC reads its metadata under it).
    public static let name = "envoy.filters.http.jwt_authn"
    /// The metadata key the payload is put under.
    public static let payloadKey = "payload"
    /// Claims always split on spaces (OAuth scopes), as istiod sends them.
    static let defaultSpaceDelimitedClaims = ["permission", "scope"]

    /// A key set with one RSA public key whose private half was discarded when it was made: no
    /// token verifies against it.
    public static let unusableKeySet =
        #"{"keys":[{"kty":"RSA","kid":"meshd-no-keys-yet","alg":"RS256","use":"sig","e":"AQAB","n":"rUyWcOqOxl60FOSpDx37I7dDL-CCD0-_vVXemOrsSgZQZSFADahqQJ1LJmrWCkYIXQo5KCChDAlQp7MnJBNv_eOqT18lQu_F_NXaXtztBhRQxhReTLAicLuK728pW9mzlqz3jqlyN3JmU2yncLSJi3h9XAJKppTrtrUY-3tLE3o-l_4t11FXs9Hf9y8yrPmkaL9UIes1t-ERxphgPyMFXHsOhmBwqE_FRu1ZjKg6xZpl-yEm6qs_uZPIRmhPTN6Gpw_HoeALDGnRt9U9cDiqgNsEuWTTA--J1Y-8CFHHBtdsw-rD8mLv0dBdcrRFg3dzHOWO0Pz4kDhruDYgPzWT0w"}]}"#

    /// The filter for `policies` (those applying to the proxy), nil when they hold no rule.
    /// `clearRouteCache` is set on gateways, where routes may match on claims.
    public static func filter(
        _ policies: [RequestAuthenticationIndex.Entry], settings: MeshSettings, clearRouteCache: Bool
    ) -> Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter? {
        let rules = policies.flatMap(\.spec.jwtRules).enumerated().sorted { ($0.element.issuer, $0.offset) < ($1.element.issuer, $1.offset) }.map(
            \.element)
        guard !rules.isEmpty else { return nil }
        var config = Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtAuthentication()
        for (index, rule) in rules.enumerated() {
            config.providers["origins-\(index)"] = provider(rule, settings: settings, clearRouteCache: clearRouteCache)
        }
        var requirementRule = Envoy_Extensions_Filters_Http_JwtAuthn_V3_RequirementRule()
        requirementRule.match.prefix = "/"
        requirementRule.requires = requirement(providers: rules.indices.map { "origins-\($0)" })
        config.rules = [requirementRule]
        config.bypassCorsPreflight = true
        var filter = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter()
        filter.name = name
        filter.typedConfig = AnyPacking.pack(config)
        return filter
    }

    /// One provider: issuer, audiences, where the token is, where its keys are, what is output.
    static func provider(
        _ rule: RequestAuthentication.JWTRule, settings: MeshSettings, clearRouteCache: Bool
    ) -> Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtProvider {
        var provider = Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtProvider()
        provider.issuer = rule.issuer
        provider.audiences = rule.audiences
        provider.forward = rule.forwardOriginalToken
        provider.forwardPayloadHeader = rule.outputPayloadToHeader ?? ""
        provider.payloadInMetadata = payloadKey
        var normalize = Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtProvider.NormalizePayload()
        normalize.spaceDelimitedClaims =
            rule.spaceDelimitedClaims.isEmpty
            ? defaultSpaceDelimitedClaims : Array(Set(rule.spaceDelimitedClaims + defaultSpaceDelimitedClaims)).sorted()
        provider.normalizePayloadInMetadata = normalize
        provider.claimToHeaders = rule.outputClaimToHeaders.map { output in
            var header = Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtClaimToHeader()
            header.headerName = output.header
            header.claimName = output.claim
            return header
        }
        provider.fromHeaders = rule.fromHeaders.map { location in
            var header = Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtHeader()
            header.name = location.name
            header.valuePrefix = location.prefix
            return header
        }
        provider.fromParams = rule.fromParams
        provider.fromCookies = rule.fromCookies
        provider.clearRouteCache_p = clearRouteCache
        var keys = Envoy_Config_Core_V3_DataSource()
        keys.inlineString = rule.jwks ?? rule.fetchedURI.flatMap { settings.fetchedKeySets[$0] } ?? unusableKeySet
        provider.localJwks = keys
        return provider
    }

    /// istiod's requirement: for one provider `any[p, allow_missing]`; for several,
    /// `any[p0, …, pN, all[any[p0, allow_missing], …]]`.
    static func requirement(providers: [String]) -> Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtRequirement {
        func named(_ provider: String) -> Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtRequirement {
            var requirement = Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtRequirement()
            requirement.providerName = provider
            return requirement
        }
        func allowingMissing(_ provider: String) -> Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtRequirement {
            var missing = Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtRequirement()
            missing.allowMissing = .init()
            var any = Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtRequirement()
            any.requiresAny.requirements = [named(provider), missing]
            return any
        }
        guard providers.count > 1 else { return allowingMissing(providers[0]) }
        var all = Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtRequirement()
        all.requiresAll.requirements = providers.map(allowingMissing)
        var any = Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtRequirement()
        any.requiresAny.requirements = providers.map(named) + [all]
        return any
    }
}
