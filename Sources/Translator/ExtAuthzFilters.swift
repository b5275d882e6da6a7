import Discovery
import EnvoyAPI
import MeshModel
import SwiftProtobuf

/// CUSTOM AuthorizationPolicies → Envoy's ext_authz, as istiod builds it
/// (`pilot/pkg/security/authz/builder/extauthz.go`): for the provider the policies name, a pair
/// of filters —
///
/// 1. an RBAC filter with the policies' rules as DENY **shadow** rules (it decides nothing; it
///    records which policy matched in its metadata, `istio_ext_authz_shadow_effective_policy_id`);
/// 2. the ext_authz filter, enabled only when that id starts with `istio-ext-authz-PROVIDER`.
///
/// So the external authorizer is called exactly for the requests the policies' rules select, and
/// every other request skips it. The pair runs first on a chain: before `jwt_authn` and the RBAC
/// filters of the other actions.
///
/// What cannot be delegated fails closed, as istiod does for a broken provider: a provider the
/// mesh config lacks, whose service is not in the registry, or several providers on one proxy
/// (istiod's default), turn the rules into plain DENY rules (the requests they select get 403).
/// On TCP chains only a gRPC provider can be called (Envoy's network ext_authz); an HTTP
/// provider's rules deny there too (istiod skips them, letting those connections through).
public enum ExtAuthzFilters {
    /// The shadow RBAC filter's name: ext_authz reads the metadata Envoy's RBAC filter writes
    /// under this name.
    public static let rbacFilterName = "envoy.filters.http.rbac"
    /// The network shadow RBAC filter's name.
    public static let networkRBACFilterName = "envoy.filters.network.rbac"
    /// The HTTP ext_authz filter's name.
    public static let httpFilterName = "envoy.filters.http.ext_authz"
    /// The network ext_authz filter's name.
    public static let networkFilterName = "envoy.filters.network.ext_authz"
    /// The shadow rules' stat prefix; Envoy prefixes its metadata keys with it.
    static let shadowPrefix = "istio_ext_authz_"
    /// The metadata key holding the matched shadow policy's name.
    public static let effectivePolicyKey = "istio_ext_authz_shadow_effective_policy_id"

    /// Why a CUSTOM policy's rules deny instead of being delegated; nil when they are delegated.
    public static func problem(provider name: String, settings: MeshSettings, registry: RegistrySnapshot) -> String? {
        guard let provider = settings.provider(named: name) else {
            let known = settings.extensionProviders.filter { $0.authorizer != nil }.map(\.name)
            return "the mesh config has no extension provider \"\(name)\" (available: \(known.isEmpty ? "none" : known.joined(separator: ", ")))"
        }
        guard let authorizer = provider.authorizer else {
            return "extension provider \"\(name)\" is not an external authorizer (envoyExtAuthzHttp or envoyExtAuthzGrpc)"
        }
        if case .failure(let error) = resolve(authorizer, registry: registry) { return error.message }
        return nil
    }

    /// The cluster `authorizer` calls (`outbound|PORT||HOST`) and the service's host.
    static func resolve(_ authorizer: MeshConfig.ExternalAuthorizer, registry: RegistrySnapshot) -> Result<
        (cluster: String, host: String), ResolveError
    > {
        guard let service = registry.service(authorizer.serviceHost) else {
            return .failure(ResolveError(message: "the extension provider's service \"\(authorizer.service)\" is not in the registry"))
        }
        if let namespace = authorizer.serviceNamespace, namespace != service.namespace {
            return .failure(ResolveError(message: "the extension provider's service \"\(authorizer.service)\" is not in namespace \(namespace)"))
        }
        return .success((ClusterName.outbound(port: authorizer.port, host: service.host), service.host))
    }

    struct ResolveError: Error { var message: String }

    /// The HTTP filters for the CUSTOM `policies` applying to a proxy.
    public static func httpFilters(_ policies: [AuthorizationIndex.Entry], settings: MeshSettings, registry: RegistrySnapshot)
        -> [Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter]
    {
        plan(policies, settings: settings, registry: registry, http: true).map { step in
            switch step {
            case .delegate(let provider, let authorizer, let cluster, let host, let rules):
                var shadow = Envoy_Extensions_Filters_Http_Rbac_V3_RBAC()
                shadow.shadowRules = rules
                shadow.shadowRulesStatPrefix = shadowPrefix
                var config = Envoy_Extensions_Filters_Http_ExtAuthz_V3_ExtAuthz()
                configure(&config, authorizer: authorizer, cluster: cluster, host: host, provider: provider, grpc: providerIsGRPC(provider, settings))
                return [httpFilter(rbacFilterName, AnyPacking.pack(shadow)), httpFilter(httpFilterName, AnyPacking.pack(config))]
            case .deny(let provider, let rules):
                var config = Envoy_Extensions_Filters_Http_Rbac_V3_RBAC()
                config.rules = rules
                return [httpFilter("\(rbacFilterName).custom-deny.\(provider)", AnyPacking.pack(config))]
            }
        }.flatMap { $0 }
    }

