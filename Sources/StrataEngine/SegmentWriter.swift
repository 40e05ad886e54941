/// Builds a segment: a sorted run of versioned entries, in prefix-compressed data
/// blocks with a CRC-32C each, then a block index, a bloom filter on keys, a
/// metadata block (key and sequence bounds) and a fixed-size footer.
///
/// Layout: `[block]* [index] [bloom] [meta] [footer: 48 bytes]`. Each block is
/// `entry* count:u32 crc:u32`; an entry is `shared unshared valueLen seq (varints)
/// kind:u8 keySuffix value`, with the key prefix shared with the previous entry.
/// Entries must be added in (key ascending, sequence descending) order.
struct SegmentWriter {
    static let magic: [UInt8] = Array("STRS".utf8)
    static let footerSize = 48

    private let blockSize: Int
    private(set) var out: [UInt8] = []
    private var block = ByteWriter(capacity: 8192)
    private var blockCount: UInt32 = 0
    private var lastKey: [UInt8] = []
    private var lastSeq: UInt64 = 0
    private var index = ByteWriter()
    private var indexCount = 0
    /// One hash per distinct key; the bloom filter is sized from them at the end.
    private var keyHashes: [UInt64] = []
    private(set) var count = 0
    private var minKey: [UInt8] = []
    private var minSeq = UInt64.max
    private var maxSeq: UInt64 = 0

    /// `expectedKeys` is a capacity hint.
    init(blockSize: Int = 4096, expectedKeys: Int) {
        self.blockSize = blockSize
        keyHashes.reserveCapacity(min(expectedKeys, 1 << 20))
        out.reserveCapacity(min(expectedKeys * 64, 64 << 20))
    }

    /// Bytes written so far (the finished segment is slightly larger).
    var byteSize: Int { out.count + block.bytes.count }

    /// True when `key` equals the last key added: a segment must not be split there,
    /// or one key's versions would straddle two segments of the same run.
    func isLastKey(_ key: UnsafeRawBufferPointer) -> Bool {
        count > 0 && lastKey.withUnsafeBytes { compareBytes($0, key) == 0 }
    }

    /// Appends one version; the caller guarantees the order.
    mutating func add(key: UnsafeRawBufferPointer, seq: UInt64, kind: EntryKind, value: UnsafeRawBufferPointer) {
        var shared = 0
        let newKey = count == 0 || !lastKey.withUnsafeBytes { compareBytes($0, key) == 0 }
        if count == 0 { minKey = Array(key) }
        if newKey { keyHashes.append(hash64(key)) }
        if blockCount > 0 {
            let n = min(lastKey.count, key.count)
            lastKey.withUnsafeBytes { lk in
                while shared < n && lk[shared] == key[shared] { shared += 1 }
            }
        }
        block.varint(shared)
        block.varint(key.count - shared)
        block.varint(value.count)
        block.varint(seq)
        block.u8(kind.rawValue)
        block.raw(UnsafeRawBufferPointer(rebasing: key[shared...]))
        block.raw(value)
        blockCount += 1
        count += 1
        if newKey {
            lastKey.removeAll(keepingCapacity: true)
            lastKey.append(contentsOf: key)
        }
        lastSeq = seq
        minSeq = min(minSeq, seq)
        maxSeq = max(maxSeq, seq)
        if block.bytes.count >= blockSize { finishBlock() }
    }

    private mutating func finishBlock() {
        guard blockCount > 0 else { return }
        block.u32(blockCount)
        block.u32(CRC32C.checksum(block.bytes))
        index.lengthPrefixed(lastKey)
        index.varint(lastSeq)
        index.varint(out.count)
        index.varint(block.bytes.count)
        indexCount += 1
        out.append(contentsOf: block.bytes)
        block.bytes.removeAll(keepingCapacity: true)
        blockCount = 0
    }

    /// Finishes the segment and returns its bytes and reference.
    mutating func finish() -> (bytes: [UInt8], ref: SegmentRef) {
        finishBlock()
        var idx = ByteWriter()
        idx.varint(indexCount)
        idx.raw(index.bytes)
        idx.u32(CRC32C.checksum(idx.bytes))
        let indexOffset = out.count
        out.append(contentsOf: idx.bytes)

        var bloom = BloomFilter(keys: max(1, keyHashes.count))
        for h in keyHashes { bloom.add(hash: h) }
        var bl = ByteWriter()
        bl.u32(UInt32(bloom.probes))
        bl.raw(bloom.bits)
        bl.u32(CRC32C.checksum(bl.bytes))
        let bloomOffset = out.count
        out.append(contentsOf: bl.bytes)

        var meta = ByteWriter()
        meta.lengthPrefixed(minKey)
        meta.lengthPrefixed(lastKey)
        meta.varint(count == 0 ? 0 : minSeq)
        meta.varint(maxSeq)
        meta.varint(count)
        meta.u32(CRC32C.checksum(meta.bytes))
        let metaOffset = out.count
        out.append(contentsOf: meta.bytes)

        var f = ByteWriter(capacity: Self.footerSize)
        f.u64(UInt64(indexOffset))
        f.u32(UInt32(idx.bytes.count))
        f.u64(UInt64(bloomOffset))
        f.u32(UInt32(bl.bytes.count))
        f.u64(UInt64(metaOffset))
        f.u32(UInt32(meta.bytes.count))
        f.u32(1)
        f.u32(CRC32C.checksum(f.bytes))
        f.raw(Self.magic)
        out.append(contentsOf: f.bytes)

        let ref = SegmentRef(
            hash: ContentHash(of: out), size: out.count, count: count,
            minSeq: count == 0 ? 0 : minSeq, maxSeq: maxSeq, minKey: minKey, maxKey: lastKey)
        return (out, ref)
    }
}
