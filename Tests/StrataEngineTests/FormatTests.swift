import PropertyBased
@testable import StrataEngine
import StrataStore
import Testing

@Suite struct FormatTests {
    @Test func crc32cMatchesTheStandardCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
    }

    @Test func varintsRoundTrip() async {
        await propertyCheck(input: Gen.uint64().array(of: 0...50)) { values in
            var w = ByteWriter()
            for v in values { w.varint(v) }
            var r = ByteReader(w.bytes)
            for v in values { #expect((try? r.varint()) == v) }
            #expect(r.isAtEnd)
        }
    }

    @Test func batchesRoundTripAndRejectDamage() async {
        let mutation = zip(Gen.uint8().array(of: 0...20), Gen.bool, Gen.uint8().array(of: 0...40))
            .map { t in Mutation(key: t.0, kind: t.1 ? .put : .delete, value: t.1 ? t.2 : []) }
        await propertyCheck(input: mutation.array(of: 0...30), Gen.int(in: 0...10_000)) { muts, flip in
            // The model: one mutation per key, the last written, in key order.
            var last: [[UInt8]: Mutation] = [:]
            for m in muts { last[m.key] = m }
            let model = last.values.sorted { compareBytes($0.key, $1.key) < 0 }
            let batch = MutationBatch(muts)
            #expect(batch.mutations == model)
            let bytes = batch.encoded()
            #expect((try? MutationBatch.decode(bytes))?.mutations == model)
            var damaged = bytes
            damaged[flip % bytes.count] ^= 0x40
            #expect(throws: EngineError.self) { _ = try MutationBatch.decode(damaged) }
            #expect(throws: EngineError.self) { _ = try MutationBatch.decode(Array(bytes.prefix(flip % bytes.count))) }
        }
    }

    /// A transaction's write set answers like a dictionary of the newest write per key,
    /// whatever order keys arrive in (ascending runs stay unindexed, others build the index).
    @Test func writeSetsMatchADictionary() async {
        let op = zip(Gen.uint8(in: 0...40), Gen.bool, Gen.uint8().array(of: 0...6))
        await propertyCheck(input: op.array(of: 0...60), Gen.bool) { ops, ascendingFirst in
            var model: [[UInt8]: Mutation] = [:]
            var writes = WriteSet()
            let sequence = ascendingFirst ? ops.sorted { $0.0 < $1.0 } : ops
            for (k, put, v) in sequence {
                let key: [UInt8] = [k, k &* 7]
                let m = Mutation(key: key, kind: put ? .put : .delete, value: put ? v : [])
                model[key] = m
                if put && v.count % 2 == 0 {
                    // Room for more than is written: the length moves up to the value's real size.
                    writes.set(.put, key, valueCapacity: v.count + 200) { p in
                        for (i, byte) in v.enumerated() { p.storeBytes(of: byte, toByteOffset: i, as: UInt8.self) }
                        return v.count
                    }
                } else {
                    writes.set(m.kind, key, m.value)
                }
            }
            let sorted = model.values.sorted { compareBytes($0.key, $1.key) < 0 }
            #expect(writes.sorted().mutations == sorted)
            #expect(writes.isEmpty == model.isEmpty)
            for k in UInt8(0)...41 {
                let key: [UInt8] = [k, k &* 7]
                #expect(writes[key] == model[key])
            }
            let range = KeyRange(lower: [10], upper: [30])
            #expect(writes.mutations(in: range, reverse: false) == sorted.filter { range.contains($0.key) })
            #expect(writes.mutations(in: range, reverse: true) == sorted.filter { range.contains($0.key) }.reversed())
        }
    }

    @Test func logEntriesRoundTrip() async {
        await propertyCheck(input: Gen.uint64(), Gen.uint8().array(of: 32), Gen.int(in: 0...2), Gen.uint64().array(of: 0...3)) {
            seq, parent, kind, relayedNumbers in
            let ref = SegmentRef(
                hash: ContentHash(of: [1, 2, 3]), size: 4096, count: 10, minSeq: 1, maxSeq: seq, minKey: [0], maxKey: [255, 255])
            let body: LogEntry.Body
            switch kind {
            case 0: body = .inline(MutationBatch([Mutation(key: [1], kind: .put, value: [2, 3]), Mutation(key: [4], kind: .delete, value: [])]))
            case 1: body = .batchObject(ContentHash(of: [9]), size: 123_456, count: 789)
            default:
                body = .structural(StructuralChange(
                    kind: .compaction, watermark: seq / 2, horizon: seq / 3, manifest: ContentHash(of: [7]),
                    removes: [ContentHash(of: [5]), ContentHash(of: [6])], adds: [ref]))
            }
            // Entries with relayed transactions (format version 2) and without (version 1).
            let relayed = relayedNumbers.enumerated().map { RelayedCommit(writer: "p\($0.offset)", number: $0.element) }
            let entry = LogEntry(
                seq: seq, timestamp: seq &* 3, parent: ContentHash(bytes: parent), writer: "w-\(seq)", body: body, relayed: relayed)
            let bytes = entry.encode()
            #expect(bytes[4] == (relayed.isEmpty ? 1 : 2))
            #expect((try? LogEntry.decode(bytes)) == entry)
            for i in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 7)) {
                var damaged = bytes
                damaged[i] ^= 1
                #expect(throws: EngineError.self) { _ = try LogEntry.decode(damaged) }
            }
        }
    }

    @Test func manifestsRoundTrip() throws {
        let refs = (0..<5).map { i in
            SegmentRef(hash: ContentHash(of: [UInt8(i)]), size: i * 100, count: i, minSeq: UInt64(i), maxSeq: UInt64(i * 2), minKey: [UInt8(i)], maxKey: [UInt8(i), 9])
        }
        let m = Manifest(watermark: 10, horizon: 3, segments: refs)
        #expect(try Manifest.decode(m.encode()) == m)
        #expect(throws: EngineError.self) { _ = try Manifest.decode(Array(m.encode().dropLast())) }
    }

    /// Arbitrary bytes never crash a decoder; they are rejected with an error.
    @Test func decodersRejectGarbage() async {
        await propertyCheck(count: 300, input: Gen.uint8().array(of: 0...200)) { garbage in
            for prefix in [[UInt8](), Array("STRL".utf8), Array("STRB".utf8), Array("STRM".utf8)] {
                let bytes = prefix + garbage
                _ = try? LogEntry.decode(bytes)
                _ = try? MutationBatch.decode(bytes)
                _ = try? Manifest.decode(bytes)
                _ = try? DecodedBlock(bytes, 0..<bytes.count)
            }
        }
    }

    @Test func keyRangePrefixes() {
        #expect(KeyRange.prefix([1, 2]) == KeyRange(lower: [1, 2], upper: [1, 3]))
        #expect(KeyRange.prefix([1, 255]) == KeyRange(lower: [1, 255], upper: [2]))
        #expect(KeyRange.prefix([255, 255]).upper == nil)
        #expect(KeyRange.prefix([]).upper == nil)
        #expect(KeyRange.prefix([7]).contains([7, 0, 0]))
        #expect(!KeyRange.prefix([7]).contains([8]))
    }
}

