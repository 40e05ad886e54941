/// Appends little-endian integers, varints and length-prefixed bytes to a growing buffer.
struct ByteWriter {
    var bytes: [UInt8]

    init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    mutating func u8(_ v: UInt8) { bytes.append(v) }

    mutating func u32(_ v: UInt32) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func u64(_ v: UInt64) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func varint(_ v: Int) { varint(UInt64(v)) }

    mutating func raw(_ b: some Sequence<UInt8>) { bytes.append(contentsOf: b) }

    mutating func raw(_ b: UnsafeRawBufferPointer) { bytes.append(contentsOf: b) }

    /// A varint length followed by the bytes.
    mutating func lengthPrefixed(_ b: [UInt8]) {
        varint(b.count)
        bytes.append(contentsOf: b)
    }
}

/// Reads what ``ByteWriter`` wrote; every read checks bounds and throws
/// ``EngineError/corrupt`` instead of trapping on malformed input.
struct ByteReader {
    let bytes: [UInt8]
    var offset: Int
    let end: Int

    init(_ bytes: [UInt8], from offset: Int = 0, to end: Int? = nil) {
        self.bytes = bytes
        self.offset = offset
        self.end = end ?? bytes.count
    }

    /// A reader of the body of a framed object: `magic`, the body, then a CRC-32C of
    /// everything before it. Throws ``EngineError/corrupt`` naming `what` when the
    /// frame is shorter than `minimum` bytes, the magic differs or the checksum fails.
    init(framed bytes: [UInt8], magic: [UInt8], minimum: Int, what: String) throws {
        guard bytes.count >= max(minimum, magic.count + 4), bytes[0..<magic.count].elementsEqual(magic) else {
            throw corrupt("not a \(what)")
        }
        let body = bytes.count - 4
        var tail = ByteReader(bytes, from: body)
        guard try tail.u32() == CRC32C.checksum(bytes[0..<body]) else { throw corrupt("\(what) checksum mismatch") }
        self.init(bytes, from: magic.count, to: body)
    }

    var remaining: Int { end - offset }
    var isAtEnd: Bool { offset >= end }

    private func need(_ n: Int) throws {
        if n < 0 || n > end - offset { throw corrupt("truncated data at offset \(offset)") }
    }

    mutating func u8() throws -> UInt8 {
        try need(1)
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u32() throws -> UInt32 {
        try need(4)
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[offset + i]) << (8 * i) }
        offset += 4
        return v
    }

    mutating func u64() throws -> UInt64 {
        try need(8)
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[offset + i]) << (8 * i) }
        offset += 8
        return v
    }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try u8()
            if shift == 63 && b > 1 { throw corrupt("varint overflow") }
            result |= UInt64(b & 0x7f) << shift
            if b < 0x80 { return result }
            shift += 7
            if shift > 63 { throw corrupt("varint too long") }
        }
    }

    /// A varint that must fit in an Int and stay under `limit`.
    mutating func length(limit: Int = Int(Int32.max)) throws -> Int {
        let v = try varint()
        guard v <= UInt64(limit) else { throw corrupt("length \(v) out of range") }
        return Int(v)
    }

    mutating func raw(_ n: Int) throws -> [UInt8] {
        try need(n)
        defer { offset += n }
        return Array(bytes[offset..<offset + n])
    }

    /// Moves past `n` bytes.
    mutating func skip(_ n: Int) throws {
        try need(n)
        offset += n
    }

    mutating func lengthPrefixed() throws -> [UInt8] {
        try raw(try length(limit: remaining))
    }
}

extension UInt64 {
    /// A fixed-width decimal rendering that sorts like the number (object keys).
    var paddedDecimal: String {
        let s = String(self)
        return String(repeating: "0", count: Swift.max(0, 20 - s.count)) + s
    }
}

/// Compares two byte strings in lexicographic (memcmp) order.
@inline(__always)
func compareBytes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
    let n = min(a.count, b.count)
    if n > 0 {
        // Keys are short: eight bytes at a time as big-endian words beats a call to memcmp.
        let pa = a.baseAddress!
        let pb = b.baseAddress!
        var i = 0
        while i &+ 8 <= n {
            let x = pa.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let y = pb.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            if x != y { return x.bigEndian < y.bigEndian ? -1 : 1 }
            i &+= 8
        }
        while i < n {
            let x = pa.load(fromByteOffset: i, as: UInt8.self)
            let y = pb.load(fromByteOffset: i, as: UInt8.self)
            if x != y { return x < y ? -1 : 1 }
            i &+= 1
        }
    }
    return a.count < b.count ? -1 : (a.count > b.count ? 1 : 0)
}

/// The eight bytes of `key` after its first `skip`, zero-padded, as a big-endian word:
/// for keys sharing their first `skip` bytes, words are ordered as the keys are (ties
/// aside), so searches compare words and read whole keys only to settle ties.
@inline(__always)
func bigEndianWord(_ key: UnsafeRawBufferPointer, after skip: Int) -> UInt64 {
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

/// Compares two byte arrays (keys) in lexicographic order: negative, zero or positive.
@inline(__always)
public func compareBytes(_ a: [UInt8], _ b: [UInt8]) -> Int {
    a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in compareBytes(pa, pb) } }
}
