/// The writes of one commit in their encoded form: records (kind, varint key length, key,
/// varint value length, value) back to back in ascending key order, one per key, plus where
/// each record starts.
///
/// A commit's writes travel as one byte buffer from the transaction to the log, the
/// memtable and the validation of later commits, instead of two arrays per key: a bulk
/// insert of 10,000 rows then costs a handful of allocations, not 20,000.
struct MutationBatch: Sendable, Equatable {
    /// The records, as in the batch object's body (see ``encoded()``).
    private(set) var records: [UInt8]
    /// The start of each record in `records`, in key order.
    private(set) var offsets: [Int]

    static let magic: [UInt8] = Array("STRB".utf8)

    /// No writes.
    init() {
        records = []
        offsets = []
    }

    /// Takes records already in key order, one per key (the caller guarantees both).
    init(sortedRecords records: [UInt8], offsets: [Int]) {
        self.records = records
        self.offsets = offsets
    }

    /// Sorts `mutations` by key; of several writes to one key the last wins (as in a
    /// transaction's write set, which does the work).
    init(_ mutations: [Mutation]) {
        var writes = WriteSet()
        for m in mutations { writes.set(m.kind, m.key, m.value) }
        self = writes.sorted()
    }

    static func == (a: MutationBatch, b: MutationBatch) -> Bool { a.records == b.records }

    var count: Int { offsets.count }
    var isEmpty: Bool { offsets.isEmpty }

    /// The writes copied out as values (for the public change feed and tests).
    var mutations: [Mutation] {
        var out: [Mutation] = []
        out.reserveCapacity(count)
        records.withUnsafeBytes { base in
            for offset in offsets { out.append(MutationBatch.mutation(base, at: offset)) }
        }
        return out
    }

