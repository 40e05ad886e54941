import StrataStore
import Synchronization

/// Reads one segment object with ranged gets: the footer, then the index, bloom
/// filter and metadata in one request, then single blocks through the block cache.
final class SegmentReader: Sendable {
    private static let nextID = Atomic<Int>(1)

    let ref: SegmentRef
    /// Identifies this segment in the block cache.
    let id: Int
    private let key: String
    private let store: any ObjectStore
    private let cache: BlockCache
    private let indexKeys: [UInt8]
    private let indexKeyOffsets: [Int]
    private let indexSeqs: [UInt64]
    private let blockOffsets: [Int]
    private let blockSizes: [Int]
    private let bloom: BloomFilter

    var blockCount: Int { blockOffsets.count }

    /// Opens several segments at once (their reads overlap), in the order given.
    static func openAll(_ refs: [SegmentRef], store: any ObjectStore, cache: BlockCache) async throws -> [SegmentReader] {
        try await withThrowingTaskGroup(of: (Int, SegmentReader).self) { group in
            for (i, ref) in refs.enumerated() {
                group.addTask { (i, try await open(ref, store: store, cache: cache)) }
            }
            var out = [SegmentReader?](repeating: nil, count: refs.count)
            for try await (i, r) in group { out[i] = r }
            return out.map { $0! }
        }
    }

    /// Opens the segment, checking the footer's and metadata's checksums.
    static func open(_ ref: SegmentRef, store: any ObjectStore, cache: BlockCache) async throws -> SegmentReader {
        let key = StoreLayout.objectKey(ref.hash)
        let fs = SegmentWriter.footerSize
        guard ref.size >= fs else { throw corrupt("segment \(ref.hash) too small") }
        // One read of the object's end usually holds the footer, index, bloom filter and
        // metadata together: one request instead of two on a remote store.
        let guess = max(ref.size - fs - 32 << 10, 0)
        let end = try await store.get(key, range: guess..<ref.size)
        guard end.count == ref.size - guess else { throw corrupt("segment \(ref.hash): short read") }
        let footer = Array(end.suffix(fs))
        guard footer.count == fs, Array(footer[44..<48]) == SegmentWriter.magic else {
            throw corrupt("segment \(ref.hash): bad footer")
        }
        var f = ByteReader(footer)
        let indexOffset = Int(try f.u64()), indexSize = Int(try f.u32())
        let bloomOffset = Int(try f.u64()), bloomSize = Int(try f.u32())
        let metaOffset = Int(try f.u64()), metaSize = Int(try f.u32())
        _ = try f.u32()
        guard try f.u32() == CRC32C.checksum(footer[0..<40]) else { throw corrupt("segment \(ref.hash): footer checksum") }
        guard indexOffset + indexSize == bloomOffset, bloomOffset + bloomSize == metaOffset,
              metaOffset + metaSize == ref.size - fs, indexSize >= 4, bloomSize >= 8, metaSize >= 4
        else { throw corrupt("segment \(ref.hash): bad footer offsets") }
        let tail = indexOffset >= guess
            ? Array(end[(indexOffset - guess)..<(metaOffset + metaSize - guess)])
            : try await store.get(key, range: indexOffset..<(metaOffset + metaSize))
        guard tail.count == metaOffset + metaSize - indexOffset else { throw corrupt("segment \(ref.hash): short read") }
        func region(_ start: Int, _ size: Int) throws -> [UInt8] {
            let s = start - indexOffset
            let body = Array(tail[s..<(s + size - 4)])
            var r = ByteReader(tail, from: s + size - 4)
            guard try r.u32() == CRC32C.checksum(body) else { throw corrupt("segment \(ref.hash): checksum mismatch") }
            return body
        }
        let index = try region(indexOffset, indexSize)
        let bloomBytes = try region(bloomOffset, bloomSize)
        _ = try region(metaOffset, metaSize)

        var r = ByteReader(index)
        let n = try r.length(limit: index.count)
        var keys: [UInt8] = []
        var offsets: [Int] = [0]
        var seqs: [UInt64] = [], bOffsets: [Int] = [], bSizes: [Int] = []
        for _ in 0..<n {
            keys.append(contentsOf: try r.lengthPrefixed())
            offsets.append(keys.count)
            seqs.append(try r.varint())
            let off = try r.length(limit: indexOffset)
            let size = try r.length(limit: indexOffset - off)
            bOffsets.append(off)
            bSizes.append(size)
        }
        var b = ByteReader(bloomBytes)
        let probes = Int(try b.u32())
        guard probes > 0 && probes <= 30 else { throw corrupt("segment \(ref.hash): bad bloom filter") }
        return SegmentReader(
            ref: ref, key: key, store: store, cache: cache, indexKeys: keys, indexKeyOffsets: offsets,
            indexSeqs: seqs, blockOffsets: bOffsets, blockSizes: bSizes,
            bloom: BloomFilter(bits: Array(bloomBytes[4...]), probes: probes))
    }

    private init(
        ref: SegmentRef, key: String, store: any ObjectStore, cache: BlockCache, indexKeys: [UInt8],
        indexKeyOffsets: [Int], indexSeqs: [UInt64], blockOffsets: [Int], blockSizes: [Int], bloom: BloomFilter
    ) {
        self.ref = ref
        self.id = Self.nextID.add(1, ordering: .relaxed).newValue
        self.key = key
        self.store = store
        self.cache = cache
        self.indexKeys = indexKeys
        self.indexKeyOffsets = indexKeyOffsets
        self.indexSeqs = indexSeqs
        self.blockOffsets = blockOffsets
        self.blockSizes = blockSizes
        self.bloom = bloom
    }

