import Foundation
import StrataEngine
import StrataStore
import Testing

@Suite struct FeatureTests {
    /// Concurrent transactions in one process share log entries (group commit)
    /// behind a slow store, and all of them commit.
    @Test func concurrentCommitsShareLogEntries() async throws {
        let slow = FaultInjectingStore(MemoryStore())
        slow.add(.init([.putIfAbsent], action: .delay(.milliseconds(20))))
        let engine = try await Engine.open(slow, options: smallOptions())
        let seqs = try await withThrowingTaskGroup(of: UInt64.self) { group in
            for i in 0..<64 {
                group.addTask { try await engine.put(b("key\(i)"), b("value\(i)")) }
            }
            return try await group.reduce(into: [UInt64]()) { $0.append($1) }
        }
        #expect(seqs.count == 64)
        #expect(Set(seqs).count < 16, "64 commits used \(Set(seqs).count) log entries")
        #expect(engine.head == UInt64(Set(seqs).count))
        for i in 0..<64 { #expect(s(try await engine.get(b("key\(i)"))) == "value\(i)") }
        let log = try await Engine.log(slow)
        #expect(log.reduce(0) { $0 + $1.writes } == 64)
    }

    /// Transactions in one group that conflict with an earlier member fail; the rest commit.
    @Test func groupMembersAreValidatedAgainstEachOther() async throws {
        let slow = FaultInjectingStore(MemoryStore())
        let engine = try await Engine.open(slow, options: smallOptions())
        try await engine.put(b("counter"), b("0"))
        slow.add(.init([.putIfAbsent], action: .delay(.milliseconds(30))))
        // Many read-modify-write increments at once: serializable means no lost update.
        let results = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    do {
                        try await engine.transaction(maxAttempts: 100) { tx in
                            let n = Int(s(try await tx.get(b("counter")))!)!
                            tx.put(b("counter"), b(String(n + 1)))
                        }
                        return true
                    } catch {
                        return false
                    }
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.allSatisfy { $0 })
        #expect(s(try await engine.get(b("counter"))) == "20")
    }

    /// A second engine sees the first one's commits by refresh, by polling, and
    /// through the change feed.
    @Test func otherProcessesCommitsBecomeVisible() async throws {
        let store = MemoryStore()
        let writer = try await Engine.open(store, options: smallOptions())
        var polling = smallOptions()
        polling.pollInterval = .milliseconds(20)
        let reader = try await Engine.open(store, options: polling)
        let manual = try await Engine.open(store, options: smallOptions())

        let seq = try await writer.put(b("x"), b("1"))
        #expect(try await manual.get(b("x")) == nil, "not refreshed yet")
        #expect(try await manual.refresh() == seq)
        #expect(s(try await manual.get(b("x"))) == "1")

        // Generous: the whole suite shares two cores; the loop ends as soon as the commit shows.
        let deadline = ContinuousClock.now + .seconds(60)
        while reader.head < seq && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        #expect(s(try await reader.get(b("x"))) == "1", "polling did not pick up the commit")

        // The change feed delivers commits in order, including ones made after it started.
        let feed = Task {
            var got: [Change] = []
            for try await change in reader.changes(since: 0, pollInterval: .milliseconds(10)) {
                got.append(change)
                if got.count == 4 { break }
            }
            return got
        }
        try await writer.put(b("y"), b("2"))
        try await writer.delete(b("x"))
        try await writer.write { tx in
            tx.put(b("a"), b("3"))
            tx.put(b("b"), b("4"))
        }
        let got = try await feed.value
        #expect(got.map(\.seq) == [1, 2, 3, 4])
        #expect(got[2].mutations == [Mutation(key: b("x"), kind: .delete, value: [])])
        #expect(got[3].mutations.map(\.key) == [b("a"), b("b")])
        #expect(got.allSatisfy { $0.writer == writer.writerID })
        await reader.close()
    }

