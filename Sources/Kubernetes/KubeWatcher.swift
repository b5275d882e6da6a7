import AsyncHTTPClient
import Foundation
import MeshModel
import NIOCore

/// Runs a `ListWatchMachine` for one collection against the API server: makes the requests it
/// asks for, feeds back what came of them, and hands the store changes to `apply` in order.
/// Runs until cancelled.
public struct KubeWatcher: Sendable {
    /// What the watcher reports besides store changes.
    public enum Report: Sendable {
        /// The machine's counters after a step.
        case progress(ListWatchMachine)
        /// A request failed (it is retried after a backoff).
        case failure(String)
        /// A `410 Gone` arrived: a relist follows.
        case gone
        /// A watch is open (the server answered 200): the API server is reachable again.
        case watching
    }

    /// What is listed and watched.
    public let collection: KubeCollection
    let api: KubeAPIClient
    let pageSize: Int
    /// The server-side watch timeout asked for; client-go picks 5–10 minutes at random so a
    /// fleet of clients does not reconnect at once.
    let watchTimeout: ClosedRange<Int>

    /// A watcher of `collection`, listing `pageSize` objects per page.
    public init(collection: KubeCollection, api: KubeAPIClient, pageSize: Int = 500, watchTimeout: ClosedRange<Int> = 300...600) {
        self.collection = collection
        self.api = api
        self.pageSize = pageSize
        self.watchTimeout = watchTimeout
    }

    /// Lists and watches until cancelled; `apply` gets every store change (and `synced`) of
    /// each step together, `report` the machine's state after it.
    public func run(
        apply: @Sendable ([ListWatchMachine.Effect]) async -> Void, report: @Sendable (Report) async -> Void
    ) async {
        var machine = ListWatchMachine(pageSize: pageSize)
        var effects = machine.handle(.start)
        while !Task.isCancelled {
            let changes = effects.filter {
                if case .upsert = $0 { true } else if case .delete = $0 { true } else if case .synced = $0 { true } else { false }
            }
            // The counters first, so a resource never shows as synced with no list made.
            await report(.progress(machine))
            if !changes.isEmpty { await apply(changes) }
            var next: [ListWatchMachine.Effect] = []
            for effect in effects {
                switch effect {
                case .upsert, .delete, .synced:
                    continue
                case .wait(let delay):
                    do { try await Task.sleep(for: delay) } catch { return }
                    next += machine.handle(.backoffElapsed)
                case .send(.list(let limit, let token)):
                    let input = await list(limit: limit, continueToken: token)
                    await note(input, report)
                    next += machine.handle(input)
                case .send(.watch(let version)):
                    next += await watch(from: version, machine: &machine, apply: apply, report: report)
                }
            }
            effects = next
        }
    }

    /// One list page as the machine's input.
    private func list(limit: Int, continueToken: String?) async -> ListWatchMachine.Input {
        var query = collection.query + [("limit", "\(limit)")]
        if let continueToken { query.append(("continue", continueToken)) }
        do {
            let response = try await api.get(collection.path, query: query)
            if response.status == 410 { return .gone }
            guard response.status == 200 else { return .failed("list \(collection): HTTP \(response.status): \(Self.message(response.body))") }
            return WatchStreamDecoder.listPage(response.body)
        } catch {
            return .failed("list \(collection): \(error)")
        }
    }

    /// Watches from `version`, feeding events to `machine` and applying what they change, until
    /// the stream ends or an event makes the machine ask for something else; returns the
    /// machine's next effects (a new watch, a relist, a backoff).
    private func watch(
        from version: String, machine: inout ListWatchMachine,
        apply: @Sendable ([ListWatchMachine.Effect]) async -> Void, report: @Sendable (Report) async -> Void
    ) async -> [ListWatchMachine.Effect] {
        let timeout = Int.random(in: watchTimeout)
        let query =
            collection.query + [
                ("watch", "1"), ("allowWatchBookmarks", "true"), ("resourceVersion", version), ("timeoutSeconds", "\(timeout)"),
            ]
        let ending: ListWatchMachine.Input
        do {
            // The server ends the watch after `timeoutSeconds`; the deadline only catches a
            // server that stops talking without closing.
            let response = try await api.stream(collection.path, query: query, deadline: .seconds(timeout + 30))
            if response.status.code == 410 {
                ending = .gone
            } else if response.status.code != 200 {
                let body = (try? await response.body.collect(upTo: 64 * 1024)).map { String(buffer: $0) } ?? ""
                ending = .failed("watch \(collection): HTTP \(response.status.code): \(Self.message(body))")
            } else {
                _ = machine.handle(.watchOpened)
                await report(.watching)
                var decoder = WatchStreamDecoder()
                for try await chunk in response.body {
                    for input in decoder.feed(chunk.readableBytesView) {
                        await note(input, report)
                        let effects = machine.handle(input)
                        let changes = effects.filter { if case .send = $0 { false } else if case .wait = $0 { false } else { true } }
                        if !changes.isEmpty { await apply(changes) }
                        // A 410 or a failure: the machine has moved on; this stream is done.
                        if effects.count != changes.count { return effects.filter { !changes.contains($0) } }
                    }
                    // Events and bookmarks move the resume point; the status shows it.
                    await report(.progress(machine))
                }
                ending = decoder.hasPartialEvent ? .failed("watch \(collection): the stream ended mid-event") : .watchEnded
            }
        } catch {
            ending = .failed("watch \(collection): \(error)")
        }
        await note(ending, report)
        return machine.handle(ending)
    }

    private func note(_ input: ListWatchMachine.Input, _ report: @Sendable (Report) async -> Void) async {
        switch input {
        case .gone: await report(.gone)
        case .failed(let message): await report(.failure(message))
        default: break
        }
    }

    /// A Kubernetes `Status` body's message, else the body's start.
    public static func message(_ body: String) -> String {
        if let value = try? JSONValue.parse(json: body), let message = value["message"]?.stringValue { return message }
        return String(body.prefix(200))
    }
}
