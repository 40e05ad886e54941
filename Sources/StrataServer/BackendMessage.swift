import NIOCore
import StrataSQL

/// Writes PostgreSQL backend messages (protocol v3) into a buffer: a type byte, an
/// Int32 length that counts itself, and the body.
struct BackendWriter {
    var buffer: ByteBuffer

    init(allocator: ByteBufferAllocator) { buffer = allocator.buffer(capacity: 256) }

    /// Writes one message; `body` fills in everything after the length.
    mutating func message(_ type: UInt8, _ body: (inout ByteBuffer) -> Void) {
        buffer.writeInteger(type)
        let lengthAt = buffer.writerIndex
        buffer.writeInteger(Int32(0))
        body(&buffer)
        buffer.setInteger(Int32(buffer.writerIndex - lengthAt), at: lengthAt)
    }

    mutating func authenticationOk() { message(UInt8(ascii: "R")) { $0.writeInteger(Int32(0)) } }

    /// AuthenticationSASL: the mechanisms the client may choose from.
    mutating func authenticationSASL(_ mechanisms: [String]) {
        message(UInt8(ascii: "R")) {
            $0.writeInteger(Int32(10))
            for m in mechanisms { $0.writeCString(m) }
            $0.writeInteger(UInt8(0))
        }
    }

    /// AuthenticationSASLContinue (11) or AuthenticationSASLFinal (12) with the mechanism's data.
    mutating func authenticationSASL(step: Int32, _ data: [UInt8]) {
        message(UInt8(ascii: "R")) {
            $0.writeInteger(step)
            $0.writeBytes(data)
        }
    }

    mutating func parameterStatus(_ name: String, _ value: String) {
        message(UInt8(ascii: "S")) {
            $0.writeCString(name)
            $0.writeCString(value)
        }
    }

    mutating func backendKeyData(processID: Int32, secretKey: Int32) {
        message(UInt8(ascii: "K")) {
            $0.writeInteger(processID)
            $0.writeInteger(secretKey)
        }
    }

    /// `I` idle, `T` in a transaction, `E` in a failed transaction.
    mutating func readyForQuery(_ status: UInt8) { message(UInt8(ascii: "Z")) { $0.writeInteger(status) } }

    /// Describes result columns; `formats` as Bind gave them (none: all text, one: for all).
    mutating func rowDescription(_ columns: [ResultColumn], formats: [Int16]) {
        message(UInt8(ascii: "T")) {
            $0.writeInteger(Int16(columns.count))
            for (i, c) in columns.enumerated() {
                $0.writeCString(c.name)
                $0.writeInteger(Int32(0))  // table OID
                $0.writeInteger(Int16(0))  // column number
                // PostgreSQL reports a column of undecided type as text.
                let type = c.type == .unknown ? SQLType.text : c.type
                $0.writeInteger(Int32(bitPattern: type.oid))
                $0.writeInteger(type.typeLength)
                $0.writeInteger(Int32(-1))  // type modifier
                $0.writeInteger(Self.format(formats, i))
            }
        }
    }

    static func format(_ formats: [Int16], _ i: Int) -> Int16 {
        formats.isEmpty ? 0 : formats[formats.count == 1 ? 0 : min(i, formats.count - 1)]
    }

    mutating func dataRow(_ row: [SQLValue], types: [ResultColumn], formats: [Int16]) throws {
        buffer.writeInteger(UInt8(ascii: "D"))
        let lengthAt = buffer.writerIndex
        buffer.writeInteger(Int32(0))
        buffer.writeInteger(Int16(row.count))
        for (i, value) in row.enumerated() {
            if value.isNull {
                buffer.writeInteger(Int32(-1))
            } else if Self.format(formats, i) == 1 {
                try ValueCoding.writeBinary(value, type: i < types.count ? types[i].type : .text, into: &buffer)
            } else {
                let at = buffer.writerIndex
                buffer.writeInteger(Int32(0))
                let n = buffer.writeString(value.text ?? "")
                buffer.setInteger(Int32(n), at: at)
            }
        }
        buffer.setInteger(Int32(buffer.writerIndex - lengthAt), at: lengthAt)
    }

    mutating func commandComplete(_ tag: String) { message(UInt8(ascii: "C")) { $0.writeCString(tag) } }

    mutating func emptyQueryResponse() { message(UInt8(ascii: "I")) { _ in } }

    /// An ErrorResponse (`E`) or NoticeResponse (`N`): severity, SQLSTATE, message and,
    /// when known, the 1-based character position in the query.
    mutating func report(_ type: UInt8 = UInt8(ascii: "E"), severity: String, sqlState: String, _ text: String, position: Int? = nil) {
        message(type) {
            for (field, value) in [("S", severity), ("V", severity), ("C", sqlState), ("M", text)] {
                $0.writeInteger(UInt8(ascii: Unicode.Scalar(field)!))
                $0.writeCString(value)
            }
            if let position {
                $0.writeInteger(UInt8(ascii: "P"))
                $0.writeCString(String(position))
            }
            $0.writeInteger(UInt8(0))
        }
    }
}

extension SQLType {
    /// `pg_type.typlen`: the fixed size in bytes, or -1 for variable-length types.
    var typeLength: Int16 {
        switch self {
        case .boolean: 1
        case .smallint: 2
        case .integer, .real, .date: 4
        case .bigint, .double, .timestamp, .timestamptz: 8
        case .uuid: 16
        case .numeric, .text, .bytea, .json, .array, .unknown: -1
        }
    }
}