    /// Commits that land while a flush uploads its segment stay in the memtable after
    /// it (carried over from the flush's side log), and every version stays readable.
    @Test func commitsDuringAFlushSurviveIt() async throws {
        let slow = FaultInjectingStore(MemoryStore())
        let engine = try await Engine.open(slow, options: smallOptions())
        for i in 0..<30 { try await engine.put(b("k\(i % 7)"), b("before-\(i)")) }
        slow.add(.init([.put], keyPrefix: "obj/", action: .delay(.milliseconds(150)), times: 1))
        let flush = Task { try await engine.flush() }
        try await Task.sleep(for: .milliseconds(50))
        var during: [UInt64] = []
        for i in 0..<20 { during.append(try await engine.put(b("k\(i % 5)"), b("during-\(i)"))) }
        try await flush.value
        let stats = engine.statistics
        #expect(stats.watermark >= 30 && stats.watermark < during.first!, "the flush did not overlap the commits")
        #expect(stats.memtableEntries == 20, "commits after the flush's target must stay in the memtable")
        for (i, seq) in during.enumerated() { #expect(s(try await engine.get(b("k\(i % 5)"), at: seq)) == "during-\(i)") }
        #expect(s(try await engine.get(b("k6"))) == "before-27")
        #expect(s(try await engine.get(b("k0"))) == "during-15")
        try await engine.flush()
        #expect(engine.statistics.memtableEntries == 0)
        #expect(try await engine.history(b("k1")).count == 5 + 4)
    }

    @Test func snapshotsByTimestamp() async throws {
        let engine = try await Engine.open(MemoryStore(), options: smallOptions())
        var stamps: [UInt64] = []
        for i in 1...5 {
            let seq = try await engine.put(b("k"), b("v\(i)"))
            stamps.append(try await engine.timestamp(of: seq))
            try await Task.sleep(for: .milliseconds(2))
        }
        #expect(stamps == stamps.sorted() && Set(stamps).count == 5)
        for (i, t) in stamps.enumerated() {
            #expect(s(try await engine.snapshot(atTimestamp: t).get(b("k"))) == "v\(i + 1)")
            #expect(s(try await engine.snapshot(atTimestamp: t + 1).get(b("k"))) == "v\(i + 1)")
        }
        #expect(try await engine.snapshot(atTimestamp: stamps[0] - 1).get(b("k")) == nil)
        #expect(try await engine.sequence(atTimestamp: 0) == 0)
        #expect(try await engine.sequence(atTimestamp: .max) == 5)
    }

    @Test func retentionDropsOldVersionsAndRefusesOldSnapshots() async throws {
        var options = smallOptions()
        options.retention = .commits(5)
        let store = MemoryStore()
        let engine = try await Engine.open(store, options: options)
        for i in 1...20 {
            try await engine.put(b("k\(i % 3)"), b("v\(i)"))
            if i % 4 == 0 { try await engine.flush() }
        }
        try await engine.delete(b("k0"))
        try await engine.flush()
        let head = engine.head
        try await engine.compact(all: true)
        let horizon = engine.horizon
        #expect(horizon > 0 && horizon >= head - 5)
        #expect(throws: EngineError.self) { _ = try engine.snapshot(at: horizon - 1) }
        do {
            _ = try engine.snapshot(at: 1)
        } catch let e as EngineError {
            #expect(e.code == EngineError.snapshotTooOld && e.sqlState == "72000")
        }
        // Reads at the horizon and after are unchanged.
        #expect(s(try await engine.get(b("k1"))) == "v19")
        #expect(s(try await engine.get(b("k2"))) == "v20")
        #expect(try await engine.get(b("k0")) == nil)
        #expect(try await engine.history(b("k1")).allSatisfy { $0.seq >= horizon })
        let reopened = try await Engine.open(store, options: options)
        #expect(reopened.horizon == horizon)
        #expect(try await Engine.verify(store).isValid)
    }

    /// Changing one byte anywhere is found by verify, which names the object.
    @Test func verifyNamesTamperedObjects() async throws {
        let store = MemoryStore()
        let engine = try await Engine.open(store, options: smallOptions())
        for i in 0..<30 { try await engine.put(b("k\(i)"), b(String(repeating: "v", count: i * 10))) }
        try await engine.flush()
        try await engine.write { tx in for i in 0..<100 { tx.put(b("big\(i)"), [UInt8](repeating: 1, count: 1000)) } }
        #expect(try await Engine.verify(store).isValid)
        let keys = try await store.listAll(prefix: "").map(\.key).filter { !$0.hasPrefix("ckpt/") }
        for key in keys {
            let original = try await store.get(key)
            store.tamper(key) { var b = $0; b[b.count / 2] ^= 0x20; return b }
            let report = try await Engine.verify(store)
            #expect(!report.isValid, "changing \(key) went unnoticed")
            #expect(report.problems.contains { $0.contains(key) }, "verify did not name \(key): \(report.problems.prefix(2))")
            try await store.put(key, original)
        }
        #expect(try await Engine.verify(store).isValid)
    }

    /// Opening a store whose log was changed fails with a corruption error instead of reading wrong data.
    @Test func openingRefusesABrokenChain() async throws {
        let store = MemoryStore()
        let engine = try await Engine.open(store, options: smallOptions())
        for i in 0..<5 { try await engine.put(b("k\(i)"), b("v")) }
        store.tamper("log/main/00000000000000000003") { var b = $0; b[b.count - 1] ^= 1; return b }
        await #expect(throws: EngineError.self) { _ = try await Engine.open(store, options: smallOptions()) }
    }
}
