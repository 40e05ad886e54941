import NIOCore
import StrataSQL

/// Parameter values from Bind and result values for DataRow, in PostgreSQL's text and
/// binary formats, by type OID.
enum ValueCoding {
    /// A parameter value. Text of a type the client left open (OID 0) stays text: the
    /// engine casts it where the statement uses it, as PostgreSQL does for `unknown`.
    static func decode(_ bytes: ByteBuffer, type: Int32, binary: Bool) throws -> SQLValue {
        var b = bytes
        if !binary {
            guard let text = b.readString(length: b.readableBytes) else { throw invalid("text", type) }
            switch type {
            case 16: return .bool(["t", "true", "on", "1", "yes"].contains(text.lowercased()))
            case 20, 21, 23:
                guard let n = Int64(text.trimmingSpaces) else { throw invalid(text, type) }
                return .int(n)
            case 700, 701:
                guard let d = Double(text.trimmingSpaces) else { throw invalid(text, type) }
                return .double(d)
            default: return .text(text)
            }
        }
        func need(_ n: Int) throws {
            if b.readableBytes != n { throw invalid("\(b.readableBytes) bytes", type) }
        }
        switch type {
        case 16:
            try need(1)
            return .bool(b.readInteger(as: UInt8.self)! != 0)
        case 21:
            try need(2)
            return .int(Int64(b.readInteger(as: Int16.self)!))
        case 23:
            try need(4)
            return .int(Int64(b.readInteger(as: Int32.self)!))
        case 20:
            try need(8)
            return .int(b.readInteger(as: Int64.self)!)
        case 700:
            try need(4)
            return .double(Double(Float(bitPattern: b.readInteger(as: UInt32.self)!)))
        case 701:
            try need(8)
            return .double(Double(bitPattern: b.readInteger(as: UInt64.self)!))
        case 25, 1043, 114, 705, 19:
            return .text(b.readString(length: b.readableBytes) ?? "")
        case 17:
            return .bytes(b.readBytes(length: b.readableBytes) ?? [])
        case 2950:
            try need(16)
            return .uuid(b.readBytes(length: 16)!)
        case 1082:
            try need(4)
            return .date(b.readInteger(as: Int32.self)!)
        case 1114:
            try need(8)
            return .timestamp(b.readInteger(as: Int64.self)!)
        case 1184:
            try need(8)
            return .timestamptz(b.readInteger(as: Int64.self)!)
        case 1700:
            // As text: the statement casts it where it is used, as it does text parameters.
            return .text(try numericText(&b))
        default:
            throw SQLError(
                SQLError.Code(sqlState: "22P03", name: "invalid binary representation"),
                "binary parameters of type \(type == 0 ? "unspecified" : "OID \(type)") are not supported; send text")
        }
    }

    static func invalid(_ what: String, _ type: Int32) -> SQLError {
        SQLError(SQLError.invalidTextRepresentation, "invalid input for a parameter of type OID \(type): \(what)")
    }

    /// Appends a DataRow value in binary format: the value's length, then its bytes.
    static func writeBinary(_ value: SQLValue, type: SQLType, into b: inout ByteBuffer) throws {
        let at = b.writerIndex
        b.writeInteger(Int32(0))
        switch (value, type) {
        case (.bool(let v), _): b.writeInteger(UInt8(v ? 1 : 0))
        case (.int(let v), .smallint): b.writeInteger(Int16(truncatingIfNeeded: v))
        case (.int(let v), .integer): b.writeInteger(Int32(truncatingIfNeeded: v))
        case (.int(let v), _): b.writeInteger(v)
        case (.double(let v), .real): b.writeInteger(Float(v).bitPattern)
        case (.double(let v), _): b.writeInteger(v.bitPattern)
        case (.text(let s), .array): try writeArray(s, into: &b)
        case (.text(let s), _), (.json(let s), _): b.writeString(s)
        case (.bytes(let v), _), (.uuid(let v), _): b.writeBytes(v)
        case (.date(let d), _): b.writeInteger(d)
        case (.timestamp(let t), _), (.timestamptz(let t), _): b.writeInteger(t)
        case (.numeric, _): writeNumeric(value.text ?? "0", into: &b)
        case (.null, _): break
        }
        b.setInteger(Int32(b.writerIndex - at - 4), at: at)
    }

