import PropertyBased
import StrataEngine
@testable import StrataSQL
import Testing

/// What a statement gave: its rows and column types, or the SQLSTATE it failed with.
private struct Outcome: Equatable, CustomStringConvertible {
    var rows: [[String]] = []
    var types: [SQLType] = []
    var tag = ""
    var sqlState: String?

    var description: String { sqlState.map { "error \($0)" } ?? "\(tag) \(types) \(rows)" }
}

private func outcome(_ session: Session, _ sql: String) async -> Outcome {
    do {
        guard let r = try await session.execute(sql).last else { return Outcome() }
        return Outcome(rows: r.rows.map { $0.map { $0.text ?? "NULL" } }, types: r.columns.map(\.type), tag: r.tag)
    } catch let e as SQLError {
        return Outcome(sqlState: e.sqlState)
    } catch let e as EngineError {
        return Outcome(sqlState: e.sqlState)
    } catch {
        return Outcome(sqlState: "?")
    }
}

/// Two sessions on two databases: one looks statements up by shape, the other parses each.
private func pair(_ setup: [String]) async throws -> (cached: Session, plain: Session) {
    let cached = try await memorySession()
    let plain = try await memorySession()
    plain.cachesStatements = false
    for s in setup {
        _ = try await cached.execute(s)
        _ = try await plain.execute(s)
    }
    return (cached, plain)
}

private let schema = [
    "CREATE TABLE t (a INTEGER PRIMARY KEY, b INTEGER, c BIGINT, d TEXT, e NUMERIC, f DATE)",
    "INSERT INTO t VALUES (1, 10, 100, 'one', 1.5, '2024-01-01'), (2, 20, 200, 'two', 2.5, '2024-02-01'), (3, NULL, 300, 'three', NULL, NULL)",
]

@Suite struct StatementCacheTests {
    @Test func statementsThatDifferInLiteralsShareOnePlan() async throws {
        let session = try await memorySession()
        _ = try await session.execute("CREATE TABLE acc (id INTEGER PRIMARY KEY, balance INTEGER)")
        for i in 1...20 { _ = try await session.execute("INSERT INTO acc VALUES (\(i), \(i * 10))") }
        for i in 1...20 {
            _ = try await session.execute("UPDATE acc SET balance = balance + -\(i) WHERE id = \(i)")
            #expect(try await session.rows("SELECT balance FROM acc WHERE id = \(i)") == [["\(i * 9)"]])
        }
        // The INSERT, UPDATE and SELECT shapes each planned once, then hit.
        #expect(session.statementCache.hits >= 19 * 3)
        #expect(session.statementCache.entries.count == 4)  // and the CREATE TABLE, not cached
    }

    @Test func literalsThatAreNotParametersKeepTheirMeaning() async throws {
        let (cached, plain) = try await pair(schema)
        let statements = [
            "SELECT a, d FROM t ORDER BY 1", "SELECT a, d FROM t ORDER BY 2", "SELECT a FROM t ORDER BY a LIMIT 1", "SELECT a FROM t ORDER BY a LIMIT 2",
            "SELECT a + 1 FROM t WHERE a = 1", "SELECT a + 3000000000 FROM t WHERE a = 1", "SELECT a + 1 FROM t WHERE a = 2",
            "SELECT b + 1, count(*) FROM t GROUP BY b + 1 ORDER BY 1", "SELECT b + 2, count(*) FROM t GROUP BY b + 2 ORDER BY 1",
            "SELECT substr(d, 1, 2) FROM t WHERE a = 2", "SELECT substr(d, 2, 2) FROM t WHERE a = 2", "SELECT 1", "SELECT 2", "SELECT 'x'",
            "SELECT a FROM t WHERE a IN (1, 3) ORDER BY a", "SELECT a FROM t WHERE a IN (2, 3) ORDER BY a",
            "SELECT a FROM t WHERE b BETWEEN 5 AND 15", "SELECT a FROM t WHERE b BETWEEN 15 AND 25",
            "SELECT a FROM t WHERE e > 2.0", "SELECT a FROM t WHERE e > 1.0 ORDER BY a", "SELECT a FROM t WHERE b = 10.5", "SELECT a FROM t WHERE b = 10.0",
            "SELECT a FROM t WHERE f = '2024-02-01'", "SELECT a FROM t WHERE f = '2024-01-01'", "SELECT a FROM t WHERE f > date '2024-01-15'",
            "SELECT a FROM t WHERE d = 'two'", "SELECT a FROM t WHERE d = 'one'", "SELECT a FROM t WHERE d LIKE 't%' ORDER BY a", "SELECT a FROM t WHERE d LIKE 'o%'",
            "SELECT a FROM t WHERE b = '20'", "SELECT a FROM t WHERE b = '10'", "SELECT a FROM t WHERE b = 'x'", "SELECT a FROM t WHERE c = 9999999999",
            "SELECT CASE WHEN a = 1 THEN 'x' ELSE 'y' END FROM t ORDER BY a", "SELECT CASE WHEN a = 2 THEN 'z' ELSE 'w' END FROM t ORDER BY a",
            "SELECT a FROM t WHERE a = -1", "SELECT a FROM t WHERE a = - 2", "SELECT a FROM t WHERE a = 2147483648",
            "UPDATE t SET b = b + 1 WHERE a = 1", "UPDATE t SET d = 'uno' WHERE a = 1", "UPDATE t SET d = 'dos', b = 7 WHERE a = 2",
            "UPDATE t SET b = 'nope' WHERE a = 2", "UPDATE t SET f = '2025-03-04' WHERE a = 3",
            "INSERT INTO t VALUES (4, 40, 400, 'four', 4.5, '2024-04-04')", "INSERT INTO t VALUES (5, '50', 500, 'five', 5, NULL)",
            "INSERT INTO t VALUES (6, 'x', 600, 'six', 6, NULL)", "INSERT INTO t VALUES (4, 1, 1, 'dup', 1, NULL)",
            "INSERT INTO t (a, d) VALUES (7, 'seven') RETURNING a, d, b", "DELETE FROM t WHERE a = 7 RETURNING d", "DELETE FROM t WHERE a = 70",
            "SELECT * FROM t ORDER BY a",
        ]
        for sql in statements {
            let expected = await outcome(plain, sql)
            let actual = await outcome(cached, sql)
            #expect(actual == expected, "\(sql)")
        }
        // IN, BETWEEN, a date, a text, a string for an integer and a decimal: each second one hits.
        #expect(cached.statementCache.hits >= 6)
    }

