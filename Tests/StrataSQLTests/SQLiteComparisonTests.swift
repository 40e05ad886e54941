import CSQLite
import PropertyBased
import StrataEngine
import StrataSQL
import Testing

/// A deterministic random generator (SplitMix64), so a failing seed reproduces.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random schema, data and queries in the dialect Strata and SQLite share:
/// small integers (no overflow), lower-case text, no division.
struct QueryGenerator {
    var rng: SeededRandom

    mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &rng)] }
    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &rng) < p }
    mutating func int(_ r: ClosedRange<Int>) -> Int { Int.random(in: r, using: &rng) }

    mutating func setup() -> [String] {
        var out = ["CREATE TABLE t1 (a INTEGER PRIMARY KEY, b INTEGER, c INTEGER, d TEXT)", "CREATE TABLE t2 (x INTEGER, y INTEGER, z TEXT)"]
        if chance(0.5) { out.append("CREATE INDEX t2x ON t2 (x)") }
        if chance(0.5) { out.append("CREATE INDEX t1b ON t1 (b)") }
        var keys = Set<Int>()
        for _ in 0..<int(0...25) {
            let a = int(-30...30)
            guard keys.insert(a).inserted else { continue }
            out.append("INSERT INTO t1 VALUES (\(a), \(value()), \(value()), \(text()))")
        }
        for _ in 0..<int(0...25) { out.append("INSERT INTO t2 VALUES (\(value()), \(value()), \(text()))") }
        if chance(0.3) { out.append("DELETE FROM t1 WHERE \(predicate(["a", "b", "c"], depth: 1))") }
        if chance(0.3) { out.append("UPDATE t2 SET y = \(intExpr(["x", "y"], depth: 1)) WHERE \(predicate(["x", "y"], depth: 1))") }
        return out
    }

    mutating func value() -> String { chance(0.2) ? "NULL" : String(int(-9...9)) }
    mutating func text() -> String { chance(0.2) ? "NULL" : "'" + pick(["a", "b", "ab", "ba", "", "abc"]) + "'" }

    mutating func intExpr(_ cols: [String], depth: Int) -> String {
        if depth <= 0 || chance(0.35) { return chance(0.7) ? pick(cols) : String(int(-5...5)) }
        let a = intExpr(cols, depth: depth - 1)
        let b = intExpr(cols, depth: depth - 1)
        switch int(0...8) {
        case 0: return "(\(a) + \(b))"
        case 1: return "(\(a) - \(b))"
        case 2: return "(\(a) * \(b))"
        case 3: return "(- \(a))"
        case 4: return "abs(\(a))"
        case 5: return "coalesce(\(a), \(b))"
        case 6: return "nullif(\(a), \(b))"
        case 7: return "CASE WHEN \(predicate(cols, depth: depth - 1)) THEN \(a) ELSE \(b) END"
        default: return "CASE \(a) WHEN \(b) THEN 1 WHEN 0 THEN 2 END"
        }
    }

    mutating func predicate(_ cols: [String], depth: Int) -> String {
        let a = intExpr(cols, depth: depth - 1)
        switch depth <= 0 ? int(0...3) : int(0...10) {
        case 0: return "\(a) \(pick(["=", "<>", "<", "<=", ">", ">="])) \(intExpr(cols, depth: depth - 1))"
        case 1: return "\(a) IS \(chance(0.5) ? "NOT " : "")NULL"
        case 2: return "\(a) \(chance(0.3) ? "NOT " : "")BETWEEN \(int(-5...0)) AND \(int(0...5))"
        case 3: return "\(a) \(chance(0.3) ? "NOT " : "")IN (\(value()), \(value()), \(int(-3...3)))"
        case 4, 5: return "(\(predicate(cols, depth: depth - 1)) AND \(predicate(cols, depth: depth - 1)))"
        case 6, 7: return "(\(predicate(cols, depth: depth - 1)) OR \(predicate(cols, depth: depth - 1)))"
        case 8: return "NOT (\(predicate(cols, depth: depth - 1)))"
        case 9: return "\(a) \(chance(0.3) ? "NOT " : "")IN (SELECT x FROM t2 WHERE y > \(int(-5...5)))"
        default: return "\(chance(0.3) ? "NOT " : "")EXISTS (SELECT 1 FROM t2 WHERE t2.x = \(pick(cols)))"
        }
    }

    mutating func query() -> String {
        let from: String
        var cols: [String]
        switch int(0...4) {
        case 0: (from, cols) = ("t1", ["a", "b", "c"])
        case 1: (from, cols) = ("t2", ["x", "y"])
        case 2: (from, cols) = ("t1 JOIN t2 ON t1.b = t2.x", ["a", "b", "c", "x", "y"])
        case 3: (from, cols) = ("t1 LEFT JOIN t2 ON t1.c = t2.y", ["a", "b", "c", "x", "y"])
        default: (from, cols) = ("t1, t2", ["a", "b", "x", "y"])
        }
        let whereClause = chance(0.8) ? " WHERE \(predicate(cols, depth: 3))" : ""
        if chance(0.3) {
            let g = pick(cols)
            let aggs = (0..<int(1...3)).map { _ in
                pick(["count(*)", "count(\(pick(cols)))", "sum(\(intExpr(cols, depth: 1)))", "min(\(pick(cols)))", "max(\(pick(cols)))", "count(DISTINCT \(pick(cols)))"])
            }
            let having = chance(0.3) ? " HAVING count(*) > \(int(0...2))" : ""
            return "SELECT \(g), \(aggs.joined(separator: ", ")) FROM \(from)\(whereClause) GROUP BY \(g)\(having)"
        }
        if chance(0.1) {
            let op = pick(["UNION", "UNION ALL", "EXCEPT", "INTERSECT"])
            return "SELECT \(pick(cols)) FROM \(from)\(whereClause) \(op) SELECT x FROM t2 WHERE \(predicate(["x", "y"], depth: 2))"
        }
        let items = (0..<int(1...3)).map { _ in intExpr(cols, depth: 2) }
        let distinct = chance(0.2) ? "DISTINCT " : ""
        return "SELECT \(distinct)\(items.joined(separator: ", ")) FROM \(from)\(whereClause)"
    }
}