    /// PostgreSQL's binary array of text: dimensions, a has-nulls flag, the element type,
    /// then each dimension's length and lower bound, then each element with its length.
    static func writeArray(_ text: String, into b: inout ByteBuffer) throws {
        let elements = try ArrayText.parse(text)
        b.writeInteger(Int32(elements.isEmpty ? 0 : 1))
        b.writeInteger(Int32(elements.contains(nil) ? 1 : 0))
        b.writeInteger(Int32(SQLType.text.oid))
        guard !elements.isEmpty else { return }
        b.writeInteger(Int32(elements.count))
        b.writeInteger(Int32(1))
        for e in elements {
            guard let e else { b.writeInteger(Int32(-1)); continue }
            b.writeInteger(Int32(e.utf8.count))
            b.writeString(e)
        }
    }

    /// PostgreSQL's binary numeric: base-10000 digits, a weight, a sign and a display scale.
    static func writeNumeric(_ text: String, into b: inout ByteBuffer) {
        var s = Substring(text)
        var negative = false
        if s.hasPrefix("-") {
            negative = true
            s = s.dropFirst()
        }
        if s == "NaN" {
            for v: Int16 in [0, 0] { b.writeInteger(v) }
            b.writeInteger(UInt16(0xC000))
            b.writeInteger(Int16(0))
            return
        }
        let parts = s.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        var whole = String(parts[0].drop { $0 == "0" })
        let fraction = parts.count > 1 ? String(parts[1]) : ""
        // Pad the whole part on the left and the fraction on the right to groups of four.
        whole = String(repeating: "0", count: (4 - whole.count % 4) % 4) + whole
        let paddedFraction = fraction + String(repeating: "0", count: (4 - fraction.count % 4) % 4)
        let all = Array((whole + paddedFraction).utf8)
        var digits: [Int16] = stride(from: 0, to: all.count, by: 4).map { i in
            all[i..<i + 4].reduce(Int16(0)) { $0 * 10 + Int16($1 - 48) }
        }
        var weight = Int16(whole.count / 4) - 1
        while let first = digits.first, first == 0 {
            digits.removeFirst()
            weight -= 1
        }
        while let last = digits.last, last == 0 { digits.removeLast() }
        if digits.isEmpty { weight = 0 }
        b.writeInteger(Int16(digits.count))
        b.writeInteger(weight)
        b.writeInteger(UInt16(negative && !digits.isEmpty ? 0x4000 : 0))
        b.writeInteger(Int16(fraction.count))
        for d in digits { b.writeInteger(d) }
    }

    /// PostgreSQL's binary NUMERIC (digit count, weight, sign, display scale, then base-10000
    /// digits) as decimal text.
    static func numericText(_ b: inout ByteBuffer) throws -> String {
        let bad = SQLError(SQLError.Code(sqlState: "22P03", name: "invalid binary representation"), "invalid binary numeric")
        guard let count = b.readInteger(as: Int16.self), let weight = b.readInteger(as: Int16.self),
            let sign = b.readInteger(as: UInt16.self), let scale = b.readInteger(as: Int16.self), count >= 0, scale >= 0,
            b.readableBytes == Int(count) * 2
        else { throw bad }
        if sign == 0xC000 { return "NaN" }
        guard sign == 0 || sign == 0x4000 else { throw bad }
        var digits: [Int] = []
        for _ in 0..<count {
            let d = Int(b.readInteger(as: Int16.self)!)
            guard (0..<10_000).contains(d) else { throw bad }
            digits.append(d)
        }
        // Digit i is worth 10000^(weight - i).
        var integer = ""
        var fraction = ""
        if weight >= 0 {
            for i in 0...Int(weight) {
                let d = i < digits.count ? digits[i] : 0
                integer += integer.isEmpty ? String(d) : String(repeating: "0", count: 4 - String(d).count) + String(d)
            }
        } else {
            integer = "0"
            fraction = String(repeating: "0", count: 4 * (Int(-weight) - 1))
        }
        for i in max(0, Int(weight) + 1)..<max(digits.count, max(0, Int(weight) + 1)) {
            let d = String(digits[i])
            fraction += String(repeating: "0", count: 4 - d.count) + d
        }
        fraction = String(fraction.prefix(Int(scale)))
        while fraction.count < Int(scale) { fraction += "0" }
        return (sign == 0x4000 ? "-" : "") + integer + (fraction.isEmpty ? "" : "." + fraction)
    }
}

extension String {
    var trimmingSpaces: Substring {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }
}