    /// Calls `body` with each write in key order; the buffers are valid only during the call.
    func forEach(_ body: (EntryKind, UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void) rethrows {
        try records.withUnsafeBytes { base in
            for offset in offsets {
                let r = MutationBatch.record(base, at: offset)
                try body(r.kind, r.key, r.value)
            }
        }
    }

    // MARK: Records

    /// Writes `v` as a varint at `p`; returns the byte after it.
    @inline(__always) static func putVarint(_ v: UInt64, at p: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
        var v = v
        var p = p
        while v >= 0x80 {
            p.storeBytes(of: UInt8(truncatingIfNeeded: v) | 0x80, as: UInt8.self)
            p += 1
            v >>= 7
        }
        p.storeBytes(of: UInt8(v), as: UInt8.self)
        return p + 1
    }

    /// The parts of the record at `offset` (which must be a well-formed record: records
    /// are checked when decoded and written only by `WriteSet.set`).
    @inline(__always)
    static func record(_ base: UnsafeRawBufferPointer, at offset: Int) -> (kind: EntryKind, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, end: Int) {
        var p = offset
        let kind: EntryKind = base[p] == EntryKind.delete.rawValue ? .delete : .put
        p &+= 1
        let keyCount = Int(truncatingIfNeeded: varint(base, &p))
        let key = UnsafeRawBufferPointer(rebasing: base[p..<(p &+ keyCount)])
        p &+= keyCount
        let valueCount = Int(truncatingIfNeeded: varint(base, &p))
        let value = UnsafeRawBufferPointer(rebasing: base[p..<(p &+ valueCount)])
        return (kind, key, value, p &+ valueCount)
    }

    /// The record at `offset` copied out as a value.
    static func mutation(_ base: UnsafeRawBufferPointer, at offset: Int) -> Mutation {
        let r = record(base, at: offset)
        return Mutation(key: Array(r.key), kind: r.kind, value: Array(r.value))
    }

    @inline(__always) private static func varint(_ base: UnsafeRawBufferPointer, _ p: inout Int) -> UInt64 {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = base[p]
            p &+= 1
            v |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return v }
            shift &+= 7
        }
    }

    /// The key of record `i`.
    @inline(__always) static func key(_ base: UnsafeRawBufferPointer, _ offsets: [Int], _ i: Int) -> UnsafeRawBufferPointer {
        record(base, at: offsets[i]).key
    }

    /// The first of the records at `offsets` (in key order) whose key is >= `key`
    /// (`offsets.count` if none).
    static func lowerBound(_ base: UnsafeRawBufferPointer, _ offsets: [Int], _ key: UnsafeRawBufferPointer) -> Int {
        var lo = 0
        var hi = offsets.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if compareBytes(Self.key(base, offsets, mid), key) < 0 { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// The write to `key`, if this batch has one.
    func lookup(_ key: [UInt8]) -> Mutation? {
        if offsets.isEmpty { return nil }
        return records.withUnsafeBytes { base in
            key.withUnsafeBytes { k -> Mutation? in
                let i = Self.lowerBound(base, offsets, k)
                guard i < offsets.count, compareBytes(Self.key(base, offsets, i), k) == 0 else { return nil }
                return Self.mutation(base, at: offsets[i])
            }
        }
    }

    /// True when a key written here was read (`readKeys`) or lies in a scanned range.
    func intersects(readKeys: [[UInt8]], readRanges: [KeyRange]) -> Bool {
        if offsets.isEmpty { return false }
        return records.withUnsafeBytes { base in
            for k in readKeys {
                let hit = k.withUnsafeBytes { key in
                    let i = Self.lowerBound(base, offsets, key)
                    return i < offsets.count && compareBytes(Self.key(base, offsets, i), key) == 0
                }
                if hit { return true }
            }
            for range in readRanges {
                let i = range.lower.withUnsafeBytes { Self.lowerBound(base, offsets, $0) }
                if i < offsets.count && range.contains(Self.key(base, offsets, i)) { return true }
            }
            return false
        }
    }

    /// The writes of several transactions committed as one, in order: a later write to
    /// a key replaces an earlier one.
    static func merged(_ batches: [MutationBatch]) -> MutationBatch {
        if batches.count == 1 { return batches[0] }
        var all: [Mutation] = []
        for b in batches { all.append(contentsOf: b.mutations) }
        return MutationBatch(all)
    }

    // MARK: Encoding

    /// Bytes a varint of `v` takes.
    @inline(__always) static func varintSize(_ v: UInt64) -> Int {
        var n = 1
        var v = v >> 7
        while v != 0 {
            n += 1
            v >>= 7
        }
        return n
    }

    /// The batch as stored (inline in a log entry or as a batch object): "STRB", the
    /// record count as a varint, the records, and a CRC-32C of everything before it.
    func encoded() -> [UInt8] {
        let size = Self.magic.count + Self.varintSize(UInt64(count)) + records.count + 4
        return [UInt8](unsafeUninitializedCapacity: size) { buf, initialized in
            let start = UnsafeMutableRawPointer(buf.baseAddress!)
            Self.magic.withUnsafeBytes { start.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            var p = Self.putVarint(UInt64(count), at: start + Self.magic.count)
            records.withUnsafeBytes { r in
                if r.count > 0 { p.copyMemory(from: r.baseAddress!, byteCount: r.count) }
            }
            p += records.count
            let crc = CRC32C.checksum(UnsafeRawBufferPointer(start: start, count: p - start))
            p.storeBytes(of: crc.littleEndian, as: UInt32.self)
            initialized = p + 4 - start
            precondition(initialized == size, "batch size miscounted")
        }
    }

    /// Decodes and checks a stored batch: checksum, well-formed records, keys strictly ascending.
    static func decode(_ bytes: [UInt8]) throws -> MutationBatch {
        var r = try ByteReader(framed: bytes, magic: magic, minimum: 9, what: "batch")
        let body = r.end
        let n = try r.length(limit: r.remaining)
        let start = r.offset
        var offsets: [Int] = []
        offsets.reserveCapacity(n)
        var previous: Range<Int>? = nil
        for _ in 0..<n {
            offsets.append(r.offset - start)
            guard let _ = EntryKind(rawValue: try r.u8()) else { throw corrupt("bad mutation kind") }
            let keyCount = try r.length(limit: r.remaining)
            let key = r.offset..<(r.offset + keyCount)
            try r.skip(keyCount)
            try r.skip(try r.length(limit: r.remaining))
            if let previous {
                let ascending = bytes.withUnsafeBytes { b in
                    compareBytes(UnsafeRawBufferPointer(rebasing: b[previous]), UnsafeRawBufferPointer(rebasing: b[key])) < 0
                }
                guard ascending else { throw corrupt("batch keys out of order") }
            }
            previous = key
        }
        guard r.isAtEnd else { throw corrupt("trailing bytes in batch") }
        return MutationBatch(sortedRecords: Array(bytes[start..<body]), offsets: offsets)
    }
}
