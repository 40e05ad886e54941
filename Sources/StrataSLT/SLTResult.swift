import Crypto
import Foundation

/// A value a database returned, before sqllogictest renders it by column type.
public enum SLTValue: Equatable, Sendable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case bool(Bool)
}

/// Renders, sorts and hashes query results as the reference sqllogictest runner does.
public enum SLTResult {
    /// One value as the letter `type` prints it: `I` as a C long (reals truncate, text
    /// reads its leading integer), `R` as `%.3f`, `T` as text with `(empty)` for the
    /// empty string and `@` for each character outside printable ASCII; NULL as `NULL`.
    public static func render(_ value: SLTValue, as type: Character) -> String {
        switch (value, type) {
        case (.null, _): return "NULL"
        case (.integer(let i), "R"): return String(format: "%.3f", Double(i))
        case (.integer(let i), _): return String(i)
        case (.bool(let b), "R"): return b ? "1.000" : "0.000"
        case (.bool(let b), _): return b ? "1" : "0"
        case (.real(let d), "I"): return d.isFinite ? String(Int64(max(min(d, 9.2e18), -9.2e18))) : "0"
        case (.real(let d), "R"): return String(format: "%.3f", d)
        case (.real(let d), _): return textOf(d)
        case (.text(let s), "I"): return String(leadingInteger(s))
        case (.text(let s), "R"): return String(format: "%.3f", Double(s.trimmingCharacters(in: .whitespaces)) ?? 0)
        case (.text(let s), _):
            if s.isEmpty { return "(empty)" }
            return String(s.unicodeScalars.map { $0.value >= 0x20 && $0.value <= 0x7e ? Character($0) : "@" })
        }
    }

    /// The values of `rows` rendered by `types`, in row-major order, sorted as `sort` says.
    public static func values(_ rows: [[SLTValue]], types: [Character], sort: SLTSortMode) -> [String] {
        var rendered = rows.map { row in row.enumerated().map { render($0.element, as: types[min($0.offset, types.count - 1)]) } }
        switch sort {
        case .nosort:
            return rendered.flatMap { $0 }
        case .rowsort:
            rendered.sort { a, b in a.lexicographicallyPrecedes(b) { $0.utf8.lexicographicallyPrecedes($1.utf8) } }
            return rendered.flatMap { $0 }
        case .valuesort:
            return rendered.flatMap { $0 }.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        }
    }

    /// The MD5 (lowercase hex) of every value followed by a newline.
    public static func hash(_ values: [String]) -> String {
        var md5 = Insecure.MD5()
        for v in values {
            md5.update(data: Array(v.utf8))
            md5.update(data: [0x0A])
        }
        return md5.finalize().map { String(format: "%02x", $0) }.joined()
    }

    private static func leadingInteger(_ s: String) -> Int64 {
        var t = Substring(s.trimmingCharacters(in: .whitespaces))
        var sign: Int64 = 1
        if t.first == "-" || t.first == "+" {
            if t.first == "-" { sign = -1 }
            t = t.dropFirst()
        }
        var v: Int64 = 0
        for c in t {
            guard let d = c.wholeNumberValue, c.isASCII else { break }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int64(d))
            if o1 || o2 { return sign > 0 ? .max : .min }
            v = a
        }
        return sign * v
    }

    private static func textOf(_ d: Double) -> String {
        d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
    }
}
