import FoundationEssentials

/// One SQL value. Integers of every width are `int`; the static type says which.
public enum SQLValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case numeric(Decimal)
    case text(String)
    case bytes([UInt8])
    /// Days since 2000-01-01, as PostgreSQL counts them.
    case date(Int32)
    /// Microseconds since 2000-01-01 00:00:00 (no time zone).
    case timestamp(Int64)
    /// Microseconds since 2000-01-01 00:00:00 UTC.
    case timestamptz(Int64)
    /// The 16 bytes of a UUID.
    case uuid([UInt8])
    /// JSON text, kept as written.
    case json(String)

    /// True for SQL NULL.
    public var isNull: Bool { if case .null = self { true } else { false } }

    /// The value as PostgreSQL's text output format writes it (nil for NULL).
    public var text: String? {
        switch self {
        case .null: return nil
        case .bool(let b): return b ? "t" : "f"
        case .int(let i): return String(i)
        case .double(let d): return SQLValue.format(d)
        case .numeric(let d): return d.description
        case .text(let s), .json(let s): return s
        case .bytes(let b):
            var s = "\\x"
            for byte in b { s += SQLValue.hex(byte) }
            return s
        case .date(let d): return DateTime.formatDate(d)
        case .timestamp(let t): return DateTime.formatTimestamp(t)
        case .timestamptz(let t): return DateTime.formatTimestamp(t) + "+00"
        case .uuid(let u):
            var s = ""
            for (i, byte) in u.enumerated() {
                if i == 4 || i == 6 || i == 8 || i == 10 { s += "-" }
                s += SQLValue.hex(byte)
            }
            return s
        }
    }

    static func hex(_ b: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(b >> 4)], digits[Int(b & 15)]])
    }

    /// A double as PostgreSQL prints it: shortest round-trip digits, `Infinity`, `NaN`.
    static func format(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d < 0 ? "-Infinity" : "Infinity" }
        if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
        var s = "\(d)"
        if let e = s.firstIndex(of: "e") {
            // Swift writes 1e-05; PostgreSQL writes 1e-05 too, but 1e+20 for large ones.
            let exp = s[s.index(after: e)...]
            if !exp.hasPrefix("-") && !exp.hasPrefix("+") { s = String(s[..<e]) + "e+" + exp }
        }
        return s
    }
}

extension SQLValue: CustomStringConvertible {
    public var description: String { text ?? "NULL" }
}

extension SQLValue {
    /// Orders two non-null values of comparable types; nil when they cannot be compared.
    static func compare(_ a: SQLValue, _ b: SQLValue) -> Int? {
        switch (a, b) {
        case (.int(let x), .int(let y)): return x < y ? -1 : (x > y ? 1 : 0)
        case (.double(let x), .double(let y)): return compareDoubles(x, y)
        case (.int(let x), .double(let y)): return compareDoubles(Double(x), y)
        case (.double(let x), .int(let y)): return compareDoubles(x, Double(y))
        case (.numeric(let x), .numeric(let y)): return x < y ? -1 : (x > y ? 1 : 0)
        case (.numeric(let x), .int(let y)): return compare(.numeric(x), .numeric(Decimal(y)))
        case (.int(let x), .numeric(let y)): return compare(.numeric(Decimal(x)), .numeric(y))
        case (.numeric(let x), .double(let y)): return compareDoubles(NSDecimalToDouble(x), y)
        case (.double(let x), .numeric(let y)): return compareDoubles(x, NSDecimalToDouble(y))
        case (.text(let x), .text(let y)), (.json(let x), .json(let y)):
            return compareUTF8(x, y)
        case (.bool(let x), .bool(let y)): return x == y ? 0 : (x ? 1 : -1)
        case (.bytes(let x), .bytes(let y)), (.uuid(let x), .uuid(let y)):
            return x.lexicographicallyPrecedes(y) ? -1 : (x == y ? 0 : 1)
        case (.date(let x), .date(let y)): return x < y ? -1 : (x > y ? 1 : 0)
        case (.timestamp(let x), .timestamp(let y)), (.timestamptz(let x), .timestamptz(let y)):
            return x < y ? -1 : (x > y ? 1 : 0)
        case (.date(let x), .timestamp(let y)), (.date(let x), .timestamptz(let y)):
            let t = Int64(x) * DateTime.microsPerDay
            return t < y ? -1 : (t > y ? 1 : 0)
        case (.timestamp(let x), .date(let y)), (.timestamptz(let x), .date(let y)):
            let t = Int64(y) * DateTime.microsPerDay
            return x < t ? -1 : (x > t ? 1 : 0)
        case (.timestamp(let x), .timestamptz(let y)), (.timestamptz(let x), .timestamp(let y)):
            return x < y ? -1 : (x > y ? 1 : 0)
        default: return nil
        }
    }

    /// PostgreSQL's total order for doubles: NaN is above every other value and equal to itself.
    static func compareDoubles(_ x: Double, _ y: Double) -> Int {
        if x.isNaN { return y.isNaN ? 0 : 1 }
        if y.isNaN { return -1 }
        return x < y ? -1 : (x > y ? 1 : 0)
    }

    /// Byte-wise (C collation) order of two strings.
    static func compareUTF8(_ x: String, _ y: String) -> Int {
        if x == y { return 0 }
        return x.utf8.lexicographicallyPrecedes(y.utf8) ? -1 : 1
    }

    /// Sorting order with NULLs last, used by ORDER BY, DISTINCT and grouping.
    static func sortCompare(_ a: SQLValue, _ b: SQLValue) -> Int {
        switch (a.isNull, b.isNull) {
        case (true, true): return 0
        case (true, false): return 1
        case (false, true): return -1
        default: return compare(a, b) ?? 0
        }
    }
}

func NSDecimalToDouble(_ d: Decimal) -> Double {
    Double(d.description) ?? .nan
}

extension SQLValue: ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByStringLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByNilLiteral
{
    /// An integer parameter: `[42]`.
    public init(integerLiteral value: Int64) { self = .int(value) }
    /// A double parameter: `[1.5]`.
    public init(floatLiteral value: Double) { self = .double(value) }
    /// A text parameter: `["hello"]`.
    public init(stringLiteral value: String) { self = .text(value) }
    /// A boolean parameter.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// NULL.
    public init(nilLiteral: ()) { self = .null }
}
