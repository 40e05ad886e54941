import StrataEngine
import StrataSQL
import StrataStore
import Testing

/// The paths taken for speed must keep every rule of the general ones: prepared INSERTs
/// bound once, scans that stream and stop early, ranges that drop covered conditions.
@Suite struct FastPathTests {
    @Test func preparedInsertsKeepConstraintsDefaultsAndTheAbortedState() async throws {
        let db = try await memorySession()
        _ = try await db.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT NOT NULL, n INTEGER DEFAULT 7 CHECK (n > 0), tag VARCHAR(2))")
        _ = try await db.execute("CREATE INDEX t_name ON t (name)")
        let insert = try db.prepare("INSERT INTO t (id, name, tag) VALUES ($1, $2, $3)")
        let full = try db.prepare("INSERT INTO t VALUES ($1, $2, $3, $4)")
        _ = try await db.execute("BEGIN")
        // Descending ids, then ascending: both orders of the write set.
        for id in stride(from: 20, to: 10, by: -1) { _ = try await db.execute(insert, [.int(Int64(id)), .text("n\(id)"), .null]) }
        for id in 21...30 { _ = try await db.execute(insert, [.int(Int64(id)), .text("n\(id)"), .text("ab")]) }
        #expect(try await db.execute(full, [.int(31), .text("x"), .text("5"), .null]).tag == "INSERT 0 1")  // text cast to integer
        _ = try await db.execute("COMMIT")
        #expect(try await db.rows("SELECT count(*), sum(n), min(id), max(id) FROM t") == [["21", "145", "11", "31"]])
        #expect(try await db.rows("SELECT id FROM t WHERE name = 'n25'") == [["25"]])  // index entries written

        _ = try await db.execute("BEGIN")
        #expect(await sqlState { _ = try await db.execute(insert, [.int(11), .text("dup"), .null]) } == "23505")
        #expect(await sqlState { _ = try await db.execute(insert, [.int(40), .text("ok"), .null]) } == "25P02")
        _ = try await db.execute("ROLLBACK")
        #expect(await sqlState { _ = try await db.execute(insert, [.int(41), .null, .null]) } == "23502")
        #expect(await sqlState { _ = try await db.execute(full, [.int(42), .text("a"), .int(0), .null]) } == "23514")
        #expect(await sqlState { _ = try await db.execute(insert, [.int(43), .text("a"), .text("abc")]) } == "22001")
        #expect(await sqlState { _ = try await db.execute(full, [.int(44), .text("a"), .text("x"), .null]) } == "22P02")
        #expect(try await db.rows("SELECT count(*) FROM t") == [["21"]])

        // A duplicate of a row written earlier in the same transaction, out of order.
        _ = try await db.execute("BEGIN")
        _ = try await db.execute(insert, [.int(100), .text("a"), .null])
        _ = try await db.execute(insert, [.int(50), .text("b"), .null])
        #expect(await sqlState { _ = try await db.execute(insert, [.int(100), .text("c"), .null]) } == "23505")
        _ = try await db.execute("ROLLBACK")