    @Test func aStringThatDoesNotConvertFailsTheTransaction() async throws {
        let (cached, _) = try await pair(schema)
        #expect(try await cached.rows("SELECT a FROM t WHERE b = '10'") == [["1"]])
        _ = try await cached.execute("BEGIN")
        #expect(await cached.sqlState("SELECT a FROM t WHERE b = 'ten'") == "22P02")
        #expect(await cached.sqlState("SELECT a FROM t WHERE b = '20'") == "25P02")
        _ = try await cached.execute("ROLLBACK")
        #expect(try await cached.rows("SELECT a FROM t WHERE b = '20'") == [["2"]])
    }

    @Test func aChangedSchemaChangesWhatStringsBecome() async throws {
        let session = try await memorySession()
        _ = try await session.execute("CREATE TABLE v (k INTEGER PRIMARY KEY, c INTEGER)")
        _ = try await session.execute("INSERT INTO v VALUES (1, 5)")
        #expect(try await session.rows("SELECT k FROM v WHERE c = '05'") == [["1"]])
        _ = try await session.execute("DROP TABLE v")
        _ = try await session.execute("CREATE TABLE v (k INTEGER PRIMARY KEY, c TEXT)")
        _ = try await session.execute("INSERT INTO v VALUES (1, '5')")
        _ = try await session.execute("INSERT INTO v VALUES (2, '05')")
        #expect(try await session.rows("SELECT k FROM v WHERE c = '05'") == [["2"]])
    }

    /// Random queries, each run with several sets of literals: a session that caches by
    /// shape answers exactly as one that parses every statement.
    @Test func randomQueriesAnswerAsWithoutTheCache() async throws {
        await propertyCheck(count: 60, input: Gen.int(in: 0...Int.max)) { seed in
            var gen = QueryGenerator(rng: SeededRandom(state: UInt64(seed)))
            guard let (cached, plain) = try? await pair(gen.setup()) else {
                Issue.record("cannot set up seed \(seed)")
                return
            }
            for _ in 0..<12 {
                let query = gen.query()
                for _ in 0..<4 {
                    let sql = Self.withOtherLiterals(query, &gen)
                    let expected = await outcome(plain, sql)
                    let actual = await outcome(cached, sql)
                    #expect(actual.sqlState == expected.sqlState, "seed \(seed): \(sql)")
                    #expect(actual.types == expected.types, "seed \(seed): \(sql)")
                    #expect(actual.rows.sorted { $0.lexicographicallyPrecedes($1) } == expected.rows.sorted { $0.lexicographicallyPrecedes($1) },
                            "seed \(seed): \(sql)")
                }
            }
        }
    }

    /// `sql` with each integer and string literal replaced by another of its kind.
    static func withOtherLiterals(_ sql: String, _ gen: inout QueryGenerator) -> String {
        guard let tokens = try? Lexer.tokenize(sql) else { return sql }
        let bytes = Array(sql.utf8)
        var out: [UInt8] = []
        var copied = 0
        for t in tokens {
            let replacement: String
            switch t.kind {
            case .integer: replacement = String(gen.int(0...6))
            case .string: replacement = "'" + gen.pick(["a", "b", "ab", "", "7"]) + "'"
            default: continue
            }
            out.append(contentsOf: bytes[copied..<t.range.lowerBound])
            out.append(contentsOf: replacement.utf8)
            copied = t.range.upperBound
        }
        out.append(contentsOf: bytes[copied...])
        return String(decoding: out, as: UTF8.self)
    }
}
