import Foundation
import Testing

/// The offset of entry `seq`'s record in a journal file.
func findRecord(_ seq: UInt64, in data: Data) -> Int? {
    var p = 0
    let bytes = [UInt8](data)
    while p + 16 <= bytes.count {
        let len = bytes[(p + 12)..<(p + 16)].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let s = bytes[(p + 4)..<(p + 12)].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        if s == seq { return p }
        p += 16 + len + 4
    }
    return nil
}

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

        // Change one byte of log entry 2 in the branch's journal: verify fails and names it,
        // and a writer refuses to commit rather than cut the log short.
        let journal = db + "/log/main/.journal"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: journal))
        let entryTwo = try #require(findRecord(2, in: bytes))
        bytes[entryTwo + 20] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: journal))
        let bad = try await runStrata(["verify", db])
        #expect(bad.status == 1)
        #expect(bad.output.contains("log/main/00000000000000000002"), "\(bad.output)")
        let refused = try await runStrata(["kv", db, "put", "x", "y"])
        #expect(refused.status != 0 && refused.output.contains("damaged"), "\(refused.output)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: journal)).count == bytes.count, "the journal was cut short")

        let usage = try await runStrata(["kv", db, "frobnicate", "x"])
        #expect(usage.status != 0 && usage.output.contains("unknown verb"))
    }

    @Test func demoRunsTwiceOnTheSameDirectory() async throws {
        let db = temporaryDirectory() + "/demo"
        let first = try await runStrata(["demo", db])
        #expect(first.status == 0, "\(first.output)")
        // After the first run: coffee was inserted at 2.50 and raised to 2.75; AS OF shows 2.50.
        #expect(first.output.contains(" coffee |  2.75 |    1\n"))
        #expect(first.output.contains("FOR SYSTEM_TIME AS OF VERSION 2 ORDER BY item\n item   | price\n--------+-------\n coffee |   2.5\n"))
        let second = try await runStrata(["demo", db])
        #expect(second.status == 0)
        #expect(second.output.contains(" coffee |     3 |    2\n"))
        // Four versions of coffee: insert, update, upsert, update.
        #expect(second.output.components(separatedBy: "| update |").count - 1 == 3)
        #expect(second.output.contains("| insert |"))
        #expect(second.output.contains("verify: 5 log entries"))
    }

    @Test func sqlCommandFormats() async throws {
        let db = temporaryDirectory() + "/sql"
        #expect(try await runStrata(["sql", db, "CREATE TABLE t (id INT PRIMARY KEY, name TEXT); INSERT INTO t VALUES (1, 'a,b'), (2, NULL)"])
            == (0, "CREATE TABLE\nINSERT 0 2\n"))
        #expect(try await runStrata(["sql", db, "SELECT * FROM t ORDER BY id"])
            == (0, " id | name\n----+------\n  1 | a,b \n  2 |     \n(2 rows)\n"))
        #expect(try await runStrata(["sql", db, "SELECT * FROM t ORDER BY id", "--format", "csv"]) == (0, "id,name\n1,\"a,b\"\n2,\n"))
        #expect(try await runStrata(["sql", db, "SELECT * FROM t ORDER BY id", "--format", "json"])
            == (0, "[{\"id\":1,\"name\":\"a,b\"},\n {\"id\":2,\"name\":null}]\n"))
        let bad = try await runStrata(["sql", db, "SELECT nope FROM t"])
        #expect(bad.status == 1 && bad.output.contains("42703"))
    }

    @Test func shellRunsMultiLineStatementsAndBackslashCommands() async throws {
        let db = temporaryDirectory() + "/shell"
        let script = "CREATE TABLE t (id INT PRIMARY KEY,\n  v TEXT NOT NULL);\nINSERT INTO t VALUES (1, 'x');\n\\dt\n\\d t\nSELECT v\nFROM t;\nSELECT bad;\n\\s\n"
        let (status, output) = try await runStrata(["shell", db], input: script)
        #expect(status == 0)
        #expect(output.contains("CREATE TABLE\nINSERT 0 1\n"))
        #expect(output.contains(" t    | table\n"))
        #expect(output.contains(" v      | text    | not null |"))
        #expect(output.contains(" v\n---\n x\n(1 row)\n"))
        #expect(output.contains("ERROR: column \"bad\" does not exist"))
        #expect(output.contains("3  SELECT v\nFROM t;"))
    }
}