    /// The network filters for the CUSTOM `policies` applying to a proxy's TCP chains.
    public static func networkFilters(_ policies: [AuthorizationIndex.Entry], settings: MeshSettings, registry: RegistrySnapshot)
        -> [Envoy_Config_Listener_V3_Filter]
    {
        plan(policies, settings: settings, registry: registry, http: false).map { step in
            switch step {
            case .delegate(let provider, let authorizer, let cluster, let host, let rules):
                var shadow = Envoy_Extensions_Filters_Network_Rbac_V3_RBAC()
                shadow.shadowRules = rules
                shadow.shadowRulesStatPrefix = shadowPrefix
                shadow.statPrefix = AuthorizationFilters.networkStatPrefix
                var config = Envoy_Extensions_Filters_Network_ExtAuthz_V3_ExtAuthz()
                config.statPrefix = AuthorizationFilters.networkStatPrefix
                config.grpcService = grpcService(authorizer, cluster: cluster, host: host)
                config.failureModeAllow = authorizer.failOpen
                config.transportApiVersion = .v3
                config.filterEnabledMetadata = enabledMetadata(provider: provider, filter: networkRBACFilterName)
                return [networkFilter(networkRBACFilterName, AnyPacking.pack(shadow)), networkFilter(networkFilterName, AnyPacking.pack(config))]
            case .deny(let provider, let rules):
                var config = Envoy_Extensions_Filters_Network_Rbac_V3_RBAC()
                config.rules = rules
                config.statPrefix = AuthorizationFilters.networkStatPrefix
                return [networkFilter("\(networkRBACFilterName).custom-deny.\(provider)", AnyPacking.pack(config))]
            }
        }.flatMap { $0 }
    }

    /// What each provider's policies become.
    enum Step {
        case delegate(provider: String, MeshConfig.ExternalAuthorizer, cluster: String, host: String, rules: Envoy_Config_Rbac_V3_RBAC)
        case deny(provider: String, rules: Envoy_Config_Rbac_V3_RBAC)
    }

    static func plan(_ policies: [AuthorizationIndex.Entry], settings: MeshSettings, registry: RegistrySnapshot, http: Bool) -> [Step] {
        let custom = policies.filter { $0.spec.action == .custom }
        let byProvider = Dictionary(grouping: custom) { $0.spec.provider ?? "" }
        let target: RBACTarget = http ? .envoyHTTP : .envoyTCP
        return byProvider.keys.sorted().compactMap { name in
            let entries = byProvider[name] ?? []
            // One provider per proxy (istiod's default), known, an authorizer, callable on this
            // chain kind, its service in the registry: else the rules deny.
            guard byProvider.count == 1, let authorizer = settings.provider(named: name)?.authorizer,
                http || providerIsGRPC(name, settings),
                case .success(let resolved) = resolve(authorizer, registry: registry)
            else {
                let rules = rbac(entries, provider: name, target: target, suffix: "-deny-due-to-bad-CUSTOM-action", action: .deny)
                return rules.policies.isEmpty ? nil : .deny(provider: name, rules: rules)
            }
            return .delegate(
                provider: name, authorizer, cluster: resolved.cluster, host: resolved.host,
                rules: rbac(entries, provider: name, target: target, suffix: "", action: .deny))
        }
    }

    /// The policies' rules under DENY semantics, named as istiod names them.
    static func rbac(
        _ entries: [AuthorizationIndex.Entry], provider: String, target: RBACTarget, suffix: String, action: Envoy_Config_Rbac_V3_RBAC.Action
    ) -> Envoy_Config_Rbac_V3_RBAC {
        var rbac = Envoy_Config_Rbac_V3_RBAC()
        rbac.action = action
        for entry in entries {
            for (index, rule) in entry.spec.rules.enumerated() {
                guard let policy = RBACTranslation.policy(rule, action: .deny, target: target) else { continue }
                rbac.policies["istio-ext-authz-\(provider)-ns[\(entry.key.namespace)]-policy[\(entry.key.name)]-rule[\(index)]\(suffix)"] = policy
            }
        }
        return rbac
    }

    private static func providerIsGRPC(_ name: String, _ settings: MeshSettings) -> Bool {
        settings.provider(named: name)?.isGRPC ?? false
    }

