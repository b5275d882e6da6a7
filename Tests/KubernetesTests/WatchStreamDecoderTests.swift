import Kubernetes
import MeshModel
import Testing

@Suite("Kubernetes watch and list decoding")
struct WatchStreamDecoderTests {
    private let added = #"{"type":"ADDED","object":{"kind":"Pod","metadata":{"name":"a","namespace":"ns","resourceVersion":"7"}}}"#

    @Test func eventsSplitAnywhereAcrossChunksAreDecodedOnce() {
        let stream = Array((added + "\n" + #"{"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":"9"}}}"# + "\n").utf8)
        for cut in [1, 10, 60, stream.count - 1] {
            var decoder = WatchStreamDecoder()
            let inputs = decoder.feed(stream[..<cut]) + decoder.feed(stream[cut...])
            #expect(
                inputs == [
                    .event(
                        .added(
                            KubeObject(
                                key: ObjectKey(namespace: "ns", name: "a"), resourceVersion: "7", body: inputs.first.flatMap(Self.body) ?? .null))),
                    .event(.bookmark(resourceVersion: "9")),
                ], "cut at \(cut)")
            #expect(!decoder.hasPartialEvent)
        }
        var decoder = WatchStreamDecoder()
        _ = decoder.feed(Array(added.utf8.prefix(20)))
        #expect(decoder.hasPartialEvent)  // a stream ending here ended mid-event
    }

    @Test func a410IsGoneAndOtherErrorsFail() {
        #expect(
            WatchStreamDecoder.event(
                #"{"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old resource version: 1 (5)"}}"#) == .gone)
        #expect(WatchStreamDecoder.event(#"{"type":"ERROR","object":{"kind":"Status","code":500,"message":"boom"}}"#) == .failed("watch error: boom"))
        #expect(WatchStreamDecoder.event("not json") == .failed("an undecodable watch event"))
        #expect(
            WatchStreamDecoder.event(#"{"type":"ADDED","object":{"metadata":{"name":"a"}}}"#)
                == .failed("a ADDED event whose object has no name or resourceVersion"))
    }

    @Test func listsArePagesAndAnExpiredContinueIsGone() {
        let page = WatchStreamDecoder.listPage(
            #"{"kind":"PodList","metadata":{"resourceVersion":"12","continue":"abc"},"items":[{"metadata":{"name":"a","namespace":"ns","resourceVersion":"3"}}]}"#
        )
        guard case .listPage(let items, let token, let version) = page else {
            Issue.record("expected a page, got \(page)")
            return
        }
        #expect(items.map(\.key.name) == ["a"] && token == "abc" && version == "12")
        let last = WatchStreamDecoder.listPage(#"{"metadata":{"resourceVersion":"12","continue":""},"items":[]}"#)
        #expect(last == .listPage(items: [], continueToken: nil, resourceVersion: "12"))
        #expect(WatchStreamDecoder.listPage(#"{"kind":"Status","code":410,"reason":"Expired","message":"continue expired"}"#) == .gone)
    }

    private static func body(_ input: ListWatchMachine.Input) -> JSONValue? {
        if case .event(.added(let object)) = input { return object.body }
        return nil
    }
}
