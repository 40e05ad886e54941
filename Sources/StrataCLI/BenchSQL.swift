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

            // Both databases are built and queried side by side: each insert transaction and
            // each run of a read workload goes to Strata and then to SQLite, so a change in the
            // machine's speed (it shares its cores and caches) falls on both alike.
            let db = try await Database.open(base + "/strata")
            let s = Session(engine: db.engine)
            let lite = strataOnly ? nil : try SQLiteBaseline(path: base + "/sqlite.db")
            _ = try await s.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT, amount DOUBLE PRECISION)")
            _ = try await s.execute("CREATE TABLE c (id BIGINT PRIMARY KEY, category TEXT)")
            try lite?.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, amount REAL)")
            try lite?.exec("CREATE TABLE c (id INTEGER PRIMARY KEY, category TEXT)")
            let insert = try s.prepare("INSERT INTO t VALUES ($1, $2, $3)")
            let li = try lite?.prepare("INSERT INTO t VALUES (?, ?, ?)")
            var strataInsert = Duration.zero
            var sqliteInsert = Duration.zero
            var i = 0
            while i < n {
                let rows = i..<min(n, i + batch)
                strataInsert += try await timed {
                    _ = try await s.execute("BEGIN")
                    for j in rows { _ = try await s.execute(insert, [.int(Int64(j)), .text(rowNames[j]), .double(amounts[j])]) }
                    _ = try await s.execute("COMMIT")
                }
                if let lite, let li {
                    sqliteInsert += try await timed {
                        try lite.exec("BEGIN")
                        for j in rows {
                            sqlite3_bind_int64(li, 1, Int64(j))
                            sqlite3_bind_text(li, 2, rowNames[j], -1, SQLiteBaseline.transient)
                            sqlite3_bind_double(li, 3, amounts[j])
                            _ = try lite.step(li)
                            sqlite3_reset(li)
                        }
                        try lite.exec("COMMIT")
                    }
                }
                i += batch
            }
            // Strata's insert includes writing its memtable out as segments.
            strataInsert += try await timed { await db.engine.waitForMaintenance() }

            _ = try await s.execute("BEGIN")
            let insertC = try s.prepare("INSERT INTO c VALUES ($1, $2)")
            for j in 0..<10_000 { _ = try await s.execute(insertC, [.int(Int64(j * (n / 10_000))), .text("cat-\(j % 10)")]) }
            _ = try await s.execute("COMMIT")
            if let lite {
                let lc = try lite.prepare("INSERT INTO c VALUES (?, ?)")
                defer { sqlite3_finalize(lc) }
                try lite.exec("BEGIN")
                for j in 0..<10_000 {
                    sqlite3_bind_int64(lc, 1, Int64(j * (n / 10_000)))
                    sqlite3_bind_text(lc, 2, "cat-\(j % 10)", -1, SQLiteBaseline.transient)
                    _ = try lite.step(lc)
                    sqlite3_reset(lc)
                }
                try lite.exec("COMMIT")
            }
            if ProcessInfo.processInfo.environment["STRATA_BENCH_STATS"] != nil {
                let st = db.engine.statistics
                FileHandle.standardError.write("segments=\(st.segments) memtable=\(st.memtableEntries)\n".data(using: .utf8)!)
            }
            let wanted = Set(only.split(separator: ",").map(String.init))
            var results: [(String, Double, Double)] = [("sql.insert", rate(n, strataInsert), rate(n, sqliteInsert))]
            /// Runs one read workload `repeats` times on each side, alternating; medians.
            func compare(_ name: String, _ ops: Int, strata: () async throws -> Void, sqlite: () throws -> Void) async throws {
                guard wanted.contains(name) else { return }
                var mine: [Double] = []
                var theirs: [Double] = []
                for _ in 0..<max(1, repeats) {
                    mine.append(rate(ops, try await timed(strata)))
                    if lite != nil { theirs.append(rate(ops, try await timed { try sqlite() })) }
                }
                results.append(("sql." + name, median(mine), theirs.isEmpty ? 0 : median(theirs)))
                if ProcessInfo.processInfo.environment["STRATA_BENCH_STATS"] != nil {
                    let st = db.engine.statistics
                    FileHandle.standardError.write("after \(name): block cache \(st.blockCacheBytes >> 20) MiB, hits=\(st.blockCacheHits) misses=\(st.blockCacheMisses)\n".data(using: .utf8)!)
                }
            }

            let point = try s.prepare("SELECT id, name, amount FROM t WHERE id = $1")
            let lp = try lite?.prepare("SELECT id, name, amount FROM t WHERE id = ?")
            try await compare("point", points) {
                for id in lookups {
                    guard try await s.execute(point, [.int(id)]).rows.count == 1 else { throw BenchError("strata lost row \(id)") }
                }
            } sqlite: {
                guard let lite, let lp else { return }
                for id in lookups {
                    sqlite3_bind_int64(lp, 1, id)
                    guard try lite.step(lp) else { throw BenchError("sqlite lost row") }
                    _ = sqlite3_column_int64(lp, 0)
                    _ = String(cString: sqlite3_column_text(lp, 1))
                    _ = sqlite3_column_double(lp, 2)
                    sqlite3_reset(lp)
                }
            }
            let range = try s.prepare("SELECT id, name, amount FROM t WHERE id >= $1 AND id < $2")
            let lr = try lite?.prepare("SELECT id, name, amount FROM t WHERE id >= ? AND id < ?")
            try await compare("range", ranges * 1000) {
                for start in rangeStarts {
                    guard try await s.execute(range, [.int(start), .int(start + 1000)]).rows.count == 1000 else { throw BenchError("strata range") }
                }
            } sqlite: {
                guard let lite, let lr else { return }
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
                guard let lite else { return 0 }
                let st = try lite.prepare(sql)
                defer { sqlite3_finalize(st) }
                var count = 0
                while try lite.step(st) {
                    _ = String(cString: sqlite3_column_text(st, 0))
                    count += 1
                }
                return count
            }
            let aggregate = "SELECT name, sum(amount) FROM t GROUP BY name"
            try await compare("aggregate", n) {
                guard try await s.execute(try s.prepare(aggregate)).rows.count == 1000 else { throw BenchError("strata aggregate") }
            } sqlite: {
                guard try lite == nil || countRows(aggregate) == 1000 else { throw BenchError("sqlite aggregate") }
            }
            let join = "SELECT c.category, count(*), sum(t.amount) FROM c JOIN t ON t.id = c.id GROUP BY c.category"
            try await compare("join", 10_000) {
                guard try await s.execute(try s.prepare(join)).rows.count == 10 else { throw BenchError("strata join") }
            } sqlite: {
                guard try lite == nil || countRows(join) == 10 else { throw BenchError("sqlite join") }
            }
            for st in [li, lp, lr] { if let st { sqlite3_finalize(st) } }
            await db.close()
            if strataOnly {
                print("strata " + results.map { "\($0.0.dropFirst(4))=\(Int($0.1))" }.joined(separator: " "))
                return
            }
            func report(_ name: String, _ strata: Double, _ sqlite: Double) {
                print("bench \(name) strata=\(Int(strata)) sqlite=\(Int(sqlite)) ratio=\(String(format: "%.2f", strata / sqlite))")
            }
            for (name, mine, theirs) in results { report(name, mine, theirs) }
        }
    }
}
