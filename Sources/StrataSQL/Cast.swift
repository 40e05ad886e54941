import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// Conversions between SQL types, with PostgreSQL's rules and errors.
enum Cast {
    /// The integral part of `d` (rounded toward zero).
    static func truncate(_ d: Decimal) -> Decimal {
        let s = d.description
        guard let dot = s.firstIndex(of: ".") else { return d }
        return Decimal(string: String(s[..<dot])) ?? 0
    }

    /// `d` rounded half away from zero to `scale` digits after the point.
    static func round(_ d: Decimal, scale: Int) -> Decimal {
        var factor = Decimal(1)
        for _ in 0..<max(0, scale) { factor *= 10 }
        let shifted = d * factor
        let half = Decimal(string: "0.5")!
        let r = shifted < 0 ? truncate(shifted - half) : truncate(shifted + half)
        return r / factor
    }

    static func toDouble(_ v: SQLValue) throws -> Double {
        switch v {
        case .int(let i): return Double(i)
        case .double(let d): return d
        case .numeric(let d): return NSDecimalToDouble(d)
        case .bool(let b): return b ? 1 : 0
        case .text(let s):
            guard let d = parseDouble(s) else { throw invalid(s, .double) }
            return d
        default: throw SQLError(SQLError.datatypeMismatch, "cannot convert \(v) to double precision")
        }
    }

    static func toDecimal(_ v: SQLValue) throws -> Decimal {
        switch v {
        case .int(let i): return Decimal(i)
        case .numeric(let d): return d
        case .double(let d):
            guard d.isFinite else { throw SQLError(SQLError.numericOutOfRange, "cannot convert \(d) to numeric") }
            return Decimal(string: SQLValue.format(d)) ?? Decimal(d)
        case .text(let s):
            guard let d = Decimal(string: s.trimmingSpaces()), !s.trimmingSpaces().isEmpty else { throw invalid(s, .numeric) }
            return d
        default: throw SQLError(SQLError.datatypeMismatch, "cannot convert \(v) to numeric")
        }
    }

    static func parseDouble(_ s: String) -> Double? {
        let t = s.trimmingSpaces().lowercased()
        switch t {
        case "nan": return .nan
        case "infinity", "inf", "+infinity", "+inf": return .infinity
        case "-infinity", "-inf": return -.infinity
        default: return t.isEmpty ? nil : Double(t)
        }
    }

    static func invalid(_ s: String, _ type: SQLType) -> SQLError {
        SQLError(SQLError.invalidTextRepresentation, "invalid input syntax for type \(type): \"\(s)\"")
    }

    /// Text read as a value of the same type as `like` (for comparisons with untyped text).
    static func fromText(_ s: String, like: SQLValue) throws -> SQLValue {
        switch like {
        case .int: return try cast(.text(s), to: .bigint, length: nil, explicit: true)
        case .double: return try cast(.text(s), to: .double, length: nil, explicit: true)
        case .numeric: return try cast(.text(s), to: .numeric, length: nil, explicit: true)
        case .bool: return try cast(.text(s), to: .boolean, length: nil, explicit: true)
        case .date: return try cast(.text(s), to: .date, length: nil, explicit: true)
        case .timestamp: return try cast(.text(s), to: .timestamp, length: nil, explicit: true)
        case .timestamptz: return try cast(.text(s), to: .timestamptz, length: nil, explicit: true)
        case .uuid: return try cast(.text(s), to: .uuid, length: nil, explicit: true)
        default: return .text(s)
        }
    }

