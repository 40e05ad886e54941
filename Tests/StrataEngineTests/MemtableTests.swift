@testable import StrataEngine
import Testing

@Suite struct MemtableTests {
    /// Versions of keys of mixed lengths (some sharing more than 16 bytes, so the read
    /// index must settle ties on whole keys), with deletions.
    private struct Model {
        var versions: [[UInt8]: [(seq: UInt64, kind: EntryKind, value: [UInt8])]] = [:]
        var seq: UInt64 = 0

        mutating func write(_ memtable: Memtable, _ key: [UInt8], delete: Bool) {
            seq += 1
            let value: [UInt8] = delete ? [] : Array("v\(seq)".utf8)
            key.withUnsafeBytes { k in value.withUnsafeBytes { v in memtable.insert(k, seq: seq, kind: delete ? .delete : .put, value: v) } }
            versions[key, default: []].append((seq, delete ? .delete : .put, value))
        }

        /// The newest version at or below `snapshot`: nil if none, else its kind and value.
        func read(_ key: [UInt8], _ snapshot: UInt64) -> (kind: EntryKind, value: [UInt8])? {
            guard let v = versions[key]?.last(where: { $0.seq <= snapshot }) else { return nil }
            return (v.kind, v.value)
        }
    }

    private static func key(_ i: Int) -> [UInt8] {
        Array((i % 4 == 0 ? "shared/prefix/longer/than/16/\(i)" : i % 4 == 1 ? "k\(i)" : "key-\(i * 7919 % 1000)").utf8)
    }

    private func check(_ memtable: Memtable, _ model: Model, _ probes: [[UInt8]], _ snapshot: UInt64) {
        for k in probes {
            let n = k.withUnsafeBytes { memtable.get($0, snapshot: snapshot) }
            let expected = model.read(k, snapshot)
            #expect(n.map { Memtable.kind($0) } == expected?.kind)
            if let n, expected?.kind == .put { #expect(Array(Memtable.value(n)) == expected?.value) }
        }
        // Ascending lookups through a finger, repeated and absent keys included.
        let sorted = probes.sorted { $0.lexicographicallyPrecedes($1) }
        memtable.withFinger { finger in
            for k in sorted {
                let n = k.withUnsafeBytes { memtable.get($0, snapshot: snapshot, finger: finger) }
                #expect(n.map { Memtable.kind($0) } == model.read(k, snapshot)?.kind)
            }
        }
        // A seek lands on the first version at or after (key, snapshot): keys ascending,
        // sequences descending.
        let order = model.versions.flatMap { k, vs in vs.map { (key: k, seq: $0.seq) } }.sorted {
            $0.key == $1.key ? $0.seq > $1.seq : $0.key.lexicographicallyPrecedes($1.key)
        }
        // A count covers every version of the keys in a range, up to its limit.
        for (lower, upper) in zip(probes.prefix(20), probes.dropFirst(20).prefix(20)) {
            let (lo, hi) = lower.lexicographicallyPrecedes(upper) ? (lower, upper) : (upper, lower)
            let expected = order.filter { !$0.key.lexicographicallyPrecedes(lo) && $0.key.lexicographicallyPrecedes(hi) }.count
            #expect(memtable.count(KeyRange(lower: lo, upper: hi), limit: .max) == expected)
            #expect(memtable.count(KeyRange(lower: lo, upper: hi), limit: 5) == min(5, expected))
        }
        for k in probes.prefix(60) {
            let n = k.withUnsafeBytes { memtable.seek($0, snapshot) }
            let expected = order.first { k.lexicographicallyPrecedes($0.key) || ($0.key == k && $0.seq <= snapshot) }
            #expect(n.map { Array(Memtable.key($0)) } == expected?.key)
            #expect(n.map { Memtable.seq($0) } == expected?.seq)
        }
    }

    /// Lookups agree with a model before the read index exists, once reads have built it,
    /// at old snapshots, and again after a write has dropped it.
    @Test func readIndexAnswersAsTheSkipListDoes() {
        let memtable = Memtable()
        var model = Model()
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<3000 { model.write(memtable, Self.key(Int.random(in: 0..<900, using: &rng)), delete: Int.random(in: 0..<6, using: &rng) == 0) }
        let probes = (0..<400).map { _ in Self.key(Int.random(in: 0..<1000, using: &rng)) }
        #expect(!memtable.hasReadIndex)
        check(memtable, model, probes, model.seq)
        // Enough reads without writes build the index; old snapshots read through it too.
        check(memtable, model, probes, model.seq)
        #expect(memtable.hasReadIndex)
        for snapshot in [1, model.seq / 3, model.seq / 2, model.seq - 1, model.seq] { check(memtable, model, probes, snapshot) }
        // A write drops it, and the new version is seen.
        model.write(memtable, Self.key(4), delete: false)
        #expect(!memtable.hasReadIndex)
        check(memtable, model, probes + [Self.key(4)], model.seq)
    }
}
