// meshd-bench: measures the hot paths and prints one line per measurement.
// Run it in release: `scripts/bench` (also runs `openssl speed ecdsap256` for comparison).
import Foundation

let arguments = CommandLine.arguments.dropFirst()
let quick = arguments.contains("--quick")
if arguments.first == "ads-floor" {
    let port = arguments.firstIndex(of: "--port").flatMap { Int(arguments[arguments.index(after: $0)]) } ?? 18010
    do {
        try await TransportFloor.serve(port: port)
    } catch {
        FileHandle.standardError.write(Data("meshd-bench ads-floor: \(error)\n".utf8))
        exit(1)
    }
    exit(0)
}
if arguments.first == "pipeline" {
    // `pipeline endpoints` runs only one-endpoint changes (for profiling that path).
    let onlyEndpoints = arguments.dropFirst().first == "endpoints"
    print(
        try await PipelineBenchmark.run(
            services: 1000, endpoints: 10, iterations: onlyEndpoints ? 300 : 10,
            fullChanges: !onlyEndpoints))
    exit(0)
}
if arguments.first == "impact" {
    print(try ImpactBenchmark.run(services: 1000, endpoints: 4, clients: 1000, namespaces: 10, sidecars: 100, iterations: quick ? 1 : 3))
    exit(0)
}
if arguments.first == "kubernetes" {
    // `kubernetes --iterations N` runs more slice changes (for profiling that path).
    let iterations = arguments.firstIndex(of: "--iterations").flatMap { Int(arguments[arguments.index(after: $0)]) }
    print(try await KubernetesBenchmark.run(services: quick ? 20 : 1000, podsPerService: 10, iterations: iterations ?? (quick ? 5 : 100)))
    exit(0)
}
if arguments.first == "gateway" {
    print(try GatewayRouteBenchmark.run(services: quick ? 20 : 1000, iterations: quick ? 1 : 5))
    exit(0)
}
if arguments.first == "envoy" {
    print(try EnvoyBenchmark.run(services: 1000, endpoints: 4, iterations: quick ? 1 : 5))
    exit(0)
}
do {
    print(try PushBenchmark.run(services: quick ? 10 : 100, endpoints: 10, iterations: quick ? 2 : 10))
    print(try PushBenchmark.run(services: quick ? 20 : 1000, endpoints: 4, iterations: quick ? 1 : 3))
    print(try await PipelineBenchmark.run(services: quick ? 20 : 1000, endpoints: 10, iterations: quick ? 2 : 10))
    print(try EnvoyBenchmark.run(services: quick ? 20 : 1000, endpoints: 4, iterations: quick ? 1 : 5))
    print(
        try ImpactBenchmark.run(
            services: quick ? 20 : 1000, endpoints: 4, clients: quick ? 100 : 1000, namespaces: 10,
            sidecars: quick ? 10 : 100, iterations: quick ? 1 : 3))
    print(try await KubernetesBenchmark.run(services: quick ? 20 : 1000, podsPerService: 10, iterations: quick ? 5 : 100))
    print(try CABenchmark.run(seconds: quick ? 0.5 : 5))
} catch {
    FileHandle.standardError.write(Data("meshd-bench: \(error)\n".utf8))
    exit(1)
}
