import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// SIGTERM and SIGINT as an async event, so the renewal loop can be cancelled by structured
/// concurrency instead of the process dying mid-write.
///
/// Dying mid-write would be safe (the atomic writer never exposes a partial generation) but
/// would leave a stale hidden directory and an unlogged exit; cancelling lets the loop finish.
enum ShutdownSignal {
    /// Waits for SIGTERM or SIGINT and returns its name; returns nil if the task is cancelled
    /// first. The default actions are ignored only while waiting and restored afterwards.
    static func next() async -> String? {
        let signals: [(number: Int32, name: String)] = [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")]
        let (stream, continuation) = AsyncStream.makeStream(of: String.self)
        let queue = DispatchQueue(label: "mesh-agent.signals")
        let sources = signals.map { entry in
            let source = DispatchSource.makeSignalSource(signal: entry.number, queue: queue)
            source.setEventHandler { continuation.yield(entry.name) }
            source.resume()
            return source
        }
        #if canImport(Darwin)
        // kqueue delivers to the source alongside the default action, which must be off or the
        // process dies first. On Linux Dispatch installs its own handler, and SIG_IGN would make
        // the kernel discard the signal before Dispatch sees it (swift-service-lifecycle does
        // the same split).
        for entry in signals { _ = signal(entry.number, SIG_IGN) }
        #endif
        defer {
            #if canImport(Darwin)
            for entry in signals { _ = signal(entry.number, SIG_DFL) }
            #endif
            for source in sources { source.cancel() }
            continuation.finish()
        }
        for await name in stream {
            return name
        }
        return nil
    }
}
