import PropertyBased
import StrataEngine
import StrataStore
import Testing

/// The reference model: the full state of the key space after every commit sequence.
struct VersionedModel {
    /// states[s] is the database right after commit s (states[0] is empty).
    var states: [[String: String]] = [[:]]

    var head: UInt64 { UInt64(states.count - 1) }

    /// Entries the model did not see (flushes, compactions) leave the state unchanged.
    mutating func extend(to seq: UInt64) {
        while head < seq { states.append(states.last!) }
    }

    mutating func commit(_ writes: [(String, String?)], at seq: UInt64) {
        extend(to: seq - 1)
        #expect(head == seq - 1, "the model missed a commit before \(seq)")
        var next = states.last!
        for (k, v) in writes { next[k] = v }
        states.append(next)
    }
}

/// Drives an engine and the model through the same random operations and checks
/// that every read, at every sequence, agrees.
final class ModelRun {
    let store: any ObjectStore
    let options: EngineOptions
    var engine: Engine
    var other: Engine?
    var model = VersionedModel()
    let keys = (0..<12).map { "k\($0)" }

    init(store: any ObjectStore, options: EngineOptions) async throws {
        self.store = store
        self.options = options
        engine = try await Engine.open(store, options: options)
    }

    func writes(from n: Int) -> [(String, String?)] {
        var out: [(String, String?)] = []
        for j in 0...(n / 10) % 3 {
            let k = keys[(n / 30 + j * 7) % keys.count]
            if out.contains(where: { $0.0 == k }) { continue }
            out.append((k, (n / 1000) % 5 == 0 ? nil : "v\(n)-\(j)"))
        }
        return out
    }

    func commit(_ e: Engine, _ w: [(String, String?)]) async throws -> UInt64 {
        try await e.write { tx in
            for (k, v) in w {
                if let v { tx.put(b(k), b(v)) } else { tx.delete(b(k)) }
            }
        }.seq
    }

    func step(_ n: Int) async throws {
        switch n % 10 {
        case 0...4:
            let w = writes(from: n)
            let seq = try await commit(engine, w)
            model.commit(w, at: seq)
        case 5:
            try await check(at: UInt64(n / 10) % (model.head + 1))
        case 6:
            try await engine.flush()
            model.extend(to: engine.head)
        case 7:
            try await engine.compact(all: (n / 10) % 2 == 0)
            model.extend(to: engine.head)
        case 8:
            await engine.close()
            engine = try await Engine.open(store, options: options)
            #expect(engine.head == model.head)
        default:
            try await conflictingTransactions(n)
        }
    }

    /// Another engine on the same store commits between this engine's read and its
    /// commit: the commit must fail with 40001 exactly when the other wrote what it read.
    func conflictingTransactions(_ n: Int) async throws {
        if other == nil { other = try await Engine.open(store, options: options) }
        let other = self.other!
        try await other.refresh()
        let read = keys[n % keys.count]
        let conflict = (n / 10) % 2 == 0
        let theirKey = conflict ? read : keys[(n + 5) % keys.count]
        let tx = engine.beginTransaction()
        #expect(s(try await tx.get(b(read))) == model.states[Int(tx.snapshot.seq)][read])
        let theirs: [(String, String?)] = [(theirKey, "other-\(n)")]
        model.commit(theirs, at: try await commit(other, theirs))
        let mineKey = keys[(n + 1) % keys.count]
        tx.put(b(mineKey), b("mine-\(n)"))
        do {
            let seq = try await engine.commit(tx)
            #expect(!conflict, "a read of a key overwritten after the snapshot must fail with 40001")
            model.commit([(mineKey, "mine-\(n)")], at: seq)
        } catch let e as EngineError where e.code == EngineError.serializationFailure {
            #expect(conflict, "no conflicting write, yet: \(e)")
            #expect(e.sqlState == "40001")
        }
        try await engine.refresh()
        #expect(engine.head == model.head)
    }

