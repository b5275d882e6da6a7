import Foundation
import MeshModel
import Testing

@testable import meshctl

/// `meshctl history`'s table over the admin API's history answer.
@Suite struct HistoryCommandTests {
    @Test func rowsNameTheRevisionActorOperationAndChanges() throws {
        let answer = try JSONValue.parse(
            Data(
                """
                {"items": [
                  {"revision": 14, "time": "2026-11-30T08:03:10Z", "actor": "admin", "operation": "rollback", "rolledBackTo": 12,
                   "changes": [{"kind": "VirtualService", "namespace": "default", "name": "reviews", "action": "configured"}]},
                  {"revision": 12, "time": "2026-11-30T08:02:41Z", "actor": "loopback 127.0.0.1", "operation": "apply",
                   "changes": [{"kind": "ServiceEntry", "namespace": "default", "name": "reviews", "action": "created"},
                               {"kind": "WorkloadEntry", "namespace": "default", "name": "v1", "action": "created"},
                               {"kind": "WorkloadEntry", "namespace": "default", "name": "v2", "action": "created"},
                               {"kind": "VirtualService", "namespace": "default", "name": "reviews", "action": "created"}]}
                ], "oldestRevision": 0}
                """.utf8), what: "test")
        let lines = HistoryCommand.table(try #require(answer["items"]?.arrayValue)).split(separator: "\n").map {
            $0.components(separatedBy: "   ").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        #expect(lines[0] == ["REVISION", "TIME", "ACTOR", "OPERATION", "CHANGES"])
        #expect(lines[1] == ["14", "2026-11-30T08:03:10Z", "admin", "rollback to 12", "VirtualService default/reviews configured"])
        #expect(lines[2][3] == "apply")
        #expect(lines[2][4] == "ServiceEntry default/reviews created, WorkloadEntry default/v1 created, WorkloadEntry default/v2 created (+1 more)")
    }
}
