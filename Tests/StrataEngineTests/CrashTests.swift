import Foundation
import StrataEngine
import StrataStore
import Testing

/// Parses `key=value;key=<deleted>` into mutations sorted by key.
func parsePayload(_ payload: Substring) -> [Mutation] {
    payload.split(separator: ";").map { pair in
        let kv = pair.split(separator: "=", maxSplits: 1)
        let value = String(kv[1])
        return value == "<deleted>"
            ? Mutation(key: Array(kv[0].utf8), kind: .delete, value: [])
            : Mutation(key: Array(kv[0].utf8), kind: .put, value: Array(value.utf8))
    }.sorted { $0.key.lexicographicallyPrecedes($1.key) }
}

/// Checks a database after crashes: every acknowledged commit is there with exactly
/// its writes, every other commit is one that was in flight, snapshots replay the
/// log, and verify passes.
func checkAfterCrashes(store: any ObjectStore, acked: [UInt64: [Mutation]], inFlight: [[Mutation]]) async throws {
    var options = EngineOptions()
    options.automaticMaintenance = false
    let engine = try await Engine.open(store, options: options)
    let lastData = acked.keys.max() ?? 0
    #expect(engine.head >= lastData)
    let log = try await Engine.log(store)
    let dataSeqs = log.filter { $0.kind == "commit" }.map(\.seq)
    var changes: [UInt64: [Mutation]] = [:]
    if let lastSeq = dataSeqs.last {
        for try await change in engine.changes(since: 0, pollInterval: .milliseconds(5)) {
            changes[change.seq] = change.mutations
            if change.seq >= lastSeq { break }
        }
    }
    #expect(changes.count == dataSeqs.count, "the change feed returned \(changes.count) of \(dataSeqs.count) commits")
    let lost = acked.keys.filter { changes[$0] != acked[$0] }.sorted()
    func show(_ m: [Mutation]?) -> String {
        m.map { $0.map { "\(String(decoding: $0.key, as: UTF8.self))=\($0.kind == .put ? String(decoding: $0.value.prefix(20), as: UTF8.self) : "<deleted>")" }.joined(separator: ";") } ?? "<none>"
    }
    func difference(_ a: [Mutation]?, _ b: [Mutation]?) -> String {
        guard let a, let b else { return "one side missing" }
        if a.count != b.count { return "\(a.count) vs \(b.count) mutations" }
        for (x, y) in zip(a, b) where x != y {
            return "\(String(decoding: x.key, as: UTF8.self)): \(x.kind) \(x.value.count)B ...\(String(decoding: x.value.suffix(12), as: UTF8.self)) vs \(y.kind) \(y.value.count)B ...\(String(decoding: y.value.suffix(12), as: UTF8.self))"
        }
        return "equal?"
    }
    #expect(lost.isEmpty, "acknowledged commits missing or different: \(lost.prefix(10)) (\(lost.count) in all); first: \(show(lost.first.flatMap { acked[$0] })): \(difference(lost.first.flatMap { acked[$0] }, lost.first.flatMap { changes[$0] }))")
    let strangers = changes.filter { acked[$0.key] == nil && !inFlight.contains($0.value) }.keys.sorted()
    #expect(strangers.isEmpty, "commits nobody attempted: \(strangers.prefix(10))")
    // The state at each commit is the log replayed up to it.
    var state: [[UInt8]: [UInt8]] = [:]
    let step = max(1, dataSeqs.count / 40)
    for (i, seq) in dataSeqs.enumerated() {
        for m in changes[seq] ?? [] { state[m.key] = m.kind == .put ? m.value : nil }
        if i % step == 0 || i == dataSeqs.count - 1 {
            let rows = try await engine.scan(at: seq)
            let same = Dictionary(uniqueKeysWithValues: rows.map { ($0.key, $0.value) }) == state
            #expect(same, "the state at \(seq) differs from the log replayed up to it")
        }
    }
    await engine.close()
    let report = try await Engine.verify(store)
    #expect(report.isValid, "\(report.problems.prefix(5))")
}

