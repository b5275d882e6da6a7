import EnvoyAPI
import SwiftProtobuf

/// The cluster metadata gRPC's service-mesh observability reads to label client metrics.
///
/// With its CSM plugin enabled, a gRPC client labels every attempt it sends through a cluster with
/// `csm.service_name` and `csm.service_namespace_name`, taken from the cluster's filter metadata
/// under `com.google.csm.telemetry_labels` (keys `service_name`, `service_namespace`); without
/// them the labels read `unknown`. meshd names the service by the cluster's own name,
/// `outbound|PORT|SUBSET|HOST`: it carries host, port and subset, and it is the same string
/// Envoy puts in `envoy_cluster_name`, so one reading of either names the destination subset.
enum CSMTelemetryLabels {
    /// The filter-metadata key gRPC reads.
    static let metadataKey = "com.google.csm.telemetry_labels"

    /// Sets the labels on `cluster`: its own name as the service, `namespace` as the namespace.
    static func apply(to cluster: inout Envoy_Config_Cluster_V3_Cluster, namespace: String) {
        var labels = Google_Protobuf_Struct()
        labels.fields["service_name"] = Google_Protobuf_Value(stringValue: cluster.name)
        labels.fields["service_namespace"] = Google_Protobuf_Value(stringValue: namespace)
        cluster.metadata.filterMetadata[metadataKey] = labels
    }
}