/// SQLite as the reference model.
final class SQLiteReference {
    var db: OpaquePointer?

    init() { sqlite3_open(":memory:", &db) }
    deinit { sqlite3_close(db) }

    /// Rows rendered as text (NULL as "NULL"), or nil when SQLite reports an error.
    func run(_ sql: String) -> [[String]]? {
        var stmt: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &stmt, nil) == SQLITE_OK else { return nil }
        defer { sqlite3_finalize(stmt) }
        var rows: [[String]] = []
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { return rows }
            guard rc == SQLITE_ROW else { return nil }
            var row: [String] = []
            for i in 0..<sqlite3_column_count(stmt) {
                switch sqlite3_column_type(stmt, i) {
                case SQLITE_NULL: row.append("NULL")
                case SQLITE_INTEGER: row.append(String(sqlite3_column_int64(stmt, i)))
                default: row.append(String(cString: sqlite3_column_text(stmt, i)))
                }
            }
            rows.append(row)
        }
    }
}

@Suite struct SQLiteComparisonTests {
    /// Random schemas, data and queries give the same rows (as multisets) in Strata and SQLite.
    @Test func randomQueriesMatchSQLite() async throws {
        await propertyCheck(count: 150, input: Gen.int(in: 0...Int.max)) { seed in
            var gen = QueryGenerator(rng: SeededRandom(state: UInt64(seed)))
            let sqlite = SQLiteReference()
            guard let strata = try? await memorySession() else {
                Issue.record("cannot open a database")
                return
            }
            for s in gen.setup() {
                let expected = sqlite.run(s)
                let ok = (try? await strata.execute(s)) != nil
                #expect(ok == (expected != nil), "seed \(seed): \(s)")
            }
            for _ in 0..<40 {
                let q = gen.query()
                let expected = sqlite.run(q)?.sorted { $0.lexicographicallyPrecedes($1) }
                var actual: [[String]]? = nil
                do {
                    actual = try await strata.execute(q).last?.rows.map { row in
                        row.map { v -> String in
                            if case .bool(let b) = v { return b ? "1" : "0" }
                            return v.text ?? "NULL"
                        }
                    }.sorted { $0.lexicographicallyPrecedes($1) }
                } catch {
                    Issue.record("seed \(seed): Strata failed \(error) on: \(q)")
                    continue
                }
                #expect(actual == expected, "seed \(seed): \(q)")
            }
        }
    }
}