        // The plan follows the catalog: a column added later gets its default.
        _ = try await db.execute("ALTER TABLE t ADD COLUMN extra TEXT DEFAULT 'e'")
        _ = try await db.execute(insert, [.int(60), .text("z"), .null])
        #expect(try await db.rows("SELECT extra FROM t WHERE id = 60") == [["e"]])
    }

    @Test func preparedPointSelectsAgreeWithTheGeneralPath() async throws {
        let db = try await memorySession()
        _ = try await db.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT, n SMALLINT)")
        _ = try await db.execute("CREATE TABLE s (code TEXT PRIMARY KEY, v INTEGER)")
        _ = try await db.execute("INSERT INTO t SELECT x, 'n' || x, x % 5 FROM generate_series(1, 3000) AS g(x)")
        _ = try await db.execute("INSERT INTO s VALUES ('a', 1), ('b', 2)")
        let byId = try db.prepare("SELECT name, id FROM t WHERE id = $1")
        let filtered = try db.prepare("SELECT * FROM t WHERE id = $1 AND n > 2")
        let byCode = try db.prepare("SELECT v FROM s WHERE code = $1")
        func strings(_ r: StatementResult) -> [[String]] { r.rows.map { $0.map { $0.text ?? "NULL" } } }
        for id: Int64 in [1, 7, 2999, 3000, 3001, 0, -5] {
            let general = try await db.rows("SELECT name, id FROM t WHERE id = \(id)")
            let prepared = try await db.execute(byId, [.int(id)])
            #expect(strings(prepared) == general)
            #expect(prepared.tag == "SELECT \(general.count)")
            #expect(prepared.columns.map(\.name) == ["name", "id"])
            #expect(strings(try await db.execute(filtered, [.int(id)])) == (try await db.rows("SELECT * FROM t WHERE id = \(id) AND n > 2")))
        }
        #expect(try await db.execute(byId, [.null]).rows.isEmpty)
        let general = try await db.execute("SELECT name, id FROM t WHERE id = $1", [.double(7.5)])
        #expect(strings(try await db.execute(byId, [.double(7.5)])) == strings(general[0]))
        #expect(strings(try await db.execute(byId, [.text("7")])) == [["n7", "7"]])  // text converts
        #expect(await sqlState { _ = try await db.execute(byId, [.text("seven")]) } == "22P02")
        #expect(strings(try await db.execute(byCode, [.text("b")])) == [["2"]])
        #expect(try await db.execute(byCode, [.text("c")]).rows.isEmpty)

        // Inside a transaction: own writes are seen, and the read is tracked for conflicts.
        let other = Session(engine: db.engine)
        _ = try await db.execute("BEGIN")
        _ = try await db.execute("UPDATE t SET name = 'mine' WHERE id = 5")
        _ = try await db.execute("DELETE FROM t WHERE id = 6")
        #expect(strings(try await db.execute(byId, [.int(5)])) == [["mine", "5"]])
        #expect(try await db.execute(byId, [.int(6)]).rows.isEmpty)
        #expect(strings(try await db.execute(byId, [.int(8)])) == [["n8", "8"]])
        _ = try await other.execute("UPDATE t SET name = 'theirs' WHERE id = 8")
        #expect(await sqlState { _ = try await db.execute("COMMIT") } == "40001")
        #expect(strings(try await db.execute(byId, [.int(8)])) == [["theirs", "8"]])

        // The plan follows the catalog.
        _ = try await db.execute("ALTER TABLE t DROP COLUMN name")
        #expect(await sqlState { _ = try await db.execute(byId, [.int(1)]) } == "42703")
    }

    @Test func aLimitStopsTheScanSoFarRowsAreNotRead() async throws {
        let engine = try await Engine.open(MemoryStore())
        let a = Session(engine: engine)
        let b = Session(engine: engine)
        _ = try await a.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT)")
        _ = try await a.execute("INSERT INTO t SELECT x, 'v' FROM generate_series(1, 5000) AS g(x)")
        _ = try await a.execute("BEGIN")
        #expect(try await a.rows("SELECT id FROM t LIMIT 2") == [["1"], ["2"]])
        _ = try await a.execute("INSERT INTO t VALUES (6000, 'a')")
        // A concurrent change far past what the LIMIT read does not conflict ...
        #expect(try await b.tag("UPDATE t SET v = 'b' WHERE id = 4900") == "UPDATE 1")
        _ = try await a.execute("COMMIT")
        #expect(a.replayedCommits == 0)
        // ... but one inside the part read does (and the replay, reading 'c', cannot hide it).
        _ = try await a.execute("BEGIN")
        #expect(try await a.rows("SELECT id, v FROM t LIMIT 1") == [["1", "v"]])
        _ = try await a.execute("INSERT INTO t VALUES (6001, 'a')")
        #expect(try await b.tag("UPDATE t SET v = 'c' WHERE id = 1") == "UPDATE 1")
        #expect(await sqlState { _ = try await a.execute("COMMIT") } == "40001")
    }

    @Test func ddlInsideATransactionStillSeesEarlierTables() async throws {
        let db = try await memorySession()
        _ = try await db.execute("CREATE TABLE a (id INTEGER PRIMARY KEY)")
        _ = try await db.execute("CREATE TABLE b (id INTEGER PRIMARY KEY)")
        _ = try await db.execute("INSERT INTO a VALUES (1)")
        _ = try await db.execute("BEGIN")
        _ = try await db.execute("CREATE TABLE c (id INTEGER PRIMARY KEY)")
        #expect(try await db.rows("SELECT count(*) FROM a") == [["1"]])
        #expect(try await db.rows("SELECT count(*) FROM b") == [["0"]])
        _ = try await db.execute("COMMIT")
    }

    @Test func integerKeyRangesDropTheirConditionsOthersKeepThem() async throws {
        let db = try await memorySession()
        _ = try await db.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT)")
        _ = try await db.execute("CREATE TABLE s (k TEXT PRIMARY KEY, v INTEGER)")
        _ = try await db.execute("INSERT INTO t SELECT x, 'v' || x FROM generate_series(1, 100) AS g(x)")
        _ = try await db.execute("INSERT INTO s VALUES ('a', 1), ('b', 2), ('c', 3)")
        let plan = try await db.rows("EXPLAIN SELECT v FROM t WHERE id >= 10 AND id < 20").joined().joined(separator: "\n")
        #expect(!plan.lowercased().contains("filter"), "\(plan)")
        #expect(try await db.rows("SELECT count(*), min(id), max(id) FROM t WHERE id >= 10 AND id < 20") == [["10", "10", "19"]])
        #expect(try await db.rows("SELECT count(*) FROM t WHERE id > 10 AND id <= 20 AND v <> 'v15'") == [["9"]])
        #expect(try await db.rows("SELECT count(*) FROM t WHERE id = 5 AND id = 6") == [["0"]])
        let textPlan = try await db.rows("EXPLAIN SELECT v FROM s WHERE k >= 'b'").joined().joined(separator: "\n")
        #expect(textPlan.lowercased().contains("filter"), "\(textPlan)")
        #expect(try await db.rows("SELECT v FROM s WHERE k >= 'b' ORDER BY k") == [["2"], ["3"]])
    }
}
