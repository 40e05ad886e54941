/// Reads COPY input in PostgreSQL's text or CSV format: bytes arrive in chunks of any
/// size (CopyData messages), complete rows come out as fields (nil for NULL).
public struct CopyReader {
    /// The format and its options.
    public let format: CopyFormat
    private var pending: [UInt8] = []
    /// Where scanning for the end of the row stopped in `pending` (CSV: outside quotes).
    private var scanned = 0
    private var inQuotes = false
    private var headerSkipped = false
    /// True once the end marker (`\.` on a line of its own) was read; later data is ignored.
    public private(set) var ended = false
    /// Rows read so far (for error messages: "line N").
    public private(set) var line = 0
    /// The largest row accepted, in bytes; a longer one is an error rather than unbounded memory.
    public var maxRowBytes = 64 << 20

    /// A reader for `format`.
    public init(format: CopyFormat) { self.format = format }

    /// Adds bytes; returns the rows they complete.
    public mutating func feed<C: Collection<UInt8>>(_ bytes: C) throws -> [[String?]] {
        guard !ended else { return [] }
        pending.append(contentsOf: bytes)
        var rows: [[String?]] = []
        var start = 0
        var i = scanned
        while i < pending.count {
            let b = pending[i]
            if format.csv {
                if inQuotes && b == format.escape && format.escape != format.quote && i + 1 < pending.count {
                    i += 2
                    continue
                }
                if b == format.quote { inQuotes.toggle() }
            }
            if b == 0x0A && !inQuotes {
                var end = i
                if end > start && pending[end - 1] == 0x0D { end -= 1 }
                if let row = try row(pending[start..<end]) { rows.append(row) }
                start = i + 1
                if ended { break }
            }
            i += 1
        }
        pending.removeFirst(start)
        scanned = max(0, i - start)
        if pending.count > maxRowBytes {
            throw SQLError(SQLError.programLimitExceeded, "COPY row \(line + 1) is longer than \(maxRowBytes) bytes")
        }
        return rows
    }

    /// Ends the input: a last row without a newline counts.
    public mutating func finish() throws -> [[String?]] {
        guard !ended, !pending.isEmpty else { return [] }
        if inQuotes { throw SQLError(SQLError.badCopyFormat, "unterminated CSV quoted field") }
        var end = pending.count
        if pending[end - 1] == 0x0D { end -= 1 }
        let last = try row(pending[0..<end])
        pending = []
        return last.map { [$0] } ?? []
    }

    /// One line's fields; nil for the end marker and a CSV header.
    private mutating func row(_ bytes: ArraySlice<UInt8>) throws -> [String?]? {
        line += 1
        if bytes.count == 2 && bytes.first == UInt8(ascii: "\\") && bytes.last == UInt8(ascii: ".") {
            ended = true
            return nil
        }
        if format.csv && format.header && !headerSkipped {
            headerSkipped = true
            return nil
        }
        return format.csv ? try csvFields(bytes) : try textFields(bytes)
    }

