import ArgumentParser
import CSQLite
import Foundation
import Strata

extension BenchCommand {
    /// `strata bench sql`: SQL workloads against SQLite (WAL, synchronous=FULL, prepared statements).
    struct SQL: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sql",
            abstract: "sql.insert, sql.point, sql.range, sql.aggregate, sql.join: Strata vs SQLite on the same rows.")
        @Flag(help: "A quick run: 100,000 rows instead of 1,000,000.") var quick = false
        @Option(help: "Directory for the databases (default: a new temporary directory).") var dir: String?
        @Option(help: "Number of rows.") var rows: Int?
        @Option(help: "Comma-separated workloads to run after the insert (point,range,aggregate,join).") var only = "point,range,aggregate,join"
        @Flag(help: "Skip SQLite (for profiling Strata alone).") var strataOnly = false
        @Option(help: "Runs of each read workload (point, range, aggregate, join); the median is reported.") var repeats = 3

        func run() async throws {
            let n = rows ?? (quick ? 100_000 : 1_000_000)
            let points = quick ? 10_000 : 100_000
            let ranges = quick ? 100 : 1_000
            let batch = 10_000
            let base = dir ?? (NSTemporaryDirectory() + "strata-bench-sql-\(getpid())")
            try? FileManager.default.removeItem(atPath: base)
            try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
            defer { if dir == nil { try? FileManager.default.removeItem(atPath: base) } }
            var rng = SplitMix(seed: 7)
            let names = (0..<1000).map { "name-\($0)" }
            let rowNames = (0..<n).map { _ in names[Int(rng.next() % 1000)] }
            let amounts = (0..<n).map { _ in Double(rng.next() % 100_000) / 100 }
            var lookups = (0..<points).map { _ in Int64(rng.next() % UInt64(n)) }
            lookups.shuffle(using: &rng)
            let rangeStarts = (0..<ranges).map { _ in Int64(rng.next() % UInt64(max(1, n - 1000))) }

            // Strata
            let db = try await Database.open(base + "/strata")
            let s = Session(engine: db.engine)
            _ = try await s.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT, amount DOUBLE PRECISION)")
            _ = try await s.execute("CREATE TABLE c (id BIGINT PRIMARY KEY, category TEXT)")
            let insert = try s.prepare("INSERT INTO t VALUES ($1, $2, $3)")
            let sInsert = try await measure(n) {
                var i = 0
                while i < n {
                    _ = try await s.execute("BEGIN")
                    for j in i..<min(n, i + batch) {
                        _ = try await s.execute(insert, [.int(Int64(j)), .text(rowNames[j]), .double(amounts[j])])
                    }
                    _ = try await s.execute("COMMIT")
                    i += batch
                }
                await db.engine.waitForMaintenance()
            }
            _ = try await s.execute("BEGIN")
            let insertC = try s.prepare("INSERT INTO c VALUES ($1, $2)")
            for j in 0..<10_000 { _ = try await s.execute(insertC, [.int(Int64(j * (n / 10_000))), .text("cat-\(j % 10)")]) }
            _ = try await s.execute("COMMIT")
            if ProcessInfo.processInfo.environment["STRATA_BENCH_STATS"] != nil {
                let st = db.engine.statistics
                FileHandle.standardError.write("segments=\(st.segments) memtable=\(st.memtableEntries)\n".data(using: .utf8)!)
            }
            let point = try s.prepare("SELECT id, name, amount FROM t WHERE id = $1")
            let wanted = Set(only.split(separator: ",").map(String.init))
            let sPoint = !wanted.contains("point") ? 0 : try await measureMedian(points, runs: repeats) {
                for id in lookups {
                    guard try await s.execute(point, [.int(id)]).rows.count == 1 else { throw BenchError("strata lost row \(id)") }
                }
            }
            let range = try s.prepare("SELECT id, name, amount FROM t WHERE id >= $1 AND id < $2")
            let sRange = !wanted.contains("range") ? 0 : try await measureMedian(ranges * 1000, runs: repeats) {
                for start in rangeStarts {
                    guard try await s.execute(range, [.int(start), .int(start + 1000)]).rows.count == 1000 else { throw BenchError("strata range") }
                }
            }
            let aggregate = "SELECT name, sum(amount) FROM t GROUP BY name"
            let sAggregate = !wanted.contains("aggregate") ? 0 : try await measureMedian(n, runs: repeats) {
                guard try await s.execute(try s.prepare(aggregate)).rows.count == 1000 else { throw BenchError("strata aggregate") }
            }
            let join = "SELECT c.category, count(*), sum(t.amount) FROM c JOIN t ON t.id = c.id GROUP BY c.category"
            let sJoin = !wanted.contains("join") ? 0 : try await measureMedian(10_000, runs: repeats) {
                guard try await s.execute(try s.prepare(join)).rows.count == 10 else { throw BenchError("strata join") }
            }
            await db.close()
            if strataOnly {
                print("strata insert=\(Int(sInsert)) point=\(Int(sPoint)) range=\(Int(sRange)) aggregate=\(Int(sAggregate)) join=\(Int(sJoin))")
                return
            }

            // SQLite
            let lite = try SQLiteBaseline(path: base + "/sqlite.db")
            try lite.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, amount REAL)")
            try lite.exec("CREATE TABLE c (id INTEGER PRIMARY KEY, category TEXT)")
            let li = try lite.prepare("INSERT INTO t VALUES (?, ?, ?)")
            let lInsert = try await measure(n) {
                var i = 0
                while i < n {
                    try lite.exec("BEGIN")
                    for j in i..<min(n, i + batch) {
                        sqlite3_bind_int64(li, 1, Int64(j))
                        sqlite3_bind_text(li, 2, rowNames[j], -1, SQLiteBaseline.transient)
                        sqlite3_bind_double(li, 3, amounts[j])
                        _ = try lite.step(li)
                        sqlite3_reset(li)
                    }
                    try lite.exec("COMMIT")
                    i += batch
                }
            }
            let lc = try lite.prepare("INSERT INTO c VALUES (?, ?)")
            try lite.exec("BEGIN")
            for j in 0..<10_000 {
                sqlite3_bind_int64(lc, 1, Int64(j * (n / 10_000)))
                sqlite3_bind_text(lc, 2, "cat-\(j % 10)", -1, SQLiteBaseline.transient)
                _ = try lite.step(lc)
                sqlite3_reset(lc)
            }
            try lite.exec("COMMIT")
            let lp = try lite.prepare("SELECT id, name, amount FROM t WHERE id = ?")
            let lPoint = try await measureMedian(points, runs: repeats) {
                for id in lookups {
                    sqlite3_bind_int64(lp, 1, id)
                    guard try lite.step(lp) else { throw BenchError("sqlite lost row") }
                    _ = sqlite3_column_int64(lp, 0)
                    _ = String(cString: sqlite3_column_text(lp, 1))
                    _ = sqlite3_column_double(lp, 2)
                    sqlite3_reset(lp)
                }
            }
            let lr = try lite.prepare("SELECT id, name, amount FROM t WHERE id >= ? AND id < ?")
            let lRange = try await measureMedian(ranges * 1000, runs: repeats) {
                for start in rangeStarts {
                    sqlite3_bind_int64(lr, 1, start)
                    sqlite3_bind_int64(lr, 2, start + 1000)
                    var count = 0
                    while try lite.step(lr) {
                        _ = sqlite3_column_int64(lr, 0)
                        _ = String(cString: sqlite3_column_text(lr, 1))
                        _ = sqlite3_column_double(lr, 2)
                        count += 1
                    }
                    sqlite3_reset(lr)
                    guard count == 1000 else { throw BenchError("sqlite range") }
                }
            }
            func countRows(_ sql: String) throws -> Int {
                let st = try lite.prepare(sql)
                defer { sqlite3_finalize(st) }
                var count = 0
                while try lite.step(st) {
                    _ = String(cString: sqlite3_column_text(st, 0))
                    count += 1
                }
                return count
            }
            let lAggregate = try await measureMedian(n, runs: repeats) { guard try countRows(aggregate) == 1000 else { throw BenchError("sqlite aggregate") } }
            let lJoin = try await measureMedian(10_000, runs: repeats) { guard try countRows(join) == 10 else { throw BenchError("sqlite join") } }
            for st in [li, lc, lp, lr] { sqlite3_finalize(st) }

            func report(_ name: String, _ strata: Double, _ sqlite: Double) {
                print("bench \(name) strata=\(Int(strata)) sqlite=\(Int(sqlite)) ratio=\(String(format: "%.2f", strata / sqlite))")
            }
            report("sql.insert", sInsert, lInsert)
            report("sql.point", sPoint, lPoint)
            report("sql.range", sRange, lRange)
            report("sql.aggregate", sAggregate, lAggregate)
            report("sql.join", sJoin, lJoin)
        }
    }
}
