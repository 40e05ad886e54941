import FoundationEssentials

/// An order-preserving, self-delimiting byte encoding of SQL values, used for primary
/// and index keys: comparing encodings byte-wise orders values as SQL does (NULL last).
enum KeyEncoding {
    static let tagFalse: UInt8 = 0x10
    static let tagTrue: UInt8 = 0x11
    static let tagInt: UInt8 = 0x20
    static let tagDouble: UInt8 = 0x30
    static let tagText: UInt8 = 0x40
    static let tagBytes: UInt8 = 0x50
    static let tagDate: UInt8 = 0x60
    static let tagTimestamp: UInt8 = 0x61
    static let tagUUID: UInt8 = 0x70
    static let tagNull: UInt8 = 0xF0

    /// Appends the encoding of `value` to `out`.
    static func append(_ value: SQLValue, to out: inout [UInt8]) {
        switch value {
        case .null: out.append(tagNull)
        case .bool(let b): out.append(b ? tagTrue : tagFalse)
        case .int(let i):
            out.append(tagInt)
            appendBigEndian(UInt64(bitPattern: i) ^ (1 << 63), to: &out)
        case .double(let d):
            out.append(tagDouble)
            appendBigEndian(orderedBits(d), to: &out)
        case .numeric(let d):
            // Numerics in keys order by their double value, then exactly by text.
            out.append(tagDouble)
            appendBigEndian(orderedBits(NSDecimalToDouble(d)), to: &out)
            appendEscaped(Array(d.description.utf8), to: &out)
        case .text(let s), .json(let s):
            out.append(tagText)
            appendEscaped(s.utf8, to: &out)
        case .bytes(let b):
            out.append(tagBytes)
            appendEscaped(b, to: &out)
        case .date(let d):
            out.append(tagDate)
            appendBigEndian(UInt64(bitPattern: Int64(d)) ^ (1 << 63), to: &out)
        case .timestamp(let t), .timestamptz(let t):
            out.append(tagTimestamp)
            appendBigEndian(UInt64(bitPattern: t) ^ (1 << 63), to: &out)
        case .uuid(let u):
            out.append(tagUUID)
            out.append(contentsOf: u)
        }
    }

    /// The encoding of `values` in order.
    static func encode(_ values: [SQLValue], prefix: [UInt8]) -> [UInt8] {
        var out = start(prefix, columns: values.count)
        for v in values { append(v, to: &out) }
        return out
    }

    /// A key buffer holding `prefix`, with room for `columns` values of fixed width, so
    /// appending them does not reallocate (a copy of the prefix alone has no spare room).
    static func start(_ prefix: [UInt8], columns: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(prefix.count + 9 * columns + 8)
        out.append(contentsOf: prefix)
        return out
    }

    static func orderedBits(_ d: Double) -> UInt64 {
        let d = d == 0 ? 0 : d  // -0 and +0 are equal
        let bits = d.isNaN ? Double.nan.bitPattern : d.bitPattern
        return bits & (1 << 63) != 0 ? ~bits : bits | (1 << 63)
    }

    static func appendBigEndian(_ v: UInt64, to out: inout [UInt8]) {
        var be = v.bigEndian
        withUnsafeBytes(of: &be) { out.append(contentsOf: $0) }
    }

    /// Bytes with 0x00 written as 0x00 0xFF, ended by 0x00 0x01: order-preserving and self-delimiting.
    static func appendEscaped<Bytes: Sequence<UInt8>>(_ bytes: Bytes, to out: inout [UInt8]) {
        for b in bytes {
            out.append(b)
            if b == 0 { out.append(0xFF) }
        }
        out.append(0x00)
        out.append(0x01)
    }

    /// Decodes one value of `type` at `pos`, advancing it; nil when the bytes are malformed.
    static func decode(_ bytes: [UInt8], _ pos: inout Int, as type: SQLType) -> SQLValue? {
        guard pos < bytes.count else { return nil }
        let tag = bytes[pos]
        pos += 1
        func u64() -> UInt64? {
            guard pos + 8 <= bytes.count else { return nil }
            var v: UInt64 = 0
            for i in 0..<8 { v = v << 8 | UInt64(bytes[pos + i]) }
            pos += 8
            return v
        }
        func escaped() -> [UInt8]? {
            var out: [UInt8] = []
            while pos < bytes.count {
                let b = bytes[pos]
                pos += 1
                if b == 0 {
                    guard pos < bytes.count else { return nil }
                    let n = bytes[pos]
                    pos += 1
                    if n == 0x01 { return out }
                    guard n == 0xFF else { return nil }
                    out.append(0)
                } else {
                    out.append(b)
                }
            }
            return nil
        }
        switch tag {
        case tagNull: return .null
        case tagFalse: return .bool(false)
        case tagTrue: return .bool(true)
        case tagInt:
            guard let v = u64() else { return nil }
            return .int(Int64(bitPattern: v ^ (1 << 63)))
        case tagDouble:
            guard let v = u64() else { return nil }
            let bits = v & (1 << 63) != 0 ? v & ~(1 << 63) : ~v
            if type == .numeric {
                guard let text = escaped(), let d = Decimal(string: String(decoding: text, as: UTF8.self)) else { return nil }
                return .numeric(d)
            }
            return .double(Double(bitPattern: bits))
        case tagText:
            guard let b = escaped() else { return nil }
            let s = String(decoding: b, as: UTF8.self)
            return type == .json ? .json(s) : .text(s)
        case tagBytes:
            guard let b = escaped() else { return nil }
            return .bytes(b)
        case tagDate:
            guard let v = u64() else { return nil }
            return .date(Int32(truncatingIfNeeded: Int64(bitPattern: v ^ (1 << 63))))
        case tagTimestamp:
            guard let v = u64() else { return nil }
            let t = Int64(bitPattern: v ^ (1 << 63))
            return type == .timestamptz ? .timestamptz(t) : .timestamp(t)
        case tagUUID:
            guard pos + 16 <= bytes.count else { return nil }
            defer { pos += 16 }
            return .uuid(Array(bytes[pos..<pos + 16]))
        default: return nil
        }
    }
}

extension SQLType {
    /// `v` converted for reading a key column of this type by value (`WHERE key = v`):
    /// cast as PostgreSQL would; nil when no stored key can equal it (NULL, or a
    /// non-integer for an integer column).
    func keyValue(_ v: SQLValue) throws -> SQLValue? {
        switch (v, self) {
        case (.null, _): return nil
        case (.int, .bigint), (.text, .text): return v
        default:
            let converted = try Cast.cast(v, to: self, length: nil, explicit: true)
            if isInteger, case .int = v {} else if isInteger { return nil }
            return converted
        }
    }
}
