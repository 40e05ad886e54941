/// PostgreSQL's text form of a one-dimensional array (`{a,NULL,"b c"}`), the way
/// Strata holds values of type ``SQLType/array``: only the system catalogs and array
/// constructors make them, so a text form that every client already parses is enough.
public enum ArrayText {
    /// The elements of `text` (nil for an unquoted NULL).
    public static func parse(_ text: String) throws -> [String?] {
        let bytes = Array(text.utf8)
        var i = 0
        func skipSpace() { while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0A { i += 1 } }
        func malformed() -> SQLError {
            SQLError(SQLError.invalidTextRepresentation, "malformed array literal: \"\(text)\"")
        }
        skipSpace()
        guard i < bytes.count, bytes[i] == UInt8(ascii: "{") else { throw malformed() }
        i += 1
        var out: [String?] = []
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
            i += 1
            skipSpace()
            guard i == bytes.count else { throw malformed() }
            return out
        }
        while true {
            skipSpace()
            guard i < bytes.count else { throw malformed() }
            var element: [UInt8] = []
            var quoted = false
            if bytes[i] == UInt8(ascii: "\"") {
                quoted = true
                i += 1
                while true {
                    guard i < bytes.count else { throw malformed() }
                    let c = bytes[i]
                    if c == UInt8(ascii: "\"") { i += 1; break }
                    if c == UInt8(ascii: "\\") {
                        i += 1
                        guard i < bytes.count else { throw malformed() }
                    }
                    element.append(bytes[i])
                    i += 1
                }
            } else {
                while i < bytes.count, bytes[i] != UInt8(ascii: ","), bytes[i] != UInt8(ascii: "}") {
                    if bytes[i] == UInt8(ascii: "{") || bytes[i] == UInt8(ascii: "\"") { throw malformed() }
                    if bytes[i] == UInt8(ascii: "\\") { i += 1; guard i < bytes.count else { throw malformed() } }
                    element.append(bytes[i])
                    i += 1
                }
                while let last = element.last, last == 0x20 || last == 0x09 { element.removeLast() }
                guard !element.isEmpty else { throw malformed() }
            }
            let s = String(decoding: element, as: UTF8.self)
            out.append(!quoted && s.lowercased() == "null" ? nil : s)
            skipSpace()
            guard i < bytes.count else { throw malformed() }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            guard bytes[i] == UInt8(ascii: "}") else { throw malformed() }
            i += 1
            skipSpace()
            guard i == bytes.count else { throw malformed() }
            return out
        }
    }

    /// The text form of `elements`, quoting those that need it as PostgreSQL does.
    public static func format(_ elements: [String?]) -> String {
        var out = "{"
        for (n, e) in elements.enumerated() {
            if n > 0 { out += "," }
            guard let e else { out += "NULL"; continue }
            let plain = !e.isEmpty && e.lowercased() != "null" && !e.utf8.contains { c in
                c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") || c == UInt8(ascii: "{") || c == UInt8(ascii: "}")
                    || c == UInt8(ascii: ",") || c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D
            }
            if plain {
                out += e
            } else {
                out += "\""
                for ch in e.unicodeScalars {
                    if ch == "\"" || ch == "\\" { out += "\\" }
                    out.unicodeScalars.append(ch)
                }
                out += "\""
            }
        }
        return out + "}"
    }
}
