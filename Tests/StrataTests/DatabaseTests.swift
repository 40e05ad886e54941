import Foundation
import Strata
import Testing

@Suite struct DatabaseTests {
    struct Note: Decodable, Equatable {
        var id: Int
        var body: String
        var score: Double?
    }

    @Test func executeQueryAndDecode() async throws {
        let db = try await Database.open("memory:")
        try await db.execute("CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL, score DOUBLE PRECISION)")
        #expect(try await db.execute("INSERT INTO notes VALUES ($1, $2, $3), (2, 'two', NULL)", [1, "one", 0.5]) == 2)
        let rows = try await db.query("SELECT id, body, score FROM notes ORDER BY id")
        #expect(rows.count == 2)
        #expect(rows[0][0] == .int(1))
        #expect(rows[0]["body"] == .text("one"))
        #expect(rows[1]["score"] == .null)
        #expect(rows[1]["missing"] == nil)
        let notes = try await db.query(Note.self, "SELECT * FROM notes ORDER BY id")
        #expect(notes == [Note(id: 1, body: "one", score: 0.5), Note(id: 2, body: "two", score: nil)])
        var streamed: [String] = []
        for try await row in db.stream("SELECT body FROM notes ORDER BY id DESC") { streamed.append(row[0].text ?? "") }
        #expect(streamed == ["two", "one"])
    }

    @Test func errorsCarrySQLState() async throws {
        let db = try await Database.open("memory:")
        await #expect(throws: SQLError.self) { try await db.execute("SELECT * FROM nowhere") }
        do {
            try await db.execute("SELEC 1")
            Issue.record("expected a syntax error")
        } catch SQLError.syntaxError {
            // matched by code
        }
    }

    @Test func transactionsRetryOnSerializationFailure() async throws {
        let db = try await Database.open("memory:")
        try await db.execute("CREATE TABLE counter (id INT PRIMARY KEY, n INT); INSERT INTO counter VALUES (1, 0)")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<10 {
                        try await db.transaction { tx in
                            let n = try await tx.query("SELECT n FROM counter WHERE id = 1")[0][0]
                            guard case .int(let v) = n else { return }
                            try await tx.execute("UPDATE counter SET n = $1 WHERE id = 1", [.int(v + 1)])
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await db.query("SELECT n FROM counter")[0][0] == .int(80))
    }

    @Test func directoryDatabaseKeepsHistoryAcrossReopen() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("strata-db-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var db = try await Database.open(dir)
        try await db.execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)")
        try await db.execute("INSERT INTO kv VALUES ('a', 'first')")
        let before = db.version
        try await db.execute("UPDATE kv SET v = 'second'")
        await db.close()
        db = try await Database.open(dir)
        #expect(try await db.query("SELECT v FROM kv")[0][0] == .text("second"))
        #expect(try await db.query("SELECT v FROM kv FOR SYSTEM_TIME AS OF VERSION \(before)")[0][0] == .text("first"))
        await db.close()
    }
}
