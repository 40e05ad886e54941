import ArgumentParser
import CSQLite
import Foundation
import StrataEngine

/// `strata bench kv`: the engine against SQLite on the same data in the same run.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks against SQLite, one line per workload.",
        subcommands: [KV.self, SQL.self, S3.self, TPCB.self])

    struct KV: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "kv",
            abstract: "kv.load, kv.get, kv.scan, kv.durable: Strata vs SQLite (WAL, WITHOUT ROWID, prepared statements).")
        @Flag(help: "A run under a minute: 100,000 keys instead of 1,000,000.") var quick = false
        @Option(help: "Directory for the databases (default: a new temporary directory).") var dir: String?
        @Option(help: "Number of keys to load.") var keys: Int?
        @Option(help: "Number of single-key durable commits.") var durable: Int?
        @Option(help: "Comma-separated workloads to run after the load (get,scan,durable,durable64).") var only: String = "get,scan,durable,durable64"
        @Flag(help: "Skip the SQLite baseline (for profiling Strata alone).") var noBaseline = false
        @Option(help: .hidden) var scanRepeat = 1

        func run() async throws {
            let n = keys ?? (quick ? 100_000 : 1_000_000)
            let durableCount = durable ?? (quick ? 500 : 2_000)
            let batch = 10_000
            let base = dir ?? (NSTemporaryDirectory() + "strata-bench-\(getpid())")
            try? FileManager.default.removeItem(atPath: base)
            try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
            defer { if dir == nil { try? FileManager.default.removeItem(atPath: base) } }

            var rng = SplitMix(seed: 42)
            let keyList: [[UInt8]] = (0..<n).map { _ in rng.bytes(16) }
            let values: [[UInt8]] = (0..<n).map { _ in rng.bytes(100) }
            var shuffled = Array(0..<n)
            shuffled.shuffle(using: &rng)
            let order = shuffled

            // Strata
            let engine = try await Engine.open(path: base + "/strata")
            let sLoad = try await measure(n) {
                var i = 0
                while i < n {
                    let end = min(n, i + batch)
                    _ = try await engine.write { tx in for j in i..<end { tx.put(keyList[j], values[j]) } }
                    i = end
                }
                // The load is done when the flushes it caused are done.
                await engine.waitForMaintenance()
            }
            let wanted = Set(only.split(separator: ",").map(String.init))
            let sGet = !wanted.contains("get") ? 0 : try await measure(n) {
                let snap = engine.snapshot()
                for j in order { guard try await snap.get(keyList[j]) != nil else { throw BenchError("strata lost a key") } }
            }
            let sScan = !wanted.contains("scan") ? 0 : try await measure(n * scanRepeat) {
                for _ in 0..<scanRepeat {
                    var count = 0
                    try await engine.snapshot().forEach { _, _ in count += 1; return true }
                    guard count == n else { throw BenchError("strata scan saw \(count) of \(n)") }
                }
            }
            let sDurable = !wanted.contains("durable") ? 0 : try await measure(durableCount) {
                for j in 0..<durableCount { try await engine.put(keyList[order[j % n]], values[j % n]) }
            }
            // 64 concurrent writers, each committing single keys durably: group commit
            // shares one log entry (and its fsyncs) among the transactions waiting for it.
            let concurrentCount = durableCount * 4
            let sDurable64 = !wanted.contains("durable64") ? 0 : try await measure(concurrentCount) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for w in 0..<64 {
                        group.addTask {
                            for j in stride(from: w, to: concurrentCount, by: 64) {
                                try await engine.put(keyList[order[j % n]], values[j % n])
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            await engine.close()
            if noBaseline {
                print("strata load=\(Int(sLoad)) get=\(Int(sGet)) scan=\(Int(sScan)) durable=\(Int(sDurable))")
                return
            }

            // SQLite
            let lite = try SQLiteBaseline(path: base + "/sqlite.db")
            let insert = try lite.prepare("INSERT OR REPLACE INTO kv(key, value) VALUES (?, ?)")
            let lLoad = try await measure(n) {
                var i = 0
                while i < n {
                    try lite.exec("BEGIN")
                    for j in i..<min(n, i + batch) {
                        lite.bindBlob(insert, 1, keyList[j])
                        lite.bindBlob(insert, 2, values[j])
                        _ = try lite.step(insert)
                        sqlite3_reset(insert)
                    }
                    try lite.exec("COMMIT")
                    i += batch
                }
            }
            let select = try lite.prepare("SELECT value FROM kv WHERE key = ?")
            let lGet = !wanted.contains("get") ? 0 : try await measure(n) {
                for j in order {
                    lite.bindBlob(select, 1, keyList[j])
                    guard try lite.step(select) else { throw BenchError("sqlite lost a key") }
                    let v = [UInt8](UnsafeRawBufferPointer(start: sqlite3_column_blob(select, 0), count: Int(sqlite3_column_bytes(select, 0))))
                    if v.isEmpty { throw BenchError("empty") }
                    sqlite3_reset(select)
                }
            }
            let scan = try lite.prepare("SELECT key, value FROM kv ORDER BY key")
            let lScan = !wanted.contains("scan") ? 0 : try await measure(n) {
                var count = 0
                while try lite.step(scan) {
                    _ = sqlite3_column_blob(scan, 0)
                    _ = sqlite3_column_blob(scan, 1)
                    count += 1
                }
                sqlite3_reset(scan)
                guard count == n else { throw BenchError("sqlite scan saw \(count)") }
            }
            /// `count` single-row autocommit transactions, each fsynced (synchronous=FULL).
            func sqliteCommits(_ count: Int) throws {
                for j in 0..<count {
                    lite.bindBlob(insert, 1, keyList[order[j % n]])
                    lite.bindBlob(insert, 2, values[j % n])
                    _ = try lite.step(insert)
                    sqlite3_reset(insert)
                }
            }
            let lDurable = !wanted.contains("durable") ? 0 : try await measure(durableCount) { try sqliteCommits(durableCount) }
            // SQLite admits one writer at a time; its best case for many writers is the
            // same commits one after another on one connection.
            let lDurable64 = !wanted.contains("durable64") ? 0 : try await measure(concurrentCount) { try sqliteCommits(concurrentCount) }
            sqlite3_finalize(insert)
            sqlite3_finalize(select)
            sqlite3_finalize(scan)

            report("kv.load", sLoad, lLoad)
            if wanted.contains("get") { report("kv.get", sGet, lGet) }
            if wanted.contains("scan") { report("kv.scan", sScan, lScan) }
            if wanted.contains("durable") { report("kv.durable", sDurable, lDurable) }
            if wanted.contains("durable64") { report("kv.durable.64", sDurable64, lDurable64) }
        }

        func report(_ name: String, _ strata: Double, _ sqlite: Double) {
            print("bench \(name) strata=\(Int(strata)) sqlite=\(Int(sqlite)) ratio=\(String(format: "%.2f", strata / sqlite))")
        }
    }
}

/// How long `body` took.
func timed(_ body: () async throws -> Void) async throws -> Duration {
    let start = ContinuousClock.now
    try await body()
    return ContinuousClock.now - start
}

/// Operations per second for `ops` operations that took `d`.
func rate(_ ops: Int, _ d: Duration) -> Double {
    let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    return Double(ops) / max(seconds, 1e-9)
}

/// The middle figure (the upper middle of an even count).
func median(_ figures: [Double]) -> Double {
    figures.sorted()[figures.count / 2]
}

/// Runs `body` and returns operations per second.
func measure(_ ops: Int, _ body: () async throws -> Void) async throws -> Double {
    rate(ops, try await timed(body))
}

/// A small deterministic random generator (SplitMix64) for reproducible data.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func bytes(_ n: Int) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(n)
        while out.count < n {
            let v = next()
            withUnsafeBytes(of: v) { out.append(contentsOf: $0.prefix(n - out.count)) }
        }
        return out
    }
}
