/// A data block decoded for searching: every entry's full key, sequence, kind and
/// value position, in memory owned by this object (immutable once built).
///
/// - Complexity: lookup is O(log n) in the block's entry count.
final class DecodedBlock: @unchecked Sendable {
    // @unchecked: every buffer is written only in init and freed in deinit.
    let count: Int
    private let raw: UnsafeMutableRawBufferPointer
    private let keys: UnsafeMutableRawBufferPointer
    /// One record per entry (key and value position, sequence, kind): a lookup that lands
    /// on an entry reads one cache line for all of them.
    private let entries: UnsafeMutableBufferPointer<BlockEntry>
    /// Per entry, the eight key bytes after the prefix all keys of the block share, as a
    /// big-endian word: a search compares these contiguous words (few cache lines) and
    /// reads whole keys only to settle ties.
    private let heads: UnsafeMutableBufferPointer<UInt64>
    /// Length of the prefix every key of the block shares.
    private let common: Int
    /// The first and last heads, kept here so a search estimates where a key falls
    /// without touching the heads array's ends.
    private let firstHead: UInt64
    private let lastHead: UInt64

    /// Bytes held, for the cache's budget.
    var memoryCost: Int { raw.count + keys.count + count * (MemoryLayout<BlockEntry>.stride + 8) + 160 }

