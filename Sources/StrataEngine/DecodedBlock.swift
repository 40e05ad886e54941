/// A data block decoded for searching, in one allocation owned by this object
/// (immutable once built): a 16-byte slot per entry, then each entry's record with its
/// sequence, kind, full key and value side by side.
///
/// A point lookup touches the slots (a few cache lines) and then one record, where the
/// key that settles the search and the value it returns lie together. The stored block
/// is not kept: a record costs 12 bytes more than its key and value.
///
/// - Complexity: lookup is O(log n) in the block's entry count.
final class DecodedBlock: @unchecked Sendable {
    // @unchecked: the memory is written only in init and freed in deinit.
    let count: Int
    private let memory: UnsafeMutableRawPointer
    private let byteCount: Int
    /// Length of the prefix every key of the block shares.
    private let common: Int
    /// The first and last heads, kept here so a search estimates where a key falls
    /// without touching the slots' ends.
    private let firstHead: UInt64
    private let lastHead: UInt64
    /// The shared prefix's first 16 bytes (zero-padded), here so a search checks a key
    /// against the prefix without reading a record.
    private let prefix: (UInt64, UInt64)

    /// Bytes held, for the cache's budget.
    var memoryCost: Int { byteCount + 128 }

    /// Decodes and checks the block stored in `bytes[range]`, as written by ``SegmentWriter``.
    init(_ bytes: [UInt8], _ range: Range<Int>) throws {
        guard range.count >= 8, range.lowerBound >= 0, range.upperBound <= bytes.count else { throw corrupt("block too short") }
        guard range.count <= Int(Int32.max) else { throw corrupt("block too large") }
        let built = try bytes.withUnsafeBytes { all in try Self.build(UnsafeRawBufferPointer(rebasing: all[range])) }
        count = built.count
        memory = built.memory
        byteCount = built.byteCount
        let n = built.count
        let slots = built.memory.assumingMemoryBound(to: BlockSlot.self)
        let view = BlockView(
            count: n, slots: UnsafePointer(slots), records: UnsafeRawPointer(built.memory + n * MemoryLayout<BlockSlot>.stride))
        // The shared prefix of a sorted block is that of its first and last keys.
        var common = 0
        if n > 1 {
            let first = view.key(0)
            let last = view.key(n - 1)
            while common < first.count && common < last.count && first[common] == last[common] { common += 1 }
        }
        for i in 0..<n { slots[i].head = bigEndianWord(view.key(i), after: common) }
        self.common = common
        var prefix: (UInt64, UInt64) = (0, 0)
        if n > 0 { withUnsafeMutableBytes(of: &prefix) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: view.key(0)[0..<min(common, 16)])) } }
        self.prefix = prefix
        self.view = view
        firstHead = n > 0 ? slots[0].head : 0
        lastHead = n > 0 ? slots[n - 1].head : 0
    }

    /// Checks `raw` (one stored block) and lays out its slots and records; heads are
    /// filled in by the caller, once the block's shared prefix is known.
    private static func build(_ raw: UnsafeRawBufferPointer) throws -> (count: Int, memory: UnsafeMutableRawPointer, byteCount: Int) {
        let size = raw.count
        let n = Int(raw.loadUnaligned(fromByteOffset: size - 8, as: UInt32.self).littleEndian)
        let crc = raw.loadUnaligned(fromByteOffset: size - 4, as: UInt32.self).littleEndian
        guard crc == CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<(size - 4)])) else {
            throw corrupt("block checksum mismatch")
        }
        guard n <= size else { throw corrupt("block entry count out of range") }
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
        // First pass: validate entries and total the record bytes, so memory is allocated once.
        var p = 0
        var recordBytes = 0
        var prevLen = 0
        for _ in 0..<n {
            guard let shared = varint(&p), shared <= prevLen, let unshared = varint(&p), let vlen = varint(&p),
                  varint(&p) != nil, p < body, raw[p] == 1 || raw[p] == 2, unshared <= body - p - 1,
                  vlen <= body - p - 1 - unshared
            else { throw corrupt("malformed block entry") }
            p += 1 + unshared + vlen
            prevLen = shared + unshared
            recordBytes += BlockView.recordHeader + prevLen + vlen
        }
        let slotBytes = n * MemoryLayout<BlockSlot>.stride
        let byteCount = max(8, slotBytes + recordBytes)
        guard slotBytes + recordBytes <= Int(UInt32.max) else { throw corrupt("block too large") }
        let memory = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 8)
        let slots = memory.bindMemory(to: BlockSlot.self, capacity: n)
        let records = memory + slotBytes
        // Second pass: each record's full key is the previous key's shared prefix plus its suffix.
        p = 0
        var at = 0
        var prevKey = 0
        for i in 0..<n {
            let shared = varint(&p)!
            let unshared = varint(&p)!
            let vlen = varint(&p)!
            var sq: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                let b = raw[p]
                p += 1
                sq |= UInt64(b & 0x7f) << shift
                if b < 0x80 { break }
                shift += 7
            }
            let kind = raw[p]
            p += 1
            let klen = shared + unshared
            let r = records + at
            r.storeBytes(of: sq, as: UInt64.self)
            r.storeBytes(of: UInt32(vlen) | (kind == 2 ? BlockView.deleteBit : 0), toByteOffset: 8, as: UInt32.self)
            let key = r + BlockView.recordHeader
            if shared > 0 { key.copyMemory(from: records + prevKey + BlockView.recordHeader, byteCount: shared) }
            if unshared > 0 { (key + shared).copyMemory(from: raw.baseAddress! + p, byteCount: unshared) }
            if vlen > 0 { (key + klen).copyMemory(from: raw.baseAddress! + p + unshared, byteCount: vlen) }
            (slots + i).initialize(to: BlockSlot(head: 0, record: UInt32(at), keyLength: UInt32(klen)))
            p += unshared + vlen
            prevKey = at
            at += BlockView.recordHeader + klen + vlen
        }
        return (n, memory, byteCount)
    }

    deinit { memory.deallocate() }

    /// Raw pointers to the slots and records, valid while this block is alive: lets hot
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
        let theirs = UnsafeRawBufferPointer(rebasing: key[0..<shared])
        let c = shared <= 16
            ? withUnsafeBytes(of: prefix) { compareBytes(UnsafeRawBufferPointer(rebasing: $0[0..<shared]), theirs) }
            : compareBytes(UnsafeRawBufferPointer(rebasing: view.key(0)[0..<shared]), theirs)
        if c != 0 || key.count < common { return c > 0 || (c == 0 && key.count < common) ? 0 : count }
        // Entries with a smaller head are before the key; among equal heads, compare keys.
        let h = bigEndianWord(key, after: common)
        var lo = firstHeadAtOrAfter(h)
        var end = lo
        while end < count && view.slots[end].head == h { end += 1 }
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
        // Here count >= 2 and view.slots[0].head < h <= view.slots[count - 1].head.
        let guess = Int(Double(h - firstHead) / Double(lastHead - firstHead) * Double(count - 1))
        var i = min(max(guess, 1), count - 1)
        var lo: Int
        var hi: Int
        if view.slots[i].head < h {
            // The answer is after i.
            var steps = 0
            i += 1
            while view.slots[i].head < h {
                i += 1
                steps += 1
                if steps == 8 { break }
            }
            if view.slots[i].head >= h { return i }
            lo = i + 1
            hi = count - 1
        } else {
            // view.slots[i].head >= h: the answer is i or before it (and after 0).
            var steps = 0
            while view.slots[i - 1].head >= h {
                i -= 1
                steps += 1
                if i == 1 || steps == 8 { break }
            }
            if view.slots[i - 1].head < h { return i }
            lo = 1
            hi = i - 1
        }
        // view.slots[lo - 1].head < h <= view.slots[hi].head: binary search between.
        while lo < hi {
            let mid = (lo + hi) >> 1
            if view.slots[mid].head < h { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}

/// The entries of a ``DecodedBlock`` through plain pointers; the block must outlive it.
///
/// A record is `seq: u64, valueLength | deleteBit: u32, key, value`, unaligned.
struct BlockView {
    let count: Int
    let slots: UnsafePointer<BlockSlot>
    let records: UnsafeRawPointer

    static let recordHeader = 12
    /// Set in a record's value length for a deletion (a block's values are shorter than 2^31 bytes).
    static let deleteBit: UInt32 = 1 << 31

    static var empty: BlockView { BlockView(
        count: 0, slots: UnsafePointer(bitPattern: 16)!, records: UnsafeRawPointer(bitPattern: 8)!) }

    @inline(__always) func key(_ i: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: records + Int(slots[i].record) + Self.recordHeader, count: Int(slots[i].keyLength))
    }
    @inline(__always) func value(_ i: Int) -> UnsafeRawBufferPointer {
        let r = records + Int(slots[i].record)
        let length = Int(r.loadUnaligned(fromByteOffset: 8, as: UInt32.self) & ~Self.deleteBit)
        return UnsafeRawBufferPointer(start: r + Self.recordHeader + Int(slots[i].keyLength), count: length)
    }
    @inline(__always) func seq(_ i: Int) -> UInt64 { (records + Int(slots[i].record)).loadUnaligned(as: UInt64.self) }
    @inline(__always) func kind(_ i: Int) -> EntryKind {
        (records + Int(slots[i].record)).loadUnaligned(fromByteOffset: 8, as: UInt32.self) & Self.deleteBit != 0 ? .delete : .put
    }
}

/// One decoded entry's search word and where its record lies, in 16 bytes.
struct BlockSlot {
    /// The eight key bytes after the block's shared prefix, big-endian (see `bigEndianWord(_:after:)`):
    /// a search compares these contiguous words and reads records only to settle ties.
    var head: UInt64
    /// Offset of the entry's record from the start of the records.
    var record: UInt32
    var keyLength: UInt32
}
