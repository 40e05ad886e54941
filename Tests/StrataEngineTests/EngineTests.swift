import Testing
import StrataEngine
import StrataStore

@Suite struct EngineTests {
    /// Write sets switch from sorted appends to a hash index when keys arrive out of order;
    /// commits of sorted batches that interleave existing keys go through the memtable's
    /// finger search. Both must agree with a plain dictionary model.
    @Test func writeSetsAndSortedBatchesMatchAModel() async throws {
        let engine = try await Engine.open(MemoryStore(), options: smallOptions())
        var model: [String: String] = [:]
        var rng = SystemRandomNumberGenerator()
        for round in 0..<30 {
            let tx = engine.beginTransaction()
            var own = model
            let ascending = round % 3 == 0
            for n in 0..<40 {
                let k = ascending ? String(format: "k%05d", round * 40 + n) : String(format: "k%05d", Int.random(in: 0..<1500, using: &rng))
                if Int.random(in: 0..<6, using: &rng) == 0 {
                    tx.delete(b(k))
                    own[k] = nil
                } else {
                    tx.put(b(k), b("\(round)-\(n)"))
                    own[k] = "\(round)-\(n)"
                }
                let probe = String(format: "k%05d", Int.random(in: 0..<1500, using: &rng))
                #expect(s(try await tx.get(b(probe))) == own[probe])
            }
            let lower = String(format: "k%05d", Int.random(in: 0..<1500, using: &rng))
            let seen = try await tx.scan(KeyRange(lower: b(lower), upper: nil)).map { s($0.key)! }
            #expect(seen == own.keys.filter { $0 >= lower }.sorted())
            _ = try await engine.commit(tx)
            model = own
            if round % 10 == 9 { try await engine.flush() }
        }
        let all = try await engine.snapshot().scan()
        #expect(all.map { s($0.key)! } == model.keys.sorted())
        #expect(all.map { s($0.value)! } == model.keys.sorted().map { model[$0]! })
    }