    /// Converts `v` to `type`. `length` enforces VARCHAR(n) (an error on assignment, a
    /// truncation for explicit casts, as in PostgreSQL).
    static func cast(_ v: SQLValue, to type: SQLType, length: Int?, explicit: Bool) throws -> SQLValue {
        if v.isNull { return .null }
        switch type {
        case .unknown: return v
        case .smallint, .integer, .bigint:
            let i: Int64
            switch v {
            case .int(let x): i = x
            case .double(let d):
                let r = d.rounded(.toNearestOrEven)
                guard r.isFinite, r >= -9.223372036854775808e18, r < 9.223372036854775808e18 else { throw Evaluator.outOfRange(type) }
                i = Int64(r)
            case .numeric(let d):
                let r = round(d, scale: 0)
                guard let x = Int64(r.description) else { throw Evaluator.outOfRange(type) }
                i = x
            case .bool(let b): i = b ? 1 : 0
            case .text(let s):
                let t = s.trimmingSpaces()
                guard let x = Int64(t.hasPrefix("+") ? String(t.dropFirst()) : t) else {
                    if t.allSatisfy({ $0.isNumber || $0 == "-" || $0 == "+" }) && !t.isEmpty { throw Evaluator.outOfRange(type) }
                    throw invalid(s, type)
                }
                i = x
            default: throw cannot(v, type)
            }
            guard type.integerRange.contains(i) else { throw Evaluator.outOfRange(type) }
            return .int(i)
        case .real, .double:
            let d = try toDouble(v)
            if type == .real {
                let f = Float(d)
                if f.isInfinite && d.isFinite { throw Evaluator.outOfRange(.real) }
                return .double(Double(f))
            }
            return .double(d)
        case .numeric:
            if case .bool = v { throw cannot(v, type) }
            return .numeric(try toDecimal(v))
        case .text:
            guard var s = v.text else { return .null }
            if case .bool(let b) = v { s = b ? "true" : "false" }
            if let length, s.count > length {
                if explicit {
                    s = String(s.prefix(length))
                } else if s.prefix(length).count == length && s.dropFirst(length).allSatisfy({ $0 == " " }) {
                    s = String(s.prefix(length))
                } else {
                    throw SQLError(SQLError.stringDataRightTruncation, "value too long for type character varying(\(length))")
                }
            }
            return .text(s)
        case .array:
            guard case .text(let s) = v else { throw cannot(v, type) }
            return .text(try ArrayText.format(ArrayText.parse(s)))
        case .boolean:
            switch v {
            case .bool: return v
            case .int(let i): return .bool(i != 0)
            case .text(let s):
                switch s.trimmingSpaces().lowercased() {
                case "t", "true", "yes", "y", "on", "1": return .bool(true)
                case "f", "false", "no", "n", "off", "0": return .bool(false)
                default: throw invalid(s, .boolean)
                }
            default: throw cannot(v, type)
            }
        case .bytea:
            switch v {
            case .bytes: return v
            case .text(let s):
                if s.hasPrefix("\\x") {
                    let hex = Array(s.utf8.dropFirst(2))
                    guard hex.count % 2 == 0 else { throw invalid(s, .bytea) }
                    var out: [UInt8] = []
                    var i = 0
                    while i < hex.count {
                        guard let h = hexDigit(hex[i]), let l = hexDigit(hex[i + 1]) else { throw invalid(s, .bytea) }
                        out.append(h << 4 | l)
                        i += 2
                    }
                    return .bytes(out)
                }
                return .bytes(Array(s.utf8))
            default: throw cannot(v, type)
            }
        case .date:
            switch v {
            case .date: return v
            case .timestamp(let t), .timestamptz(let t):
                return .date(Int32((t >= 0 ? t : t - DateTime.microsPerDay + 1) / DateTime.microsPerDay))
            case .text(let s):
                let t = s.trimmingSpaces()
                if let d = DateTime.parseDate(Substring(t)) { return .date(d) }
                if let ts = DateTime.parseTimestamp(t) { return .date(Int32(ts / DateTime.microsPerDay)) }
                throw SQLError(SQLError.invalidDatetimeFormat, "invalid input syntax for type date: \"\(s)\"")
            default: throw cannot(v, type)
            }
        case .timestamp, .timestamptz:
            switch v {
            case .timestamp(let t), .timestamptz(let t): return type == .timestamp ? .timestamp(t) : .timestamptz(t)
            case .date(let d):
                let t = Int64(d) * DateTime.microsPerDay
                return type == .timestamp ? .timestamp(t) : .timestamptz(t)
            case .text(let s):
                let low = s.trimmingSpaces().lowercased()
                if low == "epoch" { return type == .timestamp ? .timestamp(-DateTime.epochShift * DateTime.microsPerDay) : .timestamptz(-DateTime.epochShift * DateTime.microsPerDay) }
                guard let t = DateTime.parseTimestamp(s) else {
                    throw SQLError(SQLError.invalidDatetimeFormat, "invalid input syntax for type \(type): \"\(s)\"")
                }
                return type == .timestamp ? .timestamp(t) : .timestamptz(t)
            default: throw cannot(v, type)
            }
        case .uuid:
            switch v {
            case .uuid: return v
            case .text(let s):
                let hex = Array(s.utf8.filter { $0 != UInt8(ascii: "-") })
                guard hex.count == 32 else { throw invalid(s, .uuid) }
                var out: [UInt8] = []
                for i in stride(from: 0, to: 32, by: 2) {
                    guard let h = hexDigit(hex[i]), let l = hexDigit(hex[i + 1]) else { throw invalid(s, .uuid) }
                    out.append(h << 4 | l)
                }
                return .uuid(out)
            default: throw cannot(v, type)
            }
        case .json:
            guard let s = v.text else { return .null }
            return .json(s)
        }
    }

    static func hexDigit(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: c - 48
        case 97...102: c - 87
        case 65...70: c - 55
        default: nil
        }
    }

    static func cannot(_ v: SQLValue, _ type: SQLType) -> SQLError {
        SQLError(SQLError.datatypeMismatch, "cannot cast \(v) to \(type)")
    }

    /// The static type of a value (for untyped contexts).
    static func typeOf(_ v: SQLValue) -> SQLType {
        switch v {
        case .null: .unknown
        case .bool: .boolean
        case .int(let i): Int64(Int32.min)...Int64(Int32.max) ~= i ? .integer : .bigint
        case .double: .double
        case .numeric: .numeric
        case .text: .text
        case .bytes: .bytea
        case .date: .date
        case .timestamp: .timestamp
        case .timestamptz: .timestamptz
        case .uuid: .uuid
        case .json: .json
        }
    }
}
