import CSQLite
import Foundation
import StrataSLT
import Testing

/// SQLite in memory, as an `SLTDatabase`: the engine the corpus was generated with.
final class SQLiteDatabase: SLTDatabase {
    private var db: OpaquePointer?

    struct Failure: Error, CustomStringConvertible { let description: String }

    init() { sqlite3_open(":memory:", &db) }
    deinit { sqlite3_close(db) }

    func execute(_ sql: String) async throws { _ = try run(sql) }
    func query(_ sql: String) async throws -> [[SLTValue]] { try run(sql) }

    private func run(_ sql: String) throws -> [[SLTValue]] {
        var stmt: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &stmt, nil) == SQLITE_OK, let stmt else {
            throw Failure(description: String(cString: sqlite3_errmsg(db)))
        }
        defer { sqlite3_finalize(stmt) }
        var rows: [[SLTValue]] = []
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { return rows }
            guard rc == SQLITE_ROW else { throw Failure(description: String(cString: sqlite3_errmsg(db))) }
            rows.append((0..<sqlite3_column_count(stmt)).map { i in
                switch sqlite3_column_type(stmt, i) {
                case SQLITE_NULL: return .null
                case SQLITE_INTEGER: return .integer(sqlite3_column_int64(stmt, i))
                case SQLITE_FLOAT: return .real(sqlite3_column_double(stmt, i))
                default: return .text(String(cString: sqlite3_column_text(stmt, i)))
                }
            })
        }
    }
}

let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../../../shared/slt").standardized.path

@Suite(.serialized) struct SLTRunnerTests {
    @Test func parsesRecordsConditionsAndResults() throws {
        let text = """
            # a comment
            hash-threshold 3

            statement ok\r
            CREATE TABLE t(a INTEGER)\r
            \r
            skipif postgresql
            statement ok
            SQLite only

            onlyif mysql # comment after the engine
            query I nosort
            SELECT 1
            ----
            1

            onlyif postgresql
            query IT rowsort label-1
            SELECT a,
              b FROM t
            ----
            1
            x

            query R valuesort
            SELECT 1
            ----
            4 values hashing to 0123456789abcdef0123456789ABCDEF

            statement error
            bad

            halt

            query I
            SELECT 2
            ----

            """
        let records = try SLTParser.parse(text)
        #expect(records.count == 9, "records after halt are parsed; the runner skips them")
        #expect(records[0] == .hashThreshold(3))
        #expect(records[1] == .statement(sql: "CREATE TABLE t(a INTEGER)", expectError: false, line: 4))
        #expect(records[2] == .skipped(line: 8))
        #expect(records[3] == .skipped(line: 12))
        #expect(records[4] == .query(SLTQuery(
            types: ["I", "T"], sort: .rowsort, label: "label-1", sql: "SELECT a,\n  b FROM t", expected: .values(["1", "x"]), line: 18)))
        if case .query(let q) = records[5] {
            #expect(q.expected == .hash(count: 4, md5: "0123456789abcdef0123456789abcdef"))
            #expect(q.sort == .valuesort)
        } else {
            Issue.record("expected a query")
        }
        #expect(records[6] == .statement(sql: "bad", expectError: true, line: 30))
        #expect(records[7] == .halt)
        #expect(throws: SLTFormatError.self) { _ = try SLTParser.parse("query X\nSELECT 1\n") }
        #expect(throws: SLTFormatError.self) { _ = try SLTParser.parse("frobnicate\n") }
    }

    @Test func rendersValuesAsTheReferenceRunner() {
        #expect(SLTResult.render(.null, as: "I") == "NULL")
        #expect(SLTResult.render(.integer(-7), as: "I") == "-7")
        #expect(SLTResult.render(.integer(2), as: "R") == "2.000")
        #expect(SLTResult.render(.real(2.5), as: "R") == "2.500")
        #expect(SLTResult.render(.real(-2.9), as: "I") == "-2")
        #expect(SLTResult.render(.text("12abc"), as: "I") == "12")
        #expect(SLTResult.render(.text(""), as: "T") == "(empty)")
        #expect(SLTResult.render(.text("a\tbé"), as: "T") == "a@b@")
        #expect(SLTResult.render(.bool(true), as: "I") == "1")
        // MD5 of "1\n2\n".
        #expect(SLTResult.hash(["1", "2"]) == "6ddb4095eb719e2a9f0a3f95677d24e0")
        #expect(SLTResult.values([[.integer(2), .text("b")], [.integer(10), .text("a")]], types: ["I", "T"], sort: .rowsort)
            == ["10", "a", "2", "b"])
        #expect(SLTResult.values([[.integer(2), .text("b")], [.integer(10), .text("a")]], types: ["I", "T"], sort: .valuesort)
            == ["10", "2", "a", "b"])
    }

    /// Corpus files run against SQLite itself, as engine `sqlite`, pass every record:
    /// the parser, rendering, sorting, hashing and labels agree with the reference runner.
    @Test(arguments: ["select1.test", "select2.test", "index/between/1000/slt_good_0.test", "random/expr/slt_good_1.test"])
    func corpusPassesOnSQLite(_ file: String) async throws {
        let text = try String(contentsOfFile: corpus + "/" + file, encoding: .utf8)
        let records = try SLTParser.parse(text, engine: "sqlite")
        let report = await SLTRunner.run(records, on: SQLiteDatabase())
        #expect(report.failed == 0, "\(file): \(report.summary); \(report.failures.prefix(3))")
        #expect(report.passed > 100)
    }

    @Test func countsErrorsSkipsHaltAndLabels() async throws {
        let text = """
            statement ok
            CREATE TABLE t(a INTEGER)

            statement error
            CREATE TABLE t(a INTEGER)

            statement ok
            INSERT INTO t VALUES(1),(2)

            skipif sqlite
            statement ok
            this is not SQL

            query I rowsort same
            SELECT a FROM t
            ----
            1
            2

            query I rowsort same
            SELECT a+1 FROM t
            ----
            2
            3

            statement error
            SELECT 1

            halt

            statement ok
            not run
            """
        let report = await SLTRunner.run(try SLTParser.parse(text, engine: "sqlite"), on: SQLiteDatabase())
        #expect(report.passed == 4)
        #expect(report.failed == 2)
        #expect(report.skipped == 2)
        #expect(report.failures.count == 2 && report.failures[0].contains("labelled same"))
        #expect(report.failures[1].hasPrefix("line 26:"))
        #expect(report.summary == "4 passed, 2 failed, 2 skipped")
    }

    /// The runner notices wrong answers: a database that returns one extra row fails.
    @Test func wrongResultsFail() async throws {
        final class OffByOne: SLTDatabase {
            let inner = SQLiteDatabase()
            func execute(_ sql: String) async throws { try await inner.execute(sql) }
            func query(_ sql: String) async throws -> [[SLTValue]] {
                let rows = try await inner.query(sql)
                return rows.isEmpty ? rows : rows + [rows[0]]
            }
        }
        let text = try String(contentsOfFile: corpus + "/select1.test", encoding: .utf8)
        let report = await SLTRunner.run(try SLTParser.parse(text, engine: "sqlite"), on: OffByOne())
        #expect(report.failed > 900)
    }
}
