/// One lexical token of SQL text.
public struct Token: Equatable, Sendable {
    /// What the token is.
    public enum Kind: Equatable, Sendable {
        /// An unquoted identifier or keyword, folded to lower case as PostgreSQL does.
        case word(String)
        /// A double-quoted identifier, exactly as written.
        case quotedIdentifier(String)
        /// A string constant: `'…'`, `E'…'` or `$tag$…$tag$`, escapes resolved.
        case string(String)
        /// An integer constant, as written (the parser picks its type).
        case integer(String)
        /// A numeric constant with a fraction or exponent, as written.
        case decimal(String)
        /// A positional parameter `$n`.
        case parameter(Int)
        /// An operator or punctuation: `(`, `,`, `::`, `<=`, `||`, …
        case symbol(String)
        /// The end of the text.
        case end
    }

    /// What the token is.
    public var kind: Kind
    /// The token's bytes in the UTF-8 text.
    public var range: Range<Int>

    /// Creates a token.
    public init(_ kind: Kind, _ range: Range<Int>) {
        self.kind = kind
        self.range = range
    }
}

/// Splits PostgreSQL-flavoured SQL text into tokens.
///
/// Comments (`-- …` and nested `/* … */`) and white space are dropped. Errors carry
/// SQLSTATE 42601 and point at the line and column where the problem starts.
///
/// - Complexity: O(n) in the length of the text.
public struct Lexer {
    /// The text, as UTF-8.
    public let bytes: [UInt8]
    private var pos = 0
    /// When set, unquoted words come back as `.word("")`: a caller that only wants the
    /// literals and the token boundaries (``StatementCache/shape(_:)``) skips making a
    /// string per word.
    var skipsWords = false

    /// Prepares to tokenize `sql`.
    public init(_ sql: String) { bytes = Array(sql.utf8) }

    /// All tokens of `sql`, ending with `.end`.
    public static func tokenize(_ sql: String) throws -> [Token] {
        var lexer = Lexer(sql)
        var out: [Token] = []
        while true {
            let t = try lexer.next()
            out.append(t)
            if t.kind == .end { return out }
        }
    }

    /// The line and column of byte `offset`.
    public func location(of offset: Int) -> SourceLocation {
        var line = 1
        var column = 1
        var i = 0
        let end = min(offset, bytes.count)
        while i < end {
            if bytes[i] == 0x0A {
                line += 1
                column = 1
            } else if bytes[i] & 0xC0 != 0x80 {
                column += 1
            }
            i += 1
        }
        return SourceLocation(line: line, column: column, offset: offset)
    }

    /// The source text of `range`, for messages.
    public func text(_ range: Range<Int>) -> String {
        String(decoding: bytes[max(0, range.lowerBound)..<min(bytes.count, range.upperBound)], as: UTF8.self)
    }

    private func error(_ message: String, at offset: Int, _ code: SQLError.Code = SQLError.syntaxError) -> SQLError {
        SQLError(code, message, at: location(of: offset))
    }

    @inline(__always) private func peek(_ ahead: Int = 0) -> UInt8? {
        pos + ahead < bytes.count ? bytes[pos + ahead] : nil
    }

