import Foundation
import StrataEngine
import StrataSQL
import Testing

/// Random and mutated statements: the parser and executor may reject them, but only
/// with typed errors carrying a SQLSTATE, never by crashing.
@Suite struct FuzzTests {
    static let fragments = [
        "SELECT", "FROM", "WHERE", "t", "u", "a", "b", "(", ")", ",", "*", "+", "-", "/", "%", "=", "<", ">=", "<>", "AND", "OR", "NOT",
        "NULL", "1", "0", "-9223372036854775808", "2147483647", "1.5e308", "'x'", "''", "$1", "CASE", "WHEN", "THEN", "ELSE", "END",
        "IN", "EXISTS", "BETWEEN", "IS", "GROUP", "BY", "ORDER", "HAVING", "LIMIT", "OFFSET", "UNION", "JOIN", "ON", "LEFT", "AS",
        "count(*)", "sum(", "max(", "coalesce(", "CAST(", "::", "INTEGER", "TEXT", "DISTINCT", "INSERT", "INTO", "VALUES", "UPDATE",
        "SET", "DELETE", "CREATE", "TABLE", "INDEX", "DROP", "PRIMARY", "KEY", "OVER", "PARTITION", "row_number()", "WITH", ";",
        "FOR", "SYSTEM_TIME", "ALL", "OF", "VERSION", "TIMESTAMP", "'2020-01-01'", "E'\\\\x'", "$$a$$", "/*", "*/", "--", "\"q\"",
    ]

    static func setUp() async throws -> Session {
        let s = try await memorySession()
        _ = try await s.execute("""
            CREATE TABLE t (a INT PRIMARY KEY, b TEXT, c DOUBLE PRECISION);
            CREATE TABLE u (a INT, b INT);
            CREATE INDEX u_a ON u (a);
            INSERT INTO t VALUES (1, 'x', 1.5), (2, NULL, -0.5), (3, 'yy', NULL);
            INSERT INTO u VALUES (1, 10), (NULL, 20), (3, NULL);
            """)
        return s
    }

    /// Runs `sql`; any error must be a coded SQL or engine error.
    static func survive(_ s: Session, _ sql: String) async -> Bool {
        do {
            _ = try await s.execute(sql, [.int(1)])
            return true
        } catch let e as SQLError {
            #expect(e.sqlState.count == 5, "\(sql)")
        } catch let e as EngineError {
            #expect(e.sqlState.count == 5, "\(sql)")
        } catch {
            Issue.record("untyped error \(error) from: \(sql)")
        }
        if s.inTransaction { _ = try? await s.execute("ROLLBACK") }
        return false
    }

    @Test func randomTokenSequences() async throws {
        let s = try await Self.setUp()
        var rng = SeededRandom(state: 42)
        var succeeded = 0
        for _ in 0..<3000 {
            let n = Int.random(in: 1...14, using: &rng)
            let sql = (0..<n).map { _ in Self.fragments[Int.random(in: 0..<Self.fragments.count, using: &rng)] }.joined(separator: " ")
            if await Self.survive(s, sql) { succeeded += 1 }
        }
        #expect(try await s.rows("SELECT count(*) FROM t") .count == 1)
        #expect(succeeded < 3000)
    }

    @Test func mutatedStatements() async throws {
        let s = try await Self.setUp()
        let seeds = [
            "SELECT a, b FROM t WHERE a > 1 ORDER BY b DESC",
            "SELECT u.a, count(*) FROM t JOIN u ON t.a = u.a GROUP BY u.a HAVING count(*) > 0",
            "INSERT INTO u VALUES (5, 6), (7, 8)",
            "UPDATE u SET b = b + 1 WHERE a IN (SELECT a FROM t)",
            "SELECT CASE WHEN c > 0 THEN 'p' ELSE 'n' END, coalesce(b, 'none') FROM t",
            "SELECT a, row_number() OVER (ORDER BY a) FROM t FOR SYSTEM_TIME ALL",
            "WITH x AS (SELECT a FROM u) SELECT * FROM x WHERE a = $1",
            "DELETE FROM u WHERE b IS NULL",
        ]
        var rng = SeededRandom(state: 7)
        for _ in 0..<3000 {
            var bytes = Array(seeds[Int.random(in: 0..<seeds.count, using: &rng)].utf8)
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let i = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0...3, using: &rng) {
                case 0: bytes[i] = UInt8.random(in: 32...126, using: &rng)
                case 1: bytes.remove(at: i)
                case 2: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: i)
                default: bytes.insert(contentsOf: bytes[i..<min(bytes.count, i + 8)], at: i)
                }
                if bytes.isEmpty { bytes = [0x31] }
            }
            _ = await Self.survive(s, String(decoding: bytes, as: UTF8.self))
        }
        // The database is still consistent: every index entry points at a row.
        #expect(try await s.rows("SELECT count(*) FROM u WHERE a = 1 OR a IS NULL OR a <> 1") == s.rows("SELECT count(*) FROM u"))
    }

    @Test func hostileNestingIsAnError() async throws {
        let s = try await Self.setUp()
        for sql in [
            String(repeating: "(", count: 100_000) + "1" + String(repeating: ")", count: 100_000),
            "SELECT " + String(repeating: "- ", count: 100_000) + "1",
            "SELECT " + String(repeating: "NOT ", count: 100_000) + "true",
            String(repeating: "SELECT (", count: 20_000) + "1" + String(repeating: ")", count: 20_000),
            "SELECT " + String(repeating: "CASE WHEN true THEN ", count: 50_000) + "1",
            "SELECT 1" + String(repeating: " + 1", count: 200_000),
        ] {
            do {
                _ = try await s.execute(sql)
                Issue.record("nesting this deep must be refused: \(sql.prefix(40))…")
            } catch let e as SQLError {
                #expect(["54001", "42601"].contains(e.sqlState))
            }
        }
    }
}