    private func textFields(_ bytes: ArraySlice<UInt8>) throws -> [String?] {
        var fields: [String?] = []
        var field: [UInt8] = []
        var raw: [UInt8] = []  // the field as written, to compare with the NULL marker
        let null = Array(format.null.utf8)
        var i = bytes.startIndex
        func endField() throws {
            fields.append(raw == null ? nil : try decoded(field))
            field.removeAll(keepingCapacity: true)
            raw.removeAll(keepingCapacity: true)
        }
        while i < bytes.endIndex {
            let b = bytes[i]
            if b == format.delimiter {
                try endField()
                i += 1
                continue
            }
            raw.append(b)
            guard b == UInt8(ascii: "\\"), i + 1 < bytes.endIndex else {
                field.append(b)
                i += 1
                continue
            }
            let c = bytes[i + 1]
            raw.append(c)
            i += 2
            if let control = Lexer.controlEscape(c) {
                field.append(control)
                continue
            }
            switch c {
            case UInt8(ascii: "v"): field.append(0x0B)
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                var value = Int(c - UInt8(ascii: "0"))
                var digits = 1
                while digits < 3, i < bytes.endIndex, (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(bytes[i]) {
                    value = value * 8 + Int(bytes[i] - UInt8(ascii: "0"))
                    raw.append(bytes[i])
                    i += 1
                    digits += 1
                }
                field.append(UInt8(truncatingIfNeeded: value))
            case UInt8(ascii: "x") where i < bytes.endIndex && Lexer.hexValue(bytes[i]) != nil:
                var value = UInt8(Lexer.hexValue(bytes[i])!)
                raw.append(bytes[i])
                i += 1
                if i < bytes.endIndex, let low = Lexer.hexValue(bytes[i]) {
                    value = value * 16 + UInt8(low)
                    raw.append(bytes[i])
                    i += 1
                }
                field.append(value)
            default: field.append(c)
            }
        }
        try endField()
        return fields
    }

    private func csvFields(_ bytes: ArraySlice<UInt8>) throws -> [String?] {
        var fields: [String?] = []
        var field: [UInt8] = []
        var quoted = false
        var inQuotes = false
        let null = Array(format.null.utf8)
        var i = bytes.startIndex
        func endField() throws {
            fields.append(!quoted && field == null ? nil : try decoded(field))
            field.removeAll(keepingCapacity: true)
            quoted = false
        }
        while i < bytes.endIndex {
            let b = bytes[i]
            if inQuotes {
                if b == format.escape && i + 1 < bytes.endIndex && bytes[i + 1] == format.quote {
                    field.append(format.quote)
                    i += 2
                    continue
                }
                if b == format.quote {
                    inQuotes = false
                } else if b == format.escape && format.escape != format.quote && i + 1 < bytes.endIndex {
                    field.append(bytes[i + 1])
                    i += 1
                } else {
                    field.append(b)
                }
            } else if b == format.quote {
                inQuotes = true
                quoted = true
            } else if b == format.delimiter {
                try endField()
            } else {
                field.append(b)
            }
            i += 1
        }
        if inQuotes { throw SQLError(SQLError.badCopyFormat, "unterminated CSV quoted field in COPY line \(line)") }
        try endField()
        return fields
    }

    /// A field's bytes as text; COPY data must be UTF-8.
    private func decoded(_ field: [UInt8]) throws -> String {
        guard let text = String(validating: field, as: UTF8.self) else {
            throw SQLError(SQLError.characterNotInRepertoire, "invalid byte sequence for encoding \"UTF8\" in COPY line \(line)")
        }
        return text
    }
}

/// Writes rows as COPY output in PostgreSQL's text or CSV format.
public struct CopyWriter {
    /// The format and its options.
    public let format: CopyFormat

    /// A writer for `format`.
    public init(format: CopyFormat) { self.format = format }

    /// The header line (CSV with HEADER), or nil.
    public func header(_ names: [String]) -> [UInt8]? {
        guard format.csv && format.header else { return nil }
        return row(names.map { SQLValue.text($0) })
    }

    /// One row, newline included.
    public func row(_ values: [SQLValue]) -> [UInt8] {
        var out: [UInt8] = []
        for (i, value) in values.enumerated() {
            if i > 0 { out.append(format.delimiter) }
            guard let text = value.text else {
                out.append(contentsOf: format.null.utf8)
                continue
            }
            if format.csv { csvField(text, into: &out) } else { textField(text, into: &out) }
        }
        out.append(0x0A)
        return out
    }

    private func textField(_ text: String, into out: inout [UInt8]) {
        for b in text.utf8 {
            switch b {
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case format.delimiter: out.append(contentsOf: [UInt8(ascii: "\\"), b])
            default: out.append(b)
            }
        }
    }

    private func csvField(_ text: String, into out: inout [UInt8]) {
        let bytes = Array(text.utf8)
        let needsQuotes =
            bytes.isEmpty && format.null.isEmpty || text == format.null || text == "\\."
            || bytes.contains { $0 == format.delimiter || $0 == format.quote || $0 == 0x0A || $0 == 0x0D }
        guard needsQuotes else {
            out.append(contentsOf: bytes)
            return
        }
        out.append(format.quote)
        for b in bytes {
            if b == format.quote || b == format.escape { out.append(format.escape) }
            out.append(b)
        }
        out.append(format.quote)
    }
}
