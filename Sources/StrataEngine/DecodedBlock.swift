/// A data block decoded for searching: every entry's full key, sequence, kind and
/// value position, in memory owned by this object (immutable once built).
///
/// - Complexity: lookup is O(log n) in the block's entry count.
final class DecodedBlock: @unchecked Sendable {
    // @unchecked: every buffer is written only in init and freed in deinit.
    let count: Int
    private let raw: UnsafeMutableRawBufferPointer
    private let keys: UnsafeMutableRawBufferPointer
    private let meta: UnsafeMutableBufferPointer<Int>  // per entry: keyOffset, keyLen, valueOffset, valueLen
    private let seqs: UnsafeMutableBufferPointer<UInt64>
    private let kinds: UnsafeMutableBufferPointer<UInt8>

    /// Bytes held, for the cache's budget.
    var memoryCost: Int { raw.count + keys.count + count * (4 * 8 + 8 + 1) + 128 }

    /// Decodes and checks a block as written by ``SegmentWriter``.
    init(_ bytes: [UInt8]) throws {
        guard bytes.count >= 8 else { throw corrupt("block too short") }
        var tail = ByteReader(bytes, from: bytes.count - 8)
        let n = Int(try tail.u32())
        let crc = try tail.u32()
        guard crc == CRC32C.checksum(bytes[0..<(bytes.count - 4)]) else { throw corrupt("block checksum mismatch") }
        guard n <= bytes.count else { throw corrupt("block entry count out of range") }
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 8)
        bytes.withUnsafeBytes { raw.copyMemory(from: $0) }
        let meta = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(1, 4 * n))
        let seqs = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: max(1, n))
        let kinds = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(1, n))
        count = n
        // First pass: total key bytes, so the key arena is allocated once.
        var keyBytes = 0
        var r = ByteReader(bytes, from: 0, to: bytes.count - 8)
        var entries: [(shared: Int, unshared: Int, valueLen: Int, seq: UInt64, kind: UInt8, keyAt: Int)] = []
        entries.reserveCapacity(n)
        var prevLen = 0
        do {
            for _ in 0..<n {
                let shared = try r.length(limit: prevLen)
                let unshared = try r.length(limit: r.remaining)
                let vlen = try r.length(limit: r.remaining)
                let seq = try r.varint()
                let kind = try r.u8()
                guard kind == 1 || kind == 2 else { throw corrupt("bad entry kind") }
                let keyAt = r.offset
                guard unshared + vlen <= r.remaining else { throw corrupt("entry overruns block") }
                r.offset += unshared + vlen
                entries.append((shared, unshared, vlen, seq, kind, keyAt))
                prevLen = shared + unshared
                keyBytes += prevLen
            }
        } catch {
            raw.deallocate(); meta.deallocate(); seqs.deallocate(); kinds.deallocate()
            throw error
        }
        let keys = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, keyBytes), alignment: 8)
        var at = 0
        var prevAt = 0
        for (i, e) in entries.enumerated() {
            if e.shared > 0 {
                keys.baseAddress!.advanced(by: at).copyMemory(from: keys.baseAddress!.advanced(by: prevAt), byteCount: e.shared)
            }
            if e.unshared > 0 {
                keys.baseAddress!.advanced(by: at + e.shared).copyMemory(from: raw.baseAddress!.advanced(by: e.keyAt), byteCount: e.unshared)
            }
            let klen = e.shared + e.unshared
            meta[4 * i] = at
            meta[4 * i + 1] = klen
            meta[4 * i + 2] = e.keyAt + e.unshared
            meta[4 * i + 3] = e.valueLen
            seqs[i] = e.seq
            kinds[i] = e.kind
            prevAt = at
            at += klen
        }
        self.raw = raw
        self.keys = keys
        self.meta = meta
        self.seqs = seqs
        self.kinds = kinds
    }

    deinit {
        raw.deallocate()
        keys.deallocate()
        meta.deallocate()
        seqs.deallocate()
        kinds.deallocate()
    }

    @inline(__always) func key(_ i: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: keys.baseAddress! + meta[4 * i], count: meta[4 * i + 1])
    }
    @inline(__always) func value(_ i: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: raw.baseAddress! + meta[4 * i + 2], count: meta[4 * i + 3])
    }
    @inline(__always) func seq(_ i: Int) -> UInt64 { seqs[i] }
    @inline(__always) func kind(_ i: Int) -> EntryKind { kinds[i] == 2 ? .delete : .put }

    /// Order of entry i against (key, seq): keys ascending, sequences descending.
    @inline(__always) func compare(_ i: Int, _ key: UnsafeRawBufferPointer, _ seq: UInt64) -> Int {
        let c = compareBytes(self.key(i), key)
        if c != 0 { return c }
        let s = seqs[i]
        return s > seq ? -1 : (s < seq ? 1 : 0)
    }

    /// The first entry at or after (key, seq); `count` if none.
    func lowerBound(_ key: UnsafeRawBufferPointer, _ seq: UInt64) -> Int {
        var lo = 0
        var hi = count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if compare(mid, key, seq) < 0 { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