    func mayContain(_ key: UnsafeRawBufferPointer) -> Bool { bloom.mayContain(key) }

    /// True when `key` lies within the segment's smallest and largest keys.
    func covers(_ key: UnsafeRawBufferPointer) -> Bool {
        ref.minKey.withUnsafeBytes { compareBytes(key, $0) >= 0 } && ref.maxKey.withUnsafeBytes { compareBytes(key, $0) <= 0 }
    }

    /// The block that could hold (key, seq); nil when the key range, the bloom filter or
    /// the index rules the segment out.
    func candidateBlock(_ key: UnsafeRawBufferPointer, _ seq: UInt64) -> Int? {
        guard covers(key), mayContain(key) else { return nil }
        let b = findBlock(key, seq)
        return b < blockCount ? b : nil
    }

    /// The first block whose last entry is at or after (key, seq); `blockCount` if none.
    func findBlock(_ key: UnsafeRawBufferPointer, _ seq: UInt64) -> Int {
        indexKeys.withUnsafeBytes { ik in search(ik, key, seq, 0, blockOffsets.count) }
    }

    /// `findBlock` for a key known to be at or after block `from`'s range start: gallops
    /// forward from there, so ascending lookups mostly touch the neighbouring index entries.
    func findBlock(_ key: UnsafeRawBufferPointer, _ seq: UInt64, from: Int) -> Int {
        indexKeys.withUnsafeBytes { ik in
            let n = blockOffsets.count
            var lo = max(0, from)
            var step = 1
            while lo < n {
                let probe = min(n - 1, lo + step - 1)
                if indexCompare(ik, probe, key, seq) >= 0 { return search(ik, key, seq, lo, probe + 1) }
                lo = probe + 1
                step *= 2
            }
            return n
        }
    }

    /// Order of index entry `i` (a block's last key) against (key, seq).
    @inline(__always) private func indexCompare(_ ik: UnsafeRawBufferPointer, _ i: Int, _ key: UnsafeRawBufferPointer, _ seq: UInt64) -> Int {
        let k = UnsafeRawBufferPointer(rebasing: ik[indexKeyOffsets[i]..<indexKeyOffsets[i + 1]])
        let c = compareBytes(k, key)
        if c != 0 { return c }
        return indexSeqs[i] > seq ? -1 : (indexSeqs[i] < seq ? 1 : 0)
    }

    /// Binary search for the first index entry in lo..<hi at or after (key, seq).
    @inline(__always) private func search(_ ik: UnsafeRawBufferPointer, _ key: UnsafeRawBufferPointer, _ seq: UInt64, _ lo: Int, _ hi: Int) -> Int {
        var lo = lo
        var hi = hi
        while lo < hi {
            let mid = (lo + hi) >> 1
            if indexCompare(ik, mid, key, seq) < 0 { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// The decoded block `i`, from the cache or the store.
    func block(_ i: Int) async throws -> DecodedBlock {
        let ck = BlockCache.Key(segment: id, block: i)
        if let b = cache.get(ck) { return b }
        let off = blockOffsets[i]
        let bytes = try await store.get(key, range: off..<(off + blockSizes[i]))
        guard bytes.count == blockSizes[i] else { throw corrupt("segment \(ref.hash): short block read") }
        let block: DecodedBlock
        do {
            block = try DecodedBlock(bytes, 0..<bytes.count)
        } catch let e as EngineError {
            throw EngineError(e.code, "segment \(ref.hash) block \(i): \(e.message)")
        }
        cache.insert(ck, block)
        return block
    }

    /// Blocks `range` in one ranged read (none when all are cached). They enter the
    /// cache only with `cacheThem`: the first blocks of a scan do, so repeated short
    /// range reads stay in memory, but the bulk of a long scan does not, which would
    /// otherwise push every useful block out of the cache.
    func blocks(_ range: Range<Int>, cacheThem: Bool) async throws -> [DecodedBlock] {
        let cached = range.map(cachedBlock)
        if cached.allSatisfy({ $0 != nil }) { return cached.map { $0! } }
        let start = blockOffsets[range.lowerBound]
        let end = blockOffsets[range.upperBound - 1] + blockSizes[range.upperBound - 1]
        let bytes = try await store.get(key, range: start..<end)
        guard bytes.count == end - start else { throw corrupt("segment \(ref.hash): short block read") }
        var out: [DecodedBlock] = []
        out.reserveCapacity(range.count)
        for (n, i) in range.enumerated() {
            if let c = cached[n] {
                out.append(c)
                continue
            }
            let lo = blockOffsets[i] - start
            do {
                let block = try DecodedBlock(bytes, lo..<(lo + blockSizes[i]))
                if cacheThem { cache.insert(BlockCache.Key(segment: id, block: i), block) }
                out.append(block)
            } catch let e as EngineError {
                throw EngineError(e.code, "segment \(ref.hash) block \(i): \(e.message)")
            }
        }
        return out
    }

    /// The cached block `i` if present, without any I/O.
    func cachedBlock(_ i: Int) -> DecodedBlock? { cache.get(BlockCache.Key(segment: id, block: i)) }
}