@Suite struct SegmentTests {
    typealias Entry = (key: [UInt8], seq: UInt64, kind: EntryKind, value: [UInt8])

    /// Random versioned entries in segment order: keys ascending, sequences descending.
    static let entries = zip(Gen.uint8().array(of: 0...6), Gen.uint64(in: 1...40), Gen.bool, Gen.uint8().array(of: 0...30))
        .array(of: 0...300)
        .map { raw -> [Entry] in
            var seen = Set<[UInt8]>()
            var out: [Entry] = []
            for (k, s, put, v) in raw {
                let put: Bool = put
                var key = k
                key.append(UInt8(truncatingIfNeeded: s))  // spread keys
                if seen.insert(key + [0xff] + withUnsafeBytes(of: s) { Array($0) }).inserted {
                    out.append((key, s, put ? .put : .delete, put ? v : []))
                }
            }
            out.sort { a, b in
                let c = compareBytes(a.key, b.key)
                return c != 0 ? c < 0 : a.seq > b.seq
            }
            var unique: [Entry] = []
            for e in out where unique.last.map({ $0.key != e.key || $0.seq != e.seq }) ?? true { unique.append(e) }
            return unique
        }

    static func build(_ entries: [Entry], blockSize: Int) -> ([UInt8], SegmentRef) {
        var w = SegmentWriter(blockSize: blockSize, expectedKeys: entries.count)
        for e in entries {
            e.key.withUnsafeBytes { k in e.value.withUnsafeBytes { v in w.add(key: k, seq: e.seq, kind: e.kind, value: v) } }
        }
        return w.finish()
    }

