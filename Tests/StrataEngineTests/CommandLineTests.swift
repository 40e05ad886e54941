import Foundation
import Testing

@Suite struct CommandLineTests {
    @Test func kvLogAndVerifyOnADirectory() async throws {
        let db = temporaryDirectory() + "/db"
        #expect(try await runStrata(["kv", db, "put", "color", "blue"]) == (0, "committed 1\n"))
        #expect(try await runStrata(["kv", db, "put", "color", "green"]) == (0, "committed 2\n"))
        #expect(try await runStrata(["kv", db, "put", "shape", "round"]) == (0, "committed 3\n"))
        #expect(try await runStrata(["kv", db, "get", "color"]) == (0, "green\n"))
        #expect(try await runStrata(["kv", db, "get", "color", "--at", "1"]) == (0, "blue\n"))
        #expect(try await runStrata(["kv", db, "delete", "color"]) == (0, "committed 4\n"))
        let missing = try await runStrata(["kv", db, "get", "color"])
        #expect(missing.status == 1 && missing.output.contains("not found"))
        #expect(try await runStrata(["kv", db, "scan"]) == (0, "shape\tround\n"))
        #expect(try await runStrata(["kv", db, "scan", "--at", "2"]) == (0, "color\tgreen\n"))
        let history = try await runStrata(["kv", db, "history", "color"]).output.split(separator: "\n")
        #expect(history.count == 3)
        #expect(history[0].hasPrefix("4\t") && history[0].contains("\tdelete"))
        #expect(history[2].hasPrefix("1\t") && history[2].hasSuffix("\tput\tblue"))
        let log = try await runStrata(["log", db]).output.split(separator: "\n")
        #expect(log.count == 4)
        let fields = log[1].split(separator: "\t")
        #expect(fields[0] == "2" && fields[3].count == 64 && fields[4] == "commit 1 key(s)")
        #expect(try await runStrata(["verify", db]).status == 0)

        // Change one byte of one log entry: verify fails and names it.
        let victim = db + "/log/main/00000000000000000002"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: victim))
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: victim))
        let bad = try await runStrata(["verify", db])
        #expect(bad.status == 1)
        #expect(bad.output.contains("log/main/00000000000000000002"))

        let usage = try await runStrata(["kv", db, "frobnicate", "x"])
        #expect(usage.status != 0 && usage.output.contains("unknown verb"))
    }

    @Test func demoRunsTwiceOnTheSameDirectory() async throws {
        let db = temporaryDirectory() + "/demo"
        let first = try await runStrata(["demo", db])
        #expect(first.status == 0, "\(first.output)")
        #expect(first.output.contains("as of 1:  greeting = hello"))
        let second = try await runStrata(["demo", db])
        #expect(second.status == 0)
        #expect(second.output.contains("visits = 2"))
        #expect(second.output.contains("verify: 4 log entries"))
    }
}
