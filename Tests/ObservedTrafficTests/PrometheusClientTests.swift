import Testing

@testable import ObservedTraffic

/// Reading Prometheus' answers, and what its refusals and wrong URLs become.
@Suite struct PrometheusClientTests {
    @Test func anInstantVectorIsRead() throws {
        let text = """
            {"status":"success","data":{"resultType":"vector","result":[
              {"metric":{"meshd_host":"h","meshd_subset":"v1"},"value":[1700000000.1,"12.5"]},
              {"metric":{"meshd_host":"h","meshd_subset":"v2"},"value":[1700000000.1,"NaN"]},
              {"metric":{},"value":[1700000000.1,"+Inf"]}]}}
            """
        let samples = try PrometheusClient.vector(from: text, status: 200, baseURL: "http://p")
        #expect(samples.count == 3)
        #expect(samples[0] == PrometheusSample(labels: ["meshd_host": "h", "meshd_subset": "v1"], value: 12.5))
        #expect(samples[1].value.isNaN)
        #expect(samples[2].value == .infinity)
    }

    @Test func prometheusErrorsAreUnavailableWithItsMessage() {
        let text = #"{"status":"error","errorType":"bad_data","error":"parse error at char 3"}"#
        #expect(throws: ObservedTrafficError.unavailable("Prometheus at http://p refused the query (bad_data): parse error at char 3")) {
            try PrometheusClient.vector(from: text, status: 400, baseURL: "http://p")
        }
        #expect(throws: ObservedTrafficError.self) { try PrometheusClient.vector(from: "<html>", status: 200, baseURL: "http://p") }
        #expect(throws: ObservedTrafficError.self) {
            try PrometheusClient.vector(from: #"{"status":"success","data":{"resultType":"matrix","result":[]}}"#, status: 200, baseURL: "http://p")
        }
    }

    @Test func onlyHTTPURLsAreAccepted() throws {
        #expect(try PrometheusClient(baseURL: "http://127.0.0.1:9090/").baseURL == "http://127.0.0.1:9090")
        for bad in ["127.0.0.1:9090", "ftp://p", "http://", ""] {
            #expect(throws: ObservedTrafficError.self) { try PrometheusClient(baseURL: bad) }
        }
    }

    @Test func queriesAreFormEncoded() {
        #expect(PrometheusClient.formEncoded(#"sum(x{a="b c"}) + 1"#) == "sum%28x%7Ba%3D%22b+c%22%7D%29+%2B+1")
    }

    @Test func anUnreachableServerIsNamed() async throws {
        // Port 9 on loopback (discard) has no listener here: the connection is refused at once.
        let client = try PrometheusClient(baseURL: "http://127.0.0.1:9", timeout: .seconds(2))
        await #expect(throws: ObservedTrafficError.self) { try await client.query("up") }
        do {
            _ = try await client.query("up")
        } catch {
            #expect(error.description == "Prometheus at http://127.0.0.1:9 cannot be reached: connection refused")
        }
    }
}
