import FoundationEssentials
import StrataEngine

/// The stored form of a table row: a format byte, the number of values, then each value
/// as a tag and payload. Values are positional over the table's physical columns at the
/// time of writing; rows written before a column was added simply end early.
enum RowEncoding {
    static let format: UInt8 = 1

    static func encode(_ values: [SQLValue]) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: capacity(values)) { buf, written in
            written = encode(values, into: UnsafeMutableRawPointer(buf.baseAddress!))
        }
    }

    /// At least the bytes `encode` writes for `values` (text by its UTF-8 length, which
    /// native strings know without scanning).
    static func capacity(_ values: [SQLValue]) -> Int {
        var n = 1 + 10
        for v in values {
            switch v {
            case .text(let s), .json(let s): n += s.utf8.count + 11
            case .bytes(let b), .uuid(let b): n += b.count + 11
            case .numeric(let d): n += d.description.utf8.count + 11
            default: n += 11
            }
        }
        return n
    }

    /// Writes the row at `p`, which has room for ``capacity(_:)`` bytes; returns the count
    /// written. Straight through the pointer, so a row can go directly into a write set.
    static func encode(_ values: [SQLValue], into start: UnsafeMutableRawPointer) -> Int {
        var p = start
        @inline(__always) func byte(_ b: UInt8) {
            p.storeBytes(of: b, as: UInt8.self)
            p += 1
        }
        @inline(__always) func varint(_ v: UInt64) {
            var v = v
            while v >= 0x80 {
                byte(UInt8(truncatingIfNeeded: v) | 0x80)
                v >>= 7
            }
            byte(UInt8(v))
        }
        @inline(__always) func zigzag(_ i: Int64) { varint(UInt64(bitPattern: (i << 1) ^ (i >> 63))) }
        func blob(_ tag: UInt8, _ bytes: UnsafeRawBufferPointer) {
            byte(tag)
            varint(UInt64(bytes.count))
            if bytes.count > 0 { p.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
            p += bytes.count
        }
        func text(_ tag: UInt8, _ s: String) {
            var s = s
            s.withUTF8 { blob(tag, UnsafeRawBufferPointer($0)) }
        }
        byte(format)
        varint(UInt64(values.count))
        for v in values {
            switch v {
            case .null: byte(0)
            case .bool(let b): byte(b ? 2 : 1)
            case .int(let i):
                byte(3)
                zigzag(i)
            case .double(let d):
                byte(4)
                p.storeBytes(of: d.bitPattern.littleEndian, as: UInt64.self)
                p += 8
            case .numeric(let d): text(5, d.description)
            case .text(let s): text(6, s)
            case .bytes(let b): b.withUnsafeBytes { blob(7, $0) }
            case .date(let d):
                byte(8)
                zigzag(Int64(d))
            case .timestamp(let t):
                byte(9)
                zigzag(t)
            case .timestamptz(let t):
                byte(10)
                zigzag(t)
            case .uuid(let u): u.withUnsafeBytes { blob(11, $0) }
            case .json(let s): text(12, s)
            }
        }
        return p - start
    }

    /// Decodes a row into `width` values (missing trailing values become NULL);
    /// throws when the bytes are malformed.
    static func decode(_ buf: UnsafeRawBufferPointer, width: Int, into row: inout [SQLValue], at offset: Int) throws {
        var r = ByteReader(buf)
        guard try r.byte() == format else { throw corruptRow() }
        let count = Int(try r.varint())
        for i in 0..<count {
            let tag = try r.byte()
            let v: SQLValue
            switch tag {
            case 0: v = .null
            case 1: v = .bool(false)
            case 2: v = .bool(true)
            case 3: v = .int(try r.zigzag())
            case 4: v = .double(Double(bitPattern: try r.word()))
            case 5:
                guard let d = Decimal(string: String(decoding: try r.blob(), as: UTF8.self)) else { throw corruptRow() }
                v = .numeric(d)
            case 6: v = .text(String(decoding: try r.blob(), as: UTF8.self))
            case 7: v = .bytes(Array(try r.blob()))
            case 8: v = .date(Int32(truncatingIfNeeded: try r.zigzag()))
            case 9: v = .timestamp(try r.zigzag())
            case 10: v = .timestamptz(try r.zigzag())
            case 11: v = .uuid(Array(try r.blob()))
            case 12: v = .json(String(decoding: try r.blob(), as: UTF8.self))
            default: throw corruptRow()
            }
            if i < width { row[offset + i] = v }
        }
    }

    /// Reads a stored row's parts front to back; a struct (not captured variables) so the
    /// position needs no runtime exclusivity checks in the per-row loop.
    struct ByteReader {
        let buf: UnsafeRawBufferPointer
        var pos = 0

        init(_ buf: UnsafeRawBufferPointer) { self.buf = buf }

        @inline(__always) mutating func byte() throws -> UInt8 {
            guard pos < buf.count else { throw corruptRow() }
            defer { pos &+= 1 }
            return buf[pos]
        }

        @inline(__always) mutating func varint() throws -> UInt64 {
            var v: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                let b = try byte()
                v |= UInt64(b & 0x7F) << shift
                if b < 0x80 { return v }
                shift += 7
                if shift > 63 { throw corruptRow() }
            }
        }

        /// A signed integer stored zigzag-encoded in a varint.
        @inline(__always) mutating func zigzag() throws -> Int64 {
            let z = try varint()
            return Int64(bitPattern: z >> 1) ^ -Int64(bitPattern: z & 1)
        }

        /// Eight bytes, little-endian.
        @inline(__always) mutating func word() throws -> UInt64 {
            guard buf.count - pos >= 8 else { throw corruptRow() }
            defer { pos &+= 8 }
            return UInt64(littleEndian: buf.loadUnaligned(fromByteOffset: pos, as: UInt64.self))
        }

        @inline(__always) mutating func blob() throws -> UnsafeRawBufferPointer {
            let len = try varint()
            guard len <= UInt64(buf.count - pos) else { throw corruptRow() }
            defer { pos &+= Int(len) }
            return UnsafeRawBufferPointer(rebasing: buf[pos..<pos + Int(len)])
        }
    }

    static func corruptRow() -> SQLError {
        SQLError(EngineError.corrupt, "a stored row is malformed")
    }
}

/// Decodes a table's stored rows into physical column values, filling columns added
/// after a row was written with their "missing" values (decoded once, not per row).
struct PhysicalRowDecoder {
    let columnCount: Int
    let missing: [(Int, SQLValue)]

    init(_ table: TableInfo) throws {
        columnCount = table.columns.count
        var missing: [(Int, SQLValue)] = []
        for (p, c) in table.columns.enumerated() where !c.dropped {
            if let m = c.missing {
                var one: [SQLValue] = [.null]
                try m.withUnsafeBytes { try RowEncoding.decode($0, width: 1, into: &one, at: 0) }
                missing.append((p, one[0]))
            }
        }
        self.missing = missing
    }

    /// The physical column values of the stored row `bytes`.
    func decode(_ bytes: [UInt8]) throws -> [SQLValue] {
        try bytes.withUnsafeBytes { try decode($0) }
    }

    func decode(_ bytes: UnsafeRawBufferPointer) throws -> [SQLValue] {
        var row = [SQLValue](repeating: .null, count: columnCount)
        for (p, v) in missing { row[p] = v }
        try RowEncoding.decode(bytes, width: columnCount, into: &row, at: 0)
        return row
    }
}
