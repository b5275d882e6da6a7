// meshd-bench: measures the hot paths and prints one line per measurement.
// Run it in release: `scripts/bench` (also runs `openssl speed ecdsap256` for comparison).
import Foundation

let arguments = CommandLine.arguments.dropFirst()
let quick = arguments.contains("--quick")
do {
    print(try PushBenchmark.run(services: quick ? 10 : 100, endpoints: 10, iterations: quick ? 2 : 10))
    print(try PushBenchmark.run(services: quick ? 20 : 1000, endpoints: 4, iterations: quick ? 1 : 3))
    print(try CABenchmark.run(seconds: quick ? 0.5 : 5))
} catch {
    FileHandle.standardError.write(Data("meshd-bench: \(error)\n".utf8))
    exit(1)
}
