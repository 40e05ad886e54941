import ArgumentParser
import CSQLite
import Foundation
import Strata
import StrataSQL

extension BenchCommand {
    /// `strata bench tpcb`: pgbench's TPC-B transaction in this process, without a network,
    /// on Strata and on SQLite (WAL, synchronous=FULL), so the per-statement cost of the
    /// SQL layer and the commit can be measured and profiled apart from the wire protocol.
    struct TPCB: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "tpcb",
            abstract: "tpcb.text, tpcb.prepared: pgbench's TPC-B transaction in process, Strata vs SQLite (WAL, synchronous=FULL).")
        @Option(help: "Seconds per workload and database.") var seconds: Double = 10
        @Option(help: "Directory for the databases (default: a new temporary directory).") var dir: String?
        @Flag(help: "Skip the SQLite baseline (for profiling Strata alone; implied by --loop).") var noBaseline = false
        @Option(help: "Rows of pgbench_accounts (pgbench's scale 1 has 100,000).") var accounts = 100_000
        @Option(help: ArgumentHelp(
            "Instead of the workloads: run this statement (each # replaced by 1...10) in one open transaction and print its mean time (for profiling one statement).",
            valueName: "sql")) var loop: String?
        @Option(help: "With --loop: this many statements instead of --seconds of them.") var count: Int?

        static let tellers = 10

        func run() async throws {
            let base = dir ?? (NSTemporaryDirectory() + "strata-bench-tpcb-\(getpid())")
            try? FileManager.default.removeItem(atPath: base)
            try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
            defer { if dir == nil { try? FileManager.default.removeItem(atPath: base) } }
            let db = try await Database.open(base + "/strata")
            let s = Session(engine: db.engine)
            let lite = noBaseline || loop != nil ? nil : try SQLiteBaseline(path: base + "/sqlite.db")
            let schema = [
                "CREATE TABLE pgbench_branches (bid INT PRIMARY KEY, bbalance INT, filler CHAR(88))",
                "CREATE TABLE pgbench_tellers (tid INT PRIMARY KEY, bid INT, tbalance INT, filler CHAR(84))",
                "CREATE TABLE pgbench_accounts (aid INT PRIMARY KEY, bid INT, abalance INT, filler CHAR(84))",
                "CREATE TABLE pgbench_history (tid INT, bid INT, aid INT, delta INT, mtime TIMESTAMP, filler CHAR(22))",
            ]
            for sql in schema {
                _ = try await s.execute(sql)
                try lite?.exec(sql)
            }
            let load = [
                "INSERT INTO pgbench_branches VALUES (1, 0, '')",
                "INSERT INTO pgbench_tellers SELECT n, 1, 0, '' FROM generate_series(1, \(Self.tellers)) n",
                "INSERT INTO pgbench_accounts SELECT n, 1, 0, '' FROM generate_series(1, \(accounts)) n",
            ]
            for sql in load { _ = try await s.execute(sql) }
            if let lite {
                try lite.exec("INSERT INTO pgbench_branches VALUES (1, 0, '')")
                try lite.exec("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < \(Self.tellers)) INSERT INTO pgbench_tellers SELECT x, 1, 0, '' FROM n")
                try lite.exec("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < \(accounts)) INSERT INTO pgbench_accounts SELECT x, 1, 0, '' FROM n")
            }
            await db.engine.waitForMaintenance()

            var rng = SplitMix(seed: 11)
            if let loop {
                _ = try await s.execute("BEGIN")
                let texts = (1...10).map { loop.replacingOccurrences(of: "#", with: String($0)) }
                let clock = ContinuousClock()
                let t0 = clock.now
                var n = 0
                while count.map({ n < $0 }) ?? (clock.now - t0 < .seconds(seconds)) {
                    for _ in 0..<100 { _ = try await s.execute(texts[Int(rng.next() % 10)]) }
                    n += 100
                }
                let d = clock.now - t0
                let micros = 1e6 / rate(n, d)
                print("loop statements=\(n) mean=\(String(format: "%.2f", micros)) µs")
                _ = try await s.execute("ROLLBACK")
                await db.close()
                return
            }

            /// One transaction's random values, as pgbench draws them.
            func draw() -> (aid: Int, tid: Int, delta: Int) {
                (Int(rng.next() % UInt64(accounts)) + 1, Int(rng.next() % UInt64(Self.tellers)) + 1, Int(rng.next() % 10_001) - 5_000)
            }
            func texts(_ v: (aid: Int, tid: Int, delta: Int)) -> [String] {
                [
                    "BEGIN;",
                    "UPDATE pgbench_accounts SET abalance = abalance + \(v.delta) WHERE aid = \(v.aid);",
                    "SELECT abalance FROM pgbench_accounts WHERE aid = \(v.aid);",
                    "UPDATE pgbench_tellers SET tbalance = tbalance + \(v.delta) WHERE tid = \(v.tid);",
                    "UPDATE pgbench_branches SET bbalance = bbalance + \(v.delta) WHERE bid = 1;",
                    "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (\(v.tid), 1, \(v.aid), \(v.delta), CURRENT_TIMESTAMP);",
                    "END;",
                ]
            }
            let sqlitePrepared: [OpaquePointer] = try lite.map { lite in
                try [
                    "BEGIN",
                    "UPDATE pgbench_accounts SET abalance = abalance + ?1 WHERE aid = ?2",
                    "SELECT abalance FROM pgbench_accounts WHERE aid = ?2",
                    "UPDATE pgbench_tellers SET tbalance = tbalance + ?1 WHERE tid = ?3",
                    "UPDATE pgbench_branches SET bbalance = bbalance + ?1 WHERE bid = 1",
                    "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (?3, 1, ?2, ?1, CURRENT_TIMESTAMP)",
                    "END",
                ].map { try lite.prepare($0) }
            } ?? []
            defer { for st in sqlitePrepared { sqlite3_finalize(st) } }
            let strataPrepared = try [
                "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2",
                "SELECT abalance FROM pgbench_accounts WHERE aid = $1",
                "UPDATE pgbench_tellers SET tbalance = tbalance + $1 WHERE tid = $2",
                "UPDATE pgbench_branches SET bbalance = bbalance + $1 WHERE bid = 1",
                "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, 1, $2, $3, CURRENT_TIMESTAMP)",
            ].map { try s.prepare($0) }

            /// Runs `transaction` for `seconds` and returns transactions per second.
            func tps(_ transaction: () async throws -> Void) async throws -> Double {
                let clock = ContinuousClock()
                let start = clock.now
                let budget = Duration.milliseconds(Int64(seconds * 1000 / 5))
                var count = 0
                while clock.now - start < budget {
                    for _ in 0..<20 { try await transaction() }
                    count += 20
                }
                return rate(count, clock.now - start)
            }
            /// Five alternating rounds per side (the machine's speed drifts); medians.
            func compare(_ name: String, strata: () async throws -> Void, sqlite: () throws -> Void) async throws {
                var mine: [Double] = []
                var theirs: [Double] = []
                for _ in 0..<5 {
                    mine.append(try await tps(strata))
                    if lite != nil { theirs.append(try await tps { try sqlite() }) }
                }
                let m = median(mine)
                let t = theirs.isEmpty ? 0 : median(theirs)
                print("bench \(name) strata=\(Int(m)) sqlite=\(Int(t)) ratio=\(String(format: "%.2f", t > 0 ? m / t : 0))")
            }

            // STRATA_BENCH_STATS=1 prints each statement's mean latency on stderr.
            let stats = ProcessInfo.processInfo.environment["STRATA_BENCH_STATS"] != nil
            var spent = [Duration](repeating: .zero, count: 7)
            var runs = 0
            try await compare("tpcb.text") {
                let clock = ContinuousClock()
                for (i, sql) in texts(draw()).enumerated() {
                    if stats {
                        spent[i] += try await clock.measure { _ = try await s.execute(sql) }
                    } else {
                        _ = try await s.execute(sql)
                    }
                }
                runs += 1
            } sqlite: {
                guard let lite else { return }
                for sql in texts(draw()) { try lite.exec(sql) }
            }
            if stats {
                let us = spent.map { String(format: "%.1f", 1e6 / rate(runs, $0)) }
                FileHandle.standardError.write("tpcb.text µs per statement: \(us.joined(separator: " "))\n".data(using: .utf8)!)
            }
            try await compare("tpcb.prepared") {
                let v = draw()
                _ = try await s.execute("BEGIN")
                _ = try await s.execute(strataPrepared[0], [.int(Int64(v.delta)), .int(Int64(v.aid))])
                _ = try await s.execute(strataPrepared[1], [.int(Int64(v.aid))])
                _ = try await s.execute(strataPrepared[2], [.int(Int64(v.delta)), .int(Int64(v.tid))])
                _ = try await s.execute(strataPrepared[3], [.int(Int64(v.delta))])
                _ = try await s.execute(strataPrepared[4], [.int(Int64(v.tid)), .int(Int64(v.aid)), .int(Int64(v.delta))])
                _ = try await s.execute("END")
            } sqlite: {
                guard let lite else { return }
                let v = draw()
                for (i, st) in sqlitePrepared.enumerated() {
                    sqlite3_bind_int64(st, 1, Int64(v.delta))
                    if i == 1 || i == 2 || i == 5 { sqlite3_bind_int64(st, 2, Int64(v.aid)) }
                    if i == 3 || i == 5 { sqlite3_bind_int64(st, 3, Int64(v.tid)) }
                    while try lite.step(st) { _ = sqlite3_column_int64(st, 0) }
                    sqlite3_reset(st)
                }
            }
            await db.close()
        }
    }
}