@Suite(.serialized) struct CrashTests {
    /// A child process commits random transactions and is killed with SIGKILL at
    /// random moments; the database must hold every acknowledged commit.
    @Test(arguments: Place.allCases) func sigkillAtRandomMomentsLosesNothingAcknowledged(_ place: Place) async throws {
        let dir = temporaryDirectory()
        let db = try await place.makeLocation()
        let rounds = ProcessInfo.processInfo.environment["STRATA_CRASH_ROUNDS"].flatMap(Int.init) ?? 40
        var acked: [UInt64: [Mutation]] = [:]
        var inFlight: [[Mutation]] = []
        var kills = 0
        for round in 0..<rounds {
            let child = try StrataChild(
                ["debug", "crash-child", db, "--seed", String(round)], output: dir + "/out-\(round).txt")
            // Most rounds let it open the database and commit (however slow the machine is
            // right now), then kill it in the middle of whatever it does; every fourth round
            // kills it at a random moment, opening included.
            if round % 4 != 0 {
                let deadline = ContinuousClock.now + .seconds(20)
                while !child.lines.contains(where: { $0.hasPrefix("ACK ") }) && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(5))
                }
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: 10...250)))
            await child.kill()
            kills += 1
            var lastTry: Substring?
            for line in child.lines {
                if line.hasPrefix("TRY ") {
                    lastTry = line.dropFirst(4)
                } else if line.hasPrefix("ACK ") {
                    let parts = line.dropFirst(4).split(separator: " ", maxSplits: 1)
                    acked[UInt64(parts[0])!] = parsePayload(parts[1])
                    lastTry = nil
                }
            }
            if let lastTry { inFlight.append(parsePayload(lastTry)) }
        }
        #expect(kills == rounds)
        #expect(acked.count > rounds, "the children committed too little to test anything")
        try await checkAfterCrashes(store: try place.open(db), acked: acked, inFlight: inFlight)
    }

    /// The same through the fault-injecting store: the store "dies" after the Nth
    /// write (leaving a partial temporary file), at every point of the commit,
    /// flush and compaction paths.
    @Test(arguments: Place.allCases) func crashPointsInTheStoreLoseNothingAcknowledged(_ place: Place) async throws {
        let db = try await place.makeLocation()
        var acked: [UInt64: [Mutation]] = [:]
        var inFlight: [[Mutation]] = []
        var options = smallOptions(checkpoint: 4, maxSegments: 2)
        options.automaticMaintenance = true
        options.inlineBatchLimit = 200
        var n = 0
        for crashPoint in 1...60 {
            let faulty = FaultInjectingStore(try place.open(db))
            faulty.crash(afterWrites: crashPoint % 13 + 1)
            let engine = try await Engine.open(faulty, options: options)
            while true {
                n += 1
                var muts = [Mutation(key: b("k\(n % 17)"), kind: .put, value: b("v\(n)"))]
                if n % 3 == 0 { muts.append(Mutation(key: b("big\(n % 2)"), kind: .put, value: [UInt8](repeating: UInt8(n % 250), count: 300))) }
                if n % 5 == 0 { muts.append(Mutation(key: b("k\((n + 1) % 17)"), kind: .delete, value: [])) }
                muts.sort { $0.key.lexicographicallyPrecedes($1.key) }
                do {
                    let seq = try await engine.write { tx in
                        for m in muts { if m.kind == .put { tx.put(m.key, m.value) } else { tx.delete(m.key) } }
                    }.seq
                    acked[seq] = muts
                    if n % 4 == 0 { try await engine.flush() }
                    if n % 9 == 0 { try await engine.compact() }
                } catch {
                    inFlight.append(muts)
                    break
                }
            }
            await engine.close()
            #expect(faulty.hasCrashed)
        }
        try await checkAfterCrashes(store: try place.open(db), acked: acked, inFlight: inFlight)
    }
}