    /// The next token.
    public mutating func next() throws -> Token {
        try skipSpaceAndComments()
        let start = pos
        guard let c = peek() else { return Token(.end, start..<start) }
        switch c {
        case UInt8(ascii: "'"):
            return Token(.string(try quoted(escapes: false)), start..<pos)
        case UInt8(ascii: "\""):
            return Token(.quotedIdentifier(try quotedIdentifier()), start..<pos)
        case UInt8(ascii: "$"):
            if let d = peek(1), isDigit(d) {
                pos += 1
                var n = 0
                while let d = peek(), isDigit(d) {
                    n = n > 100_000_000 ? n : n * 10 + Int(d - 48)
                    pos += 1
                }
                if let d = peek(), isIdentifierPart(d) {
                    throw error("trailing junk after parameter", at: start)
                }
                guard n >= 1 && n <= 65_535 else { throw error("parameter number out of range: $\(n)", at: start) }
                return Token(.parameter(n), start..<pos)
            }
            if let body = try dollarQuoted() { return Token(.string(body), start..<pos) }
            throw error("syntax error at or near \"$\"", at: start)
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try number(start)
        case UInt8(ascii: "."):
            if let d = peek(1), isDigit(d) { return try number(start) }
            pos += 1
            return Token(.symbol("."), start..<pos)
        default:
            if isIdentifierStart(c) {
                if (c == UInt8(ascii: "e") || c == UInt8(ascii: "E")) && peek(1) == UInt8(ascii: "'") {
                    pos += 1
                    return Token(.string(try quoted(escapes: true)), start..<pos)
                }
                while let d = peek(), isIdentifierPart(d) { pos += 1 }
                if skipsWords { return Token(.word(""), start..<pos) }
                if pos - start <= 63 {
                    // Folded straight into the string: no intermediate array per word.
                    let word = String(unsafeUninitializedCapacity: pos - start) { out in
                        for (i, b) in bytes[start..<pos].enumerated() { out[i] = b >= 65 && b <= 90 ? b + 32 : b }
                        return pos - start
                    }
                    return Token(.word(word), start..<pos)
                }
                let word = truncateIdentifier(bytes[start..<pos].map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 })
                return Token(.word(String(decoding: word, as: UTF8.self)), start..<pos)
            }
            return try symbol(start)
        }
    }

    // MARK: Pieces

    private mutating func skipSpaceAndComments() throws {
        while let c = peek() {
            if c == 0x20 || (c >= 0x09 && c <= 0x0D) {
                pos += 1
            } else if c == UInt8(ascii: "-") && peek(1) == UInt8(ascii: "-") {
                while let d = peek(), d != 0x0A { pos += 1 }
            } else if c == UInt8(ascii: "/") && peek(1) == UInt8(ascii: "*") {
                let start = pos
                pos += 2
                var depth = 1
                while depth > 0 {
                    guard let d = peek() else { throw error("unterminated /* comment", at: start) }
                    if d == UInt8(ascii: "*") && peek(1) == UInt8(ascii: "/") {
                        depth -= 1
                        pos += 2
                    } else if d == UInt8(ascii: "/") && peek(1) == UInt8(ascii: "*") {
                        depth += 1
                        pos += 2
                    } else {
                        pos += 1
                    }
                }
            } else {
                return
            }
        }
    }

    /// `'…'` with `''` for a quote; with `escapes`, C-style backslash escapes too.
    /// Constants separated only by white space that includes a newline are joined.
    private mutating func quoted(escapes: Bool) throws -> String {
        let start = pos
        var out: [UInt8] = []
        pos += 1
        while true {
            guard let c = peek() else { throw error("unterminated quoted string", at: start) }
            pos += 1
            if c == UInt8(ascii: "'") {
                if peek() == UInt8(ascii: "'") {
                    out.append(c)
                    pos += 1
                    continue
                }
                // SQL continuation: 'a'<newline>'b' is 'ab'.
                var p = pos
                var newline = false
                while p < bytes.count, bytes[p] == 0x20 || (bytes[p] >= 0x09 && bytes[p] <= 0x0D) {
                    if bytes[p] == 0x0A { newline = true }
                    p += 1
                }
                if newline && p < bytes.count && bytes[p] == UInt8(ascii: "'") {
                    pos = p + 1
                    continue
                }
                return String(decoding: out, as: UTF8.self)
            }
            if escapes && c == UInt8(ascii: "\\") {
                try escape(into: &out)
                continue
            }
            out.append(c)
        }
    }

    private mutating func escape(into out: inout [UInt8]) throws {
        let start = pos - 1
        guard let c = peek() else { throw error("unterminated quoted string", at: start) }
        pos += 1
        if let control = Lexer.controlEscape(c) {
            out.append(control)
            return
        }
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "7"):
            var v = Int(c - 48)
            for _ in 0..<2 {
                guard let d = peek(), d >= 48 && d <= 55 else { break }
                v = v * 8 + Int(d - 48)
                pos += 1
            }
            try appendScalar(v & 0xFF, into: &out, at: start)
        case UInt8(ascii: "x"):
            var v = 0
            var n = 0
            while n < 2, let d = peek(), let h = Lexer.hexValue(d) {
                v = v * 16 + h
                n += 1
                pos += 1
            }
            if n == 0 {
                out.append(c)
            } else {
                try appendScalar(v, into: &out, at: start)
            }
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            let digits = c == UInt8(ascii: "u") ? 4 : 8
            var v = 0
            for _ in 0..<digits {
                guard let d = peek(), let h = Lexer.hexValue(d) else {
                    throw error("invalid Unicode escape", at: start, SQLError.invalidEscape)
                }
                v = v * 16 + h
                pos += 1
            }
            try appendScalar(v, into: &out, at: start)
        default:
            out.append(c)
        }
    }

    private func appendScalar(_ v: Int, into out: inout [UInt8], at offset: Int) throws {
        guard v != 0, let scalar = Unicode.Scalar(UInt32(v)) else {
            throw error("invalid escape value \(v) in string", at: offset, SQLError.invalidEscape)
        }
        out.append(contentsOf: Array(String(Character(scalar)).utf8))
    }

    private mutating func quotedIdentifier() throws -> String {
        let start = pos
        var out: [UInt8] = []
        pos += 1
        while true {
            guard let c = peek() else { throw error("unterminated quoted identifier", at: start) }
            pos += 1
            if c == UInt8(ascii: "\"") {
                if peek() == UInt8(ascii: "\"") {
                    out.append(c)
                    pos += 1
                    continue
                }
                guard !out.isEmpty else { throw error("zero-length delimited identifier", at: start) }
                return String(decoding: out.count > 63 ? truncateIdentifier(out) : out, as: UTF8.self)
            }
            out.append(c)
        }
    }

    /// `$tag$…$tag$` (the tag may be empty); nil when `$` does not start one.
    private mutating func dollarQuoted() throws -> String? {
        let start = pos
        var p = pos + 1
        while p < bytes.count, bytes[p] != UInt8(ascii: "$") {
            guard isIdentifierPart(bytes[p]), bytes[p] != UInt8(ascii: "$") else { return nil }
            p += 1
        }
        guard p < bytes.count else { return nil }
        let tag = Array(bytes[start...p])
        if tag.count > 2, isDigit(tag[1]) { return nil }
        var i = p + 1
        let bodyStart = i
        while i + tag.count <= bytes.count {
            if bytes[i] == UInt8(ascii: "$") && bytes[i..<(i + tag.count)].elementsEqual(tag) {
                pos = i + tag.count
                return String(decoding: bytes[bodyStart..<i], as: UTF8.self)
            }
            i += 1
        }
        throw error("unterminated dollar-quoted string", at: start)
    }

    private mutating func number(_ start: Int) throws -> Token {
        var isDecimal = false
        while let d = peek(), isDigit(d) { pos += 1 }
        if peek() == UInt8(ascii: "."), !(peek(1) == UInt8(ascii: ".")) {
            isDecimal = true
            pos += 1
            while let d = peek(), isDigit(d) { pos += 1 }
        }
        if let e = peek(), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            var p = pos + 1
            if p < bytes.count, bytes[p] == UInt8(ascii: "+") || bytes[p] == UInt8(ascii: "-") { p += 1 }
            if p < bytes.count, isDigit(bytes[p]) {
                isDecimal = true
                pos = p
                while let d = peek(), isDigit(d) { pos += 1 }
            }
        }
        if let d = peek(), isIdentifierPart(d) {
            throw error("trailing junk after numeric literal at or near \"\(text(start..<(pos + 1)))\"", at: start)
        }
        let text = String(decoding: bytes[start..<pos], as: UTF8.self)
        return Token(isDecimal ? .decimal(text) : .integer(text), start..<pos)
    }

    /// The two-character operators, as `first << 8 | second` (checked for every symbol:
    /// no string is made unless one matches).
    private static let twoCharSymbols: [UInt16] = ["::", "<=", ">=", "<>", "!=", "||", "->", "=>", ":=", "<<", ">>", "@>", "<@", "&&", "!~", "~*"]
        .map { s in s.utf8.reduce(UInt16(0)) { $0 << 8 | UInt16($1) } }

    /// Each ASCII character as a string, made once.
    private static let oneCharSymbols: [String] = (0..<128).map { String(UnicodeScalar(UInt8($0))) }

    private mutating func symbol(_ start: Int) throws -> Token {
        let c = bytes[pos]
        if c == UInt8(ascii: "-"), peek(1) == UInt8(ascii: ">"), peek(2) == UInt8(ascii: ">") {
            pos += 3
            return Token(.symbol("->>"), start..<pos)
        }
        if c == UInt8(ascii: "!"), peek(1) == UInt8(ascii: "~"), peek(2) == UInt8(ascii: "*") {
            pos += 3
            return Token(.symbol("!~*"), start..<pos)
        }
        if let d = peek(1), Self.twoCharSymbols.contains(UInt16(c) << 8 | UInt16(d)) {
            pos += 2
            return Token(.symbol(String(decoding: bytes[start..<pos], as: UTF8.self)), start..<pos)
        }
        switch c {
        case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "*"), UInt8(ascii: "/"), UInt8(ascii: "%"),
            UInt8(ascii: "^"), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "="), UInt8(ascii: "("),
            UInt8(ascii: ")"), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "["), UInt8(ascii: "]"),
            UInt8(ascii: ":"), UInt8(ascii: "|"), UInt8(ascii: "&"), UInt8(ascii: "~"), UInt8(ascii: "!"),
            UInt8(ascii: "@"), UInt8(ascii: "#"), UInt8(ascii: "?"):
            pos += 1
            return Token(.symbol(Self.oneCharSymbols[Int(c)]), start..<pos)
        default:
            throw error("syntax error at or near \"\(text(start..<(start + 1)))\"", at: start)
        }
    }

    // MARK: Character classes

    @inline(__always) private func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }

    @inline(__always) private func isIdentifierStart(_ c: UInt8) -> Bool {
        (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c == 95 || c >= 0x80
    }

    @inline(__always) private func isIdentifierPart(_ c: UInt8) -> Bool {
        isIdentifierStart(c) || isDigit(c) || c == UInt8(ascii: "$")
    }

    /// The byte `\c` stands for in an escape string (and in COPY's text format): `\b`,
    /// `\f`, `\n`, `\r`, `\t`; nil for any other `c`.
    static func controlEscape(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "b"): 0x08
        case UInt8(ascii: "f"): 0x0C
        case UInt8(ascii: "n"): 0x0A
        case UInt8(ascii: "r"): 0x0D
        case UInt8(ascii: "t"): 0x09
        default: nil
        }
    }

    /// A hexadecimal digit's value; nil for other bytes.
    static func hexValue(_ c: UInt8) -> Int? {
        switch c {
        case 48...57: return Int(c - 48)
        case 97...102: return Int(c - 87)
        case 65...70: return Int(c - 55)
        default: return nil
        }
    }

    /// PostgreSQL keeps the first 63 bytes of an identifier, on a character boundary.
    private func truncateIdentifier(_ word: [UInt8]) -> [UInt8] {
        var n = 63
        while n > 0 && word[n] & 0xC0 == 0x80 { n -= 1 }
        return Array(word[0..<n])
    }
}
