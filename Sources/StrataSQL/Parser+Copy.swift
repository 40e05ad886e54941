extension Parser {
    /// `COPY table [(columns)] FROM STDIN [options]`, `COPY {table [(columns)] | (query)} TO
    /// STDOUT [options]`; options in the parenthesized form or PostgreSQL's older keywords.
    mutating func copyStatement() throws -> Statement {
        try expect("copy")
        let target: CopyStatement.Target
        if accept("(") {
            let query = try selectStatement()
            try expect(")")
            target = .query(query)
        } else {
            let name = try qualifiedName()
            target = .table(name, columns: check("(") ? try identifierList() : [])
        }
        let isFrom: Bool
        if accept("from") {
            isFrom = true
            if case .query = target { throw SQLError(SQLError.syntaxError, "COPY FROM needs a table, not a query") }
        } else {
            try expect("to")
            isFrom = false
        }
        guard accept(isFrom ? "stdin" : "stdout") else {
            if case .string = current.kind {
                throw SQLError(
                    SQLError.featureNotSupported,
                    "COPY \(isFrom ? "from" : "to") a file is not supported: use \(isFrom ? "STDIN" : "STDOUT") (psql's \\copy)")
            }
            throw unexpected(expected: isFrom ? "STDIN" : "STDOUT")
        }
        var format = CopyFormat()
        var delimiter: UInt8? = nil
        var null: String? = nil
        _ = accept("with")
        if accept("(") {
            repeat {
                let option = try anyIdentifier("a COPY option")
                switch option {
                case "format":
                    let name = try anyIdentifier("text or csv")
                    guard name == "text" || name == "csv" else {
                        throw SQLError(SQLError.featureNotSupported, "COPY format \"\(name)\" is not supported (text and csv are)")
                    }
                    format.csv = name == "csv"
                case "freeze", "header":
                    let on = try optionalBoolean()
                    if option == "header" { format.header = on }
                case "delimiter": delimiter = try singleByte("COPY delimiter")
                case "null": null = try string()
                case "quote": format.quote = try singleByte("COPY quote")
                case "escape": format.escape = try singleByte("COPY escape")
                case "encoding":
                    let name = try string().uppercased()
                    guard name == "UTF8" || name == "UTF-8" || name == "SQL_ASCII" else {
                        throw SQLError(SQLError.featureNotSupported, "COPY encoding \"\(name)\" is not supported (UTF8 is)")
                    }
                default:
                    throw SQLError(SQLError.featureNotSupported, "COPY option \"\(option)\" is not supported")
                }
            } while accept(",")
            try expect(")")
        } else {
            while true {
                if accept("binary") {
                    throw SQLError(SQLError.featureNotSupported, "COPY format \"binary\" is not supported (text and csv are)")
                } else if accept("csv") {
                    format.csv = true
                } else if accept("header") {
                    format.header = true
                } else if accept("freeze") {
                } else if accept("delimiter") {
                    _ = accept("as")
                    delimiter = try singleByte("COPY delimiter")
                } else if accept("null") {
                    _ = accept("as")
                    null = try string()
                } else if accept("quote") {
                    _ = accept("as")
                    format.quote = try singleByte("COPY quote")
                } else if accept("escape") {
                    _ = accept("as")
                    format.escape = try singleByte("COPY escape")
                } else {
                    break
                }
            }
        }
        format.delimiter = delimiter ?? (format.csv ? UInt8(ascii: ",") : 0x09)
        format.null = null ?? (format.csv ? "" : "\\N")
        guard format.delimiter != 0x0A && format.delimiter != 0x0D && format.delimiter != UInt8(ascii: "\\") || format.csv else {
            throw SQLError(SQLError.featureNotSupported, "COPY delimiter cannot be newline, carriage return or backslash")
        }
        if format.header && !format.csv { throw SQLError(SQLError.featureNotSupported, "COPY HEADER available only in CSV mode") }
        return .copy(CopyStatement(target: target, isFrom: isFrom, format: format))
    }

    /// `[TRUE | FALSE | ON | OFF | 1 | 0]` after an option name; no value means true.
    private mutating func optionalBoolean() throws -> Bool {
        switch current.kind {
        case .word(let w) where ["true", "on", "false", "off"].contains(w):
            advance()
            return w == "true" || w == "on"
        case .integer(let d) where d == "0" || d == "1":
            advance()
            return d == "1"
        default:
            return true
        }
    }

    /// A string literal.
    private mutating func string() throws -> String {
        guard case .string(let s) = current.kind else { throw unexpected(expected: "a string") }
        advance()
        return s
    }

    /// A string literal of exactly one single-byte character.
    private mutating func singleByte(_ what: String) throws -> UInt8 {
        let s = try string()
        guard s.utf8.count == 1, let byte = s.utf8.first else {
            throw SQLError(SQLError.featureNotSupported, "\(what) must be a single one-byte character")
        }
        return byte
    }
}