    @Test func segmentsRoundTripEveryEntryAndLookup() async {
        await propertyCheck(count: 60, input: Self.entries, Gen.int(in: 64...1024)) { entries, blockSize in
            do {
                let store = MemoryStore()
                let (bytes, ref) = Self.build(entries, blockSize: blockSize)
                #expect(ref.count == entries.count)
                #expect(ref.size == bytes.count)
                #expect(ref.hash == ContentHash(of: bytes))
                if let first = entries.first, let last = entries.last {
                    #expect(ref.minKey == first.key && ref.maxKey == last.key)
                    #expect(ref.minSeq == entries.map(\.seq).min() && ref.maxSeq == entries.map(\.seq).max())
                }
                try await store.put("obj/\(ref.hash.hex)", bytes)
                let reader = try await SegmentReader.open(ref, store: store, cache: BlockCache(capacity: 1 << 20))
                var all: [Entry] = []
                for b in 0..<reader.blockCount {
                    let block = try await reader.block(b)
                    for i in 0..<block.count {
                        all.append((Array(block.key(i)), block.seq(i), block.kind(i), Array(block.value(i))))
                    }
                }
                #expect(all.count == entries.count)
                for (a, e) in zip(all, entries) {
                    #expect(a.key == e.key && a.seq == e.seq && a.kind == e.kind && a.value == e.value)
                }
                // Every key is found by bloom filter and index; each version by (key, seq).
                for e in entries {
                    let found = e.key.withUnsafeBytes { k -> (Bool, Int) in
                        (reader.mayContain(k), reader.findBlock(k, e.seq))
                    }
                    #expect(found.0, "bloom filter false negative")
                    let block = try await reader.block(found.1)
                    let i = e.key.withUnsafeBytes { block.lowerBound($0, e.seq) }
                    #expect(i < block.count && Array(block.key(i)) == e.key && block.seq(i) == e.seq)
                }
            } catch {
                Issue.record("\(error)")
            }
        }
    }

    /// A block's search (which guesses positions by interpolating key heads) agrees with a
    /// linear scan for present and absent keys, whether ids are spread evenly, clustered or
    /// repeated with several versions, and for keys before, after and outside the shared prefix.
    @Test func blockSearchAgreesWithALinearScan() async {
        let ids = zip(Gen.uint64(in: 0...UInt64.max >> 1), Gen.int(in: 0...3)).array(of: 1...200)
        let probes = zip(Gen.uint64(in: 0...UInt64.max >> 1), Gen.uint64(in: 1...5), Gen.int(in: 0...4)).array(of: 1...40)
        await propertyCheck(count: 200, input: ids, probes) { raw, probes in
            do {
                // Three shapes of id: as drawn, squeezed into a narrow band, and squared (skewed).
                func shape(_ v: UInt64, _ s: Int) -> UInt64 {
                    switch s {
                    case 0: v
                    case 1: 1_000_000 + v % 5_000
                    case 2: (v % 100_000) * (v % 100_000)
                    default: v % 7
                    }
                }
                func key(_ id: UInt64) -> [UInt8] { [0, 0, 0, 9] + withUnsafeBytes(of: id.bigEndian) { Array($0) } }
                var entries: [Entry] = []
                for (v, s) in raw {
                    for seq in 1...UInt64(1 + s % 2) { entries.append((key(shape(v, s)), seq, .put, [UInt8(s)])) }
                }
                entries.sort { a, b in
                    let c = compareBytes(a.key, b.key)
                    return c != 0 ? c < 0 : a.seq > b.seq
                }
                var unique: [Entry] = []
                for e in entries where unique.last.map({ $0.key != e.key || $0.seq != e.seq }) ?? true { unique.append(e) }
                let (bytes, ref) = Self.build(unique, blockSize: 1 << 20)
                let store = MemoryStore()
                try await store.put("obj/\(ref.hash.hex)", bytes)
                let reader = try await SegmentReader.open(ref, store: store, cache: BlockCache(capacity: 1 << 22))
                #expect(reader.blockCount == 1)
                let block = try await reader.block(0)
                var keys = unique.map { ($0.key, $0.seq) }
                for (v, seq, s) in probes {
                    keys.append((key(shape(v, s)), seq))
                    keys.append(([0, 0, 0, 8], seq))
                    keys.append(([0, 0, 0, 10], seq))
                    keys.append(([0, 0, 0, 9, 0], seq))
                }
                for (k, seq) in keys {
                    var expected = 0
                    while expected < unique.count {
                        let c = compareBytes(unique[expected].key, k)
                        if c > 0 || (c == 0 && unique[expected].seq <= seq) { break }
                        expected += 1
                    }
                    let got = k.withUnsafeBytes { block.lowerBound($0, seq) }
                    #expect(got == expected, "key \(k) seq \(seq)")
                }
            } catch {
                Issue.record("\(error)")
            }
        }
    }

    @Test func damagedSegmentBytesAreDetected() async throws {
        let entries: [Entry] = (0..<200).map { i in (Array("key\(1000 + i)".utf8), 5, .put, Array("value \(i)".utf8)) }
        let (bytes, ref) = Self.build(entries, blockSize: 256)
        for position in stride(from: 0, to: bytes.count, by: 97) {
            let store = MemoryStore()
            var damaged = bytes
            damaged[position] ^= 0x10
            try await store.put("obj/\(ref.hash.hex)", damaged)
            var detected = false
            do {
                let reader = try await SegmentReader.open(ref, store: store, cache: BlockCache(capacity: 1 << 20))
                for b in 0..<reader.blockCount { _ = try await reader.block(b) }
            } catch let e as EngineError {
                #expect(e.code == EngineError.corrupt)
                detected = true
            }
            // Bloom filter bits are not checksummed individually but the region is.
            #expect(detected, "a flipped bit at \(position) went unnoticed")
        }
    }
}
