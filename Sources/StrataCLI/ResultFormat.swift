import ArgumentParser
import Foundation
import StrataSQL

/// How `strata sql` and the shell print results.
enum ResultFormat: String, CaseIterable, ExpressibleByArgument {
    case table, csv, json

    /// The text of one statement's result.
    func render(_ result: StatementResult) -> String {
        if result.columns.isEmpty { return result.tag + "\n" }
        switch self {
        case .table: return Self.table(result)
        case .csv: return Self.csv(result)
        case .json: return Self.json(result)
        }
    }

    /// A psql-style aligned table: header, rule, rows, and a row count.
    static func table(_ r: StatementResult) -> String {
        let cells = r.rows.map { $0.map { $0.text ?? "" } }
        var widths = r.columns.map { $0.name.count }
        for row in cells { for (i, c) in row.enumerated() { widths[i] = max(widths[i], c.count) } }
        func pad(_ s: String, _ w: Int, right: Bool) -> String {
            let fill = String(repeating: " ", count: max(0, w - s.count))
            return right ? fill + s : s + fill
        }
        var out = " " + r.columns.enumerated().map { pad($0.element.name, widths[$0.offset], right: false) }.joined(separator: " | ") + "\n"
        out += widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "+") + "\n"
        for (ri, row) in cells.enumerated() {
            let numeric = r.columns.map(\.type.isNumeric)
            out += " " + row.enumerated().map { i, c in pad(r.rows[ri][i].isNull ? "" : c, widths[i], right: numeric[i]) }.joined(separator: " | ") + "\n"
        }
        out += "(\(r.rows.count) row\(r.rows.count == 1 ? "" : "s"))\n"
        return out
    }

    static func csv(_ r: StatementResult) -> String {
        func field(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        var out = r.columns.map { field($0.name) }.joined(separator: ",") + "\n"
        for row in r.rows { out += row.map { field($0.text ?? "") }.joined(separator: ",") + "\n" }
        return out
    }

    static func json(_ r: StatementResult) -> String {
        func quote(_ s: String) -> String {
            var out = "\""
            for u in s.unicodeScalars {
                switch u {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                default:
                    if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
                }
            }
            return out + "\""
        }
        func value(_ v: SQLValue) -> String {
            switch v {
            case .null: return "null"
            case .bool(let b): return b ? "true" : "false"
            case .int(let i): return String(i)
            case .double(let d): return d.isFinite ? (v.text ?? "null") : quote(v.text ?? "")
            case .numeric: return v.text ?? "null"
            case .json(let s): return s
            default: return quote(v.text ?? "")
            }
        }
        let objects = r.rows.map { row in
            "{" + zip(r.columns, row).map { quote($0.name) + ":" + value($1) }.joined(separator: ",") + "}"
        }
        return "[" + objects.joined(separator: ",\n ") + "]\n"
    }
}