    /// Compares a snapshot's full scans (both directions) and point reads with the model.
    func check(at seq: UInt64) async throws {
        try await engine.refresh()
        model.extend(to: engine.head)
        let snap = try engine.snapshot(at: seq)
        let expected = model.states[Int(seq)]
        let rows = try await snap.scan()
        #expect(rows.map { s($0.key)! } == expected.keys.sorted(), "keys at \(seq)")
        #expect(Dictionary(uniqueKeysWithValues: rows.map { (s($0.key)!, s($0.value)!) }) == expected, "values at \(seq)")
        let back = try await snap.scan(reverse: true)
        #expect(back == rows.reversed())
        for k in keys {
            #expect(s(try await snap.get(b(k))) == expected[k], "\(k) at \(seq)")
        }
        let lower = keys[Int(seq) % keys.count], upper = "k7"
        let part = try await snap.scan(KeyRange(lower: b(lower), upper: b(upper)), limit: 3)
        #expect(part.map { s($0.key)! } == Array(expected.keys.filter { $0 >= lower && $0 < upper }.sorted().prefix(3)))
    }

    /// Runs `ops` on a new engine over the store `makeStore` gives, checks every read against
    /// the model, and closes the engines; an error on the way is recorded as the test's issue.
    static func runAndCheck(_ ops: [Int], on makeStore: () async throws -> any ObjectStore) async {
        do {
            let run = try await ModelRun(store: try await makeStore(), options: smallOptions())
            for n in ops { try await run.step(n) }
            try await run.checkEverything()
            await run.engine.close()
            await run.other?.close()
        } catch {
            Issue.record("unexpected error: \(error)")
        }
    }

    /// Every read at every sequence, and every key's history, against the model.
    func checkEverything() async throws {
        try await engine.refresh()
        model.extend(to: engine.head)
        for seq in 0...model.head { try await check(at: seq) }
        for k in keys {
            let h = try await engine.history(b(k))
            var expected: [(UInt64, String?)] = []
            for seq in stride(from: Int(model.head), through: 1, by: -1) where model.states[seq][k] != model.states[seq - 1][k] {
                expected.append((UInt64(seq), model.states[seq][k]))
            }
            // History also holds writes that set the same value again and deletes of absent keys;
            // the visible changes must be a subsequence of it in order.
            var it = h.makeIterator()
            for (seq, value) in expected {
                var found = false
                while let v = it.next() {
                    if v.seq == seq {
                        #expect((v.kind == .put ? s(v.value) : nil) == value, "history of \(k) at \(seq)")
                        found = true
                        break
                    }
                }
                #expect(found, "history of \(k) lacks \(seq)")
            }
        }
        let report = try await Engine.verify(store)
        #expect(report.isValid, "\(report.problems)")
    }
}

@Suite struct ModelBasedTests {
    @Test func randomInterleavingsAgreeWithTheModelInMemory() async throws {
        await propertyCheck(count: 40, input: Gen.int(in: 0...99_999).array(of: 10...90)) { ops in
            await ModelRun.runAndCheck(ops) { MemoryStore() }
        }
    }

    @Test func randomInterleavingsAgreeWithTheModelOnDisk() async throws {
        await propertyCheck(count: 8, input: Gen.int(in: 0...99_999).array(of: 20...80)) { ops in
            await ModelRun.runAndCheck(ops) { try DirectoryStore(path: temporaryDirectory()) }
        }
    }

    /// Compaction output is split into bounded segments (between keys); reads are unchanged.
    @Test func compactionSplitsOutputIntoBoundedSegments() async throws {
        var options = smallOptions()
        options.maxSegmentBytes = 300
        await propertyCheck(count: 10, input: Gen.int(in: 0...99_999).array(of: 40...90)) { ops in
            do {
                let run = try await ModelRun(store: MemoryStore(), options: options)
                for n in ops { try await run.step(n) }
                try await run.engine.flush()
                try await run.engine.compact(all: true)
                run.model.extend(to: run.engine.head)
                let stats = run.engine.statistics
                if stats.segments > 1 {
                    #expect(try await run.engine.scan().count == run.model.states.last!.count)
                }
                try await run.checkEverything()
            } catch {
                Issue.record("unexpected error: \(error)")
            }
        }
    }

    @Test func backgroundMaintenanceKeepsEveryVersion() async throws {
        var options = smallOptions(checkpoint: 3, maxSegments: 2)
        options.automaticMaintenance = true
        await propertyCheck(count: 10, input: Gen.int(in: 0...99_999).array(of: 30...80)) { ops in
            do {
                let run = try await ModelRun(store: MemoryStore(), options: options)
                for n in ops where n % 10 < 6 { try await run.step(n) }
                await run.engine.waitForMaintenance()
                try await run.checkEverything()
            } catch {
                Issue.record("unexpected error: \(error)")
            }
        }
    }
}