    /// Decodes and checks the block stored in `bytes[range]`, as written by ``SegmentWriter``.
    init(_ bytes: [UInt8], _ range: Range<Int>) throws {
        guard range.count >= 8, range.lowerBound >= 0, range.upperBound <= bytes.count else { throw corrupt("block too short") }
        guard range.count <= Int(Int32.max) else { throw corrupt("block too large") }
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: range.count, alignment: 8)
        bytes.withUnsafeBytes { raw.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[range])) }
        let size = range.count
        let n = Int(raw.loadUnaligned(fromByteOffset: size - 8, as: UInt32.self).littleEndian)
        let crc = raw.loadUnaligned(fromByteOffset: size - 4, as: UInt32.self).littleEndian
        guard crc == CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<(size - 4)])), n <= size else {
            raw.deallocate()
            throw corrupt(n > size ? "block entry count out of range" : "block checksum mismatch")
        }
        let body = size - 8
        @inline(__always) func varint(_ p: inout Int) -> Int? {
            var result = 0
            var shift = 0
            while p < body && shift < 63 {
                let b = raw[p]
                p += 1
                result |= Int(b & 0x7f) << shift
                if b < 0x80 { return result }
                shift += 7
            }
            return nil
        }
        // First pass: validate entries and total the key bytes, so every buffer is allocated once.
        var p = 0
        var keyBytes = 0
        var prevLen = 0
        for _ in 0..<n {
            guard let shared = varint(&p), shared <= prevLen, let unshared = varint(&p), let vlen = varint(&p),
                  varint(&p) != nil, p < body, raw[p] == 1 || raw[p] == 2, unshared <= body - p - 1,
                  vlen <= body - p - 1 - unshared
            else {
                raw.deallocate()
                throw corrupt("malformed block entry")
            }
            p += 1 + unshared + vlen
            prevLen = shared + unshared
            keyBytes += prevLen
        }
        let entries = UnsafeMutableBufferPointer<BlockEntry>.allocate(capacity: max(1, n))
        let keys = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, keyBytes), alignment: 8)
        // Second pass: rebuild full keys and record where each value is.
        p = 0
        var at = 0
        var prevAt = 0
        for i in 0..<n {
            let shared = varint(&p)!
            let unshared = varint(&p)!
            let vlen = varint(&p)!
            var q = p
            var sq: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                let b = raw[q]
                q += 1
                sq |= UInt64(b & 0x7f) << shift
                if b < 0x80 { break }
                shift += 7
            }
            p = q
            let kind = raw[p]
            p += 1
            if shared > 0 { (keys.baseAddress! + at).copyMemory(from: keys.baseAddress! + prevAt, byteCount: shared) }
            if unshared > 0 { (keys.baseAddress! + at + shared).copyMemory(from: raw.baseAddress! + p, byteCount: unshared) }
            let klen = shared + unshared
            entries.baseAddress!.advanced(by: i).initialize(to: BlockEntry(
                keyOffset: UInt32(at), keyLength: UInt32(klen), valueOffset: UInt32(p + unshared),
                valueLengthAndKind: UInt32(vlen) | (kind == 2 ? BlockEntry.deleteBit : 0), seq: sq))
            p += unshared + vlen
            prevAt = at
            at += klen
        }
        let view = BlockView(
            count: n, raw: UnsafeRawPointer(raw.baseAddress!), keys: UnsafeRawPointer(keys.baseAddress!),
            entries: UnsafePointer(entries.baseAddress!))
        // The shared prefix of a sorted block is that of its first and last keys.
        var common = 0
        if n > 1 {
            let first = view.key(0)
            let last = view.key(n - 1)
            while common < first.count && common < last.count && first[common] == last[common] { common += 1 }
        }
        let heads = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: max(1, n))
        for i in 0..<n { heads[i] = Self.head(view.key(i), common) }
        self.count = n
        self.raw = raw
        self.keys = keys
        self.entries = entries
        self.heads = heads
        self.common = common
        self.view = view
        firstHead = n > 0 ? heads[0] : 0
        lastHead = n > 0 ? heads[n - 1] : 0
    }

    deinit {
        raw.deallocate()
        keys.deallocate()
        entries.deallocate()
        heads.deallocate()
    }

    /// Raw pointers to the decoded arrays, valid while this block is alive: lets hot
    /// loops read entries without touching its reference count.
    let view: BlockView

    @inline(__always) func key(_ i: Int) -> UnsafeRawBufferPointer { view.key(i) }
    @inline(__always) func value(_ i: Int) -> UnsafeRawBufferPointer { view.value(i) }
    @inline(__always) func seq(_ i: Int) -> UInt64 { view.seq(i) }
    @inline(__always) func kind(_ i: Int) -> EntryKind { view.kind(i) }

    /// Order of entry i against (key, seq): keys ascending, sequences descending.
    @inline(__always) func compare(_ i: Int, _ key: UnsafeRawBufferPointer, _ seq: UInt64) -> Int {
        let c = compareBytes(self.key(i), key)
        if c != 0 { return c }
        let s = view.seq(i)
        return s > seq ? -1 : (s < seq ? 1 : 0)
    }

    /// The eight bytes of `key` after `skip`, zero-padded, as a big-endian word: for keys
    /// sharing their first `skip` bytes, words are ordered as the keys are (ties aside).
    @inline(__always) static func head(_ key: UnsafeRawBufferPointer, _ skip: Int) -> UInt64 {
        let n = key.count - skip
        if n >= 8 { return UInt64(bigEndian: key.loadUnaligned(fromByteOffset: skip, as: UInt64.self)) }
        var w: UInt64 = 0
        var i = 0
        while i < n {
            w |= UInt64(key[skip + i]) << (56 - 8 * UInt64(i))
            i += 1
        }
        return w
    }

    /// The newest version of `key` with sequence <= `seq` in this block (its value copied,
    /// nil for a deletion); nil when the block holds none.
    func read(_ key: UnsafeRawBufferPointer, _ seq: UInt64) -> CachedRead? {
        let i = find(key, seq)
        return i < 0 ? nil : CachedRead(value: kind(i) == .put ? Array(value(i)) : nil)
    }

    /// The entry holding the newest version of `key` at or below `seq`; -1 if the block has none.
    func find(_ key: UnsafeRawBufferPointer, _ seq: UInt64) -> Int {
        let i = lowerBound(key, seq)
        return i < count && compareBytes(self.key(i), key) == 0 ? i : -1
    }

    /// The first entry at or after (key, seq); `count` if none.
    func lowerBound(_ key: UnsafeRawBufferPointer, _ seq: UInt64) -> Int {
        if count == 0 { return 0 }
        // A key outside the shared prefix sorts before or after every entry.
        let shared = min(common, key.count)
        let c = compareBytes(UnsafeRawBufferPointer(start: keys.baseAddress!, count: shared), UnsafeRawBufferPointer(rebasing: key[0..<shared]))
        if c != 0 || key.count < common { return c > 0 || (c == 0 && key.count < common) ? 0 : count }
        // Entries with a smaller head are before the key; among equal heads, compare keys.
        let h = Self.head(key, common)
        var lo = firstHeadAtOrAfter(h)
        var end = lo
        while end < count && heads[end] == h { end += 1 }
        var hi2 = end
        while lo < hi2 {
            let mid = (lo + hi2) >> 1
            if compare(mid, key, seq) < 0 { lo = mid + 1 } else { hi2 = mid }
        }
        return lo
    }

    /// The first entry whose head is at least `h`; `count` if none. Guesses the position by
    /// interpolating between the first and last heads (keys such as integer ids spread
    /// about evenly, so the guess is usually within a cache line of the answer), walks a
    /// few entries from there, and falls back to binary search in what remains.
    @inline(__always) func firstHeadAtOrAfter(_ h: UInt64) -> Int {
        if h <= firstHead { return 0 }
        if h > lastHead { return count }
        // Here count >= 2 and heads[0] < h <= heads[count - 1].
        let guess = Int(Double(h - firstHead) / Double(lastHead - firstHead) * Double(count - 1))
        var i = min(max(guess, 1), count - 1)
        var lo: Int
        var hi: Int
        if heads[i] < h {
            // The answer is after i.
            var steps = 0
            i += 1
            while heads[i] < h {
                i += 1
                steps += 1
                if steps == 8 { break }
            }
            if heads[i] >= h { return i }
            lo = i + 1
            hi = count - 1
        } else {
            // heads[i] >= h: the answer is i or before it (and after 0).
            var steps = 0
            while heads[i - 1] >= h {
                i -= 1
                steps += 1
                if i == 1 || steps == 8 { break }
            }
            if heads[i - 1] < h { return i }
            lo = 1
            hi = i - 1
        }
        // heads[lo - 1] < h <= heads[hi]: binary search between.
        while lo < hi {
            let mid = (lo + hi) >> 1
            if heads[mid] < h { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}

/// The entries of a ``DecodedBlock`` through plain pointers; the block must outlive it.
struct BlockView {
    let count: Int
    let raw: UnsafeRawPointer
    let keys: UnsafeRawPointer
    let entries: UnsafePointer<BlockEntry>

    static var empty: BlockView { BlockView(
        count: 0, raw: UnsafeRawPointer(bitPattern: 8)!, keys: UnsafeRawPointer(bitPattern: 8)!,
        entries: UnsafePointer(bitPattern: 8)!) }

    @inline(__always) func key(_ i: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: keys + Int(entries[i].keyOffset), count: Int(entries[i].keyLength))
    }
    @inline(__always) func value(_ i: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: raw + Int(entries[i].valueOffset), count: entries[i].valueLength)
    }
    @inline(__always) func seq(_ i: Int) -> UInt64 { entries[i].seq }
    @inline(__always) func kind(_ i: Int) -> EntryKind { entries[i].kind }
}

/// Where one decoded entry's key and value lie, its sequence and kind, in 24 bytes (a
/// block's values are shorter than 2^31 bytes, so the top bit of the length holds the kind).
struct BlockEntry {
    var keyOffset: UInt32
    var keyLength: UInt32
    var valueOffset: UInt32
    var valueLengthAndKind: UInt32
    var seq: UInt64

    static let deleteBit: UInt32 = 1 << 31
    @inline(__always) var valueLength: Int { Int(valueLengthAndKind & ~Self.deleteBit) }
    @inline(__always) var kind: EntryKind { valueLengthAndKind & Self.deleteBit != 0 ? .delete : .put }
}