    /// ext_authz runs when the shadow rules' matched policy belongs to `provider`.
    static func enabledMetadata(provider: String, filter: String) -> Envoy_Type_Matcher_V3_MetadataMatcher {
        var matcher = Envoy_Type_Matcher_V3_MetadataMatcher()
        matcher.filter = filter
        var segment = Envoy_Type_Matcher_V3_MetadataMatcher.PathSegment()
        segment.key = effectivePolicyKey
        matcher.path = [segment]
        matcher.value.stringMatch.prefix = "istio-ext-authz-\(provider)"
        return matcher
    }

    private static func grpcService(_ authorizer: MeshConfig.ExternalAuthorizer, cluster: String, host: String) -> Envoy_Config_Core_V3_GrpcService {
        var service = Envoy_Config_Core_V3_GrpcService()
        service.envoyGrpc.clusterName = cluster
        service.envoyGrpc.authority = host
        service.timeout = RoutePolicy.protobufDuration(authorizer.timeout)
        return service
    }

    /// The HTTP filter's settings for `authorizer`.
    private static func configure(
        _ config: inout Envoy_Extensions_Filters_Http_ExtAuthz_V3_ExtAuthz, authorizer: MeshConfig.ExternalAuthorizer,
        cluster: String, host: String, provider: String, grpc: Bool
    ) {
        if grpc {
            config.grpcService = grpcService(authorizer, cluster: cluster, host: host)
        } else {
            var service = Envoy_Extensions_Filters_Http_ExtAuthz_V3_HttpService()
            service.serverUri.uri = "http://\(host)"
            service.serverUri.cluster = cluster
            service.serverUri.timeout = RoutePolicy.protobufDuration(authorizer.timeout)
            service.pathPrefix = authorizer.pathPrefix
            if !authorizer.includeAdditionalHeadersInCheck.isEmpty {
                service.authorizationRequest.headersToAdd = authorizer.includeAdditionalHeadersInCheck.sorted { $0.key < $1.key }.map { key, value in
                    var header = Envoy_Config_Core_V3_HeaderValue()
                    header.key = key
                    header.value = value
                    return header
                }
            }
            if !(authorizer.headersToUpstreamOnAllow.isEmpty && authorizer.headersToDownstreamOnDeny.isEmpty
                && authorizer.headersToDownstreamOnAllow.isEmpty)
            {
                if !authorizer.headersToUpstreamOnAllow.isEmpty {
                    service.authorizationResponse.allowedUpstreamHeaders = patterns(authorizer.headersToUpstreamOnAllow)
                }
                if !authorizer.headersToDownstreamOnDeny.isEmpty {
                    service.authorizationResponse.allowedClientHeaders = patterns(authorizer.headersToDownstreamOnDeny)
                }
                if !authorizer.headersToDownstreamOnAllow.isEmpty {
                    service.authorizationResponse.allowedClientHeadersOnSuccess = patterns(authorizer.headersToDownstreamOnAllow)
                }
            }
            config.httpService = service
            if !authorizer.includeRequestHeadersInCheck.isEmpty { config.allowedHeaders = patterns(authorizer.includeRequestHeadersInCheck) }
        }
        if let status = authorizer.statusOnError, let code = Envoy_Type_V3_StatusCode(rawValue: Int(status)) { config.statusOnError.code = code }
        config.failureModeAllow = authorizer.failOpen
        config.clearRouteCache_p = authorizer.clearRouteCache
        config.transportApiVersion = .v3
        if let body = authorizer.includeRequestBodyInCheck {
            config.withRequestBody.maxRequestBytes = body.maxRequestBytes
            config.withRequestBody.allowPartialMessage = body.allowPartialMessage
            config.withRequestBody.packAsBytes = body.packAsBytes
        }
        config.filterEnabledMetadata = enabledMetadata(provider: provider, filter: rbacFilterName)
    }

    /// Header patterns (`x-*` prefix, `*-x` suffix, else exact), case-insensitive as istiod sends them.
    private static func patterns(_ values: [String]) -> Envoy_Type_Matcher_V3_ListStringMatcher {
        var list = Envoy_Type_Matcher_V3_ListStringMatcher()
        list.patterns = values.map { value in
            var matcher = Envoy_Type_Matcher_V3_StringMatcher()
            if value.hasSuffix("*") {
                matcher.prefix = String(value.dropLast())
            } else if value.hasPrefix("*") {
                matcher.suffix = String(value.dropFirst())
            } else {
                matcher.exact = value
            }
            matcher.ignoreCase = true
            return matcher
        }
        return list
    }

    private static func httpFilter(_ name: String, _ config: Google_Protobuf_Any)
        -> Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter
    {
        var filter = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter()
        filter.name = name
        filter.typedConfig = config
        return filter
    }

    private static func networkFilter(_ name: String, _ config: Google_Protobuf_Any) -> Envoy_Config_Listener_V3_Filter {
        var filter = Envoy_Config_Listener_V3_Filter()
        filter.name = name
        filter.typedConfig = config
        return filter
    }
}