    /// Batched lookups (a join's) and single lookups agree with a model across memtable and
    /// segments, for keys in order, out of order, repeated and absent, at old snapshots too;
    /// keys of mixed lengths exercise the blocks' shared-prefix search.
    @Test func batchedAndSingleLookupsMatchAModel() async throws {
        let engine = try await Engine.open(MemoryStore(), options: smallOptions())
        var rng = SystemRandomNumberGenerator()
        func key(_ i: Int) -> [UInt8] { b(i % 3 == 0 ? "k\(i)" : String(format: "k%06d", i)) }
        var model: [[UInt8]: [UInt8]] = [:]
        var snapshots: [(Snapshot, [[UInt8]: [UInt8]])] = []
        for round in 0..<12 {
            let tx = engine.beginTransaction()
            for _ in 0..<60 {
                let k = key(Int.random(in: 0..<900, using: &rng))
                if Int.random(in: 0..<5, using: &rng) == 0 {
                    tx.delete(k)
                    model[k] = nil
                } else {
                    tx.put(k, b("v\(round)"))
                    model[k] = b("v\(round)")
                }
            }
            _ = try await engine.commit(tx)
            if round % 4 == 3 { try await engine.flush() }
            snapshots.append((engine.snapshot(), model))
        }
        for (snap, expected) in snapshots {
            var probes = (0..<300).map { _ in key(Int.random(in: 0..<1000, using: &rng)) }
            // Single reads (which also bring every needed block into the cache) ...
            for k in probes { #expect(try await snap.get(k) == expected[k]) }
            // ... then batched ones, all answered from memory, sorted and shuffled.
            for sorted in [true, false] {
                if sorted { probes.sort { $0.lexicographicallyPrecedes($1) } } else { probes.shuffle(using: &rng) }
                let many = snap.cachedGetMany(probes)
                #expect(many.count == probes.count)
                for (k, read) in zip(probes, many) {
                    #expect(read != nil)
                    #expect(read?.value == expected[k])
                }
            }
        }
        // Inside a transaction, its own writes answer first.
        let tx = engine.beginTransaction()
        let own = key(5)
        tx.put(own, b("mine"))
        let reads = tx.cachedGetMany([key(4), own, key(6)])
        #expect(reads[1]?.value == b("mine"))
        #expect(reads[0].map { $0.value == model[key(4)] } ?? true)
    }

    /// The size estimate a join uses to pick its plan follows the data, in segments and
    /// in the memtable, and stops at its limit.
    @Test func estimatedCountFollowsTheData() async throws {
        let engine = try await Engine.open(MemoryStore(), options: smallOptions(maxSegments: 10))
        func key(_ p: String, _ i: Int) -> [UInt8] { b(String(format: "\(p)%05d", i)) }
        for chunk in 0..<4 {
            let tx = engine.beginTransaction()
            for i in (chunk * 500)..<(chunk * 500 + 500) { tx.put(key("a", i), b("value \(i)")) }
            _ = try await engine.commit(tx)
            if chunk < 3 { try await engine.flush() }
        }
        let tx = engine.beginTransaction()
        for i in 0..<40 { tx.put(key("b", i), b("x")) }
        _ = try await engine.commit(tx)
        let snap = engine.snapshot()
        let all = snap.estimatedCount(.prefix(b("a")), limit: .max)
        #expect(all >= 1500 && all <= 2600, "estimate \(all) for 2000 keys")
        let some = snap.estimatedCount(KeyRange(lower: key("a", 100), upper: key("a", 300)), limit: .max)
        #expect(some >= 100 && some <= 400, "estimate \(some) for 200 keys")
        let tail = snap.estimatedCount(KeyRange(lower: key("a", 1600), upper: key("a", 1700)), limit: .max)
        #expect(tail == 100, "the memtable counts exactly: \(tail)")
        #expect(snap.estimatedCount(.prefix(b("b")), limit: .max) == 40)
        #expect(snap.estimatedCount(.prefix(b("c")), limit: .max) == 0)
        #expect(snap.estimatedCount(.prefix(b("a")), limit: 100) >= 100)
        #expect(snap.estimatedCount(.prefix(b("b")), limit: 10) == 10)
    }

    @Test func putGetDeleteAndOldVersions() async throws {
        let engine = try await Engine.open(MemoryStore(), options: smallOptions())
        let s1 = try await engine.put(b("a"), b("1"))
        let s2 = try await engine.put(b("a"), b("2"))
        let s3 = try await engine.delete(b("a"))
        #expect([s1, s2, s3] == [1, 2, 3])
        #expect(try await engine.get(b("a")) == nil)
        #expect(s(try await engine.get(b("a"), at: 1)) == "1")
        #expect(s(try await engine.get(b("a"), at: 2)) == "2")
        #expect(try await engine.get(b("a"), at: 0) == nil)
        let h = try await engine.history(b("a"))
        #expect(h.map(\.seq) == [3, 2, 1])
        #expect(h.map(\.kind) == [.delete, .put, .put])
        #expect(h[0].timestamp > h[1].timestamp && h[1].timestamp > h[2].timestamp)
        await #expect(throws: EngineError.self) { _ = try await engine.get(b("a"), at: 9) }
    }

    @Test func scansForwardAndBackwardAcrossMemtableAndSegments() async throws {
        let store = MemoryStore()
        let engine = try await Engine.open(store, options: smallOptions())
        for i in 0..<50 {
            try await engine.put(b("k\(1000 + i)"), b("v\(i)"))
            if i % 7 == 0 { try await engine.flush() }
        }
        try await engine.delete(b("k1010"))
        try await engine.flush()
        try await engine.put(b("k1020"), b("new"))
        let all = try await engine.scan()
        #expect(all.count == 49)
        #expect(s(all.first { $0.key == b("k1020") }?.value) == "new")
        let rev = try await engine.scan(reverse: true)
        #expect(rev.map(\.key) == all.map(\.key).reversed())
        let part = try await engine.scan(KeyRange(lower: b("k1005"), upper: b("k1012")))
        #expect(part.map { s($0.key)! } == ["k1005", "k1006", "k1007", "k1008", "k1009", "k1011"])
        let partRev = try await engine.scan(KeyRange(lower: b("k1005"), upper: b("k1012")), reverse: true, limit: 3)
        #expect(partRev.map { s($0.key)! } == ["k1011", "k1009", "k1008"])
        #expect(engine.statistics.segments >= 2)
        try await engine.compact(all: true)
        #expect(engine.statistics.segments == 1)
        #expect(try await engine.scan() == all.map { $0.key == b("k1020") ? KeyValue(key: $0.key, value: b("new")) : $0 })
        let report = try await Engine.verify(store)
        #expect(report.isValid, "\(report.problems)")
    }

    @Test func compactionWritesBoundedSegmentsAndKeepsVersionsTogether() async throws {
        var options = smallOptions()
        options.maxSegmentBytes = 2000
        let store = MemoryStore()
        let engine = try await Engine.open(store, options: options)
        for round in 0..<3 {
            try await engine.write { tx in
                for i in 0..<200 { tx.put(b("key\(1000 + i)"), b(String(repeating: "\(round)", count: 40))) }
            }
            try await engine.flush()
        }
        try await engine.compact(all: true)
        let segments = engine.statistics.segments
        #expect(segments >= 10, "a 3x200x40-byte compaction at 2000 bytes per segment made \(segments) segment(s)")
        let rows = try await engine.scan()
        #expect(rows.count == 200 && rows.allSatisfy { s($0.value)!.hasPrefix("2") })
        for seq in [1, 3, 5] as [UInt64] {
            let expected = String(repeating: "\(seq / 2)", count: 40)
            #expect(try await engine.scan(at: seq).allSatisfy { s($0.value) == expected })
            #expect(s(try await engine.get(b("key1100"), at: seq)) == expected)
        }
        #expect(try await engine.history(b("key1150")).count == 3)
        let reopened = try await Engine.open(store, options: options)
        #expect(reopened.statistics.segments == segments)
        #expect(try await Engine.verify(store).isValid)
    }

    @Test func reopenReplaysFromCheckpoint() async throws {
        let store = MemoryStore()
        var o = smallOptions()
        o.automaticMaintenance = true
        let engine = try await Engine.open(store, options: o)
        for i in 0..<40 { try await engine.put(b("key\(i % 13)"), b("\(i)")) }
        await engine.close()
        let again = try await Engine.open(store, options: o)
        #expect(again.head == engine.head)
        for i in 27..<40 { #expect(s(try await again.get(b("key\(i % 13)"))) == "\(i)") }
        #expect(s(try await again.get(b("key0"), at: 1)) == "0")
        let report = try await Engine.verify(store)
        #expect(report.isValid, "\(report.problems)")
    }
}
