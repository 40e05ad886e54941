import FoundationEssentials

/// A recursive-descent parser for Strata's PostgreSQL-flavoured SQL.
///
/// Errors carry SQLSTATE 42601 and the line and column of the offending token.
/// Nesting (parentheses, subqueries, prefix operators) is bounded by ``maxDepth`` so
/// hostile input is rejected with 54001 instead of overflowing the stack.
public struct Parser {
    /// The deepest nesting of expressions and subqueries the parser accepts.
    public static let maxDepth = 400

    let lexer: Lexer
    var tokens: [Token]
    var pos = 0
    var depth = 0

    /// Tokenizes `sql`.
    public init(_ sql: String) throws {
        lexer = Lexer(sql)
        tokens = try Lexer.tokenize(sql)
    }

    /// Parses every statement of `sql` (separated by semicolons).
    public static func parse(_ sql: String) throws -> [Statement] {
        var p = try Parser(sql)
        return try p.statements()
    }

    /// Parses exactly one statement.
    public static func parseOne(_ sql: String) throws -> Statement {
        guard let statement = try parseAtMostOne(sql) else { throw SQLError(SQLError.syntaxError, "empty statement") }
        return statement
    }

    /// Parses text that holds one statement or none (only blanks and comments): nil for none.
    public static func parseAtMostOne(_ sql: String) throws -> Statement? {
        let all = try parse(sql)
        guard all.count <= 1 else { throw SQLError(SQLError.syntaxError, "expected one statement, found \(all.count)") }
        return all.first
    }

    /// Parses statements up to the end of the text.
    public mutating func statements() throws -> [Statement] {
        var out: [Statement] = []
        while true {
            while accept(";") {}
            if current.kind == .end { return out }
            out.append(try statement())
            if current.kind != .end && !check(";") { throw unexpected() }
        }
    }

    /// Parses statements and returns each with its source text.
    public static func split(_ sql: String) throws -> [(Statement, String)] {
        var p = try Parser(sql)
        var out: [(Statement, String)] = []
        while true {
            while p.accept(";") {}
            if p.current.kind == .end { return out }
            let start = p.current.range.lowerBound
            let s = try p.statement()
            let end = p.tokens[p.pos - 1].range.upperBound
            out.append((s, p.lexer.text(start..<end)))
            if p.current.kind != .end && !p.check(";") { throw p.unexpected() }
        }
    }

    // MARK: Token helpers

    var current: Token { tokens[pos] }

    func peekKind(_ ahead: Int) -> Token.Kind {
        pos + ahead < tokens.count ? tokens[pos + ahead].kind : .end
    }

    mutating func advance() { if pos < tokens.count - 1 { pos += 1 } }

    /// True when the current token is the symbol or (unquoted) word `s`.
    func check(_ s: String) -> Bool {
        switch current.kind {
        case .symbol(let x), .word(let x): x == s
        default: false
        }
    }

    func checkAhead(_ ahead: Int, _ s: String) -> Bool {
        switch peekKind(ahead) {
        case .symbol(let x), .word(let x): x == s
        default: false
        }
    }

    mutating func accept(_ s: String) -> Bool {
        if check(s) {
            advance()
            return true
        }
        return false
    }

    mutating func accept(_ words: String...) -> Bool {
        for (i, w) in words.enumerated() where !checkAhead(i, w) { return false }
        for _ in words { advance() }
        return true
    }

    mutating func expect(_ s: String) throws {
        guard accept(s) else { throw unexpected(expected: s) }
    }

    func unexpected(expected: String? = nil) -> SQLError {
        let t = current
        let near = t.kind == .end ? "syntax error at end of input" : "syntax error at or near \"\(lexer.text(t.range))\""
        let message = expected.map { "\(near) (expected \($0))" } ?? near
        return SQLError(SQLError.syntaxError, message, at: lexer.location(of: t.range.lowerBound))
    }

    mutating func enter() throws {
        depth += 1
        if depth > Parser.maxDepth {
            throw SQLError(SQLError.tooComplex, "statement nests deeper than \(Parser.maxDepth) levels", at: lexer.location(of: current.range.lowerBound))
        }
    }

    mutating func leave() { depth -= 1 }

    /// Words that end an expression or cannot be a bare alias.
    static let reserved: Set<String> = [
        "all", "and", "any", "as", "asc", "between", "by", "case", "cast", "check", "collate", "column",
        "constraint", "create", "cross", "default", "delete", "desc", "distinct", "do", "else", "end",
        "except", "exists", "false", "fetch", "for", "foreign", "from", "full", "group", "having", "ilike",
        "in", "inner", "insert", "intersect", "into", "is", "isnull", "join", "left", "like", "limit",
        "natural", "not", "notnull", "null", "offset", "on", "or", "order", "outer", "over", "primary",
        "references", "returning", "right", "select", "set", "similar", "some", "table", "then", "to",
        "true", "union", "unique", "update", "using", "values", "when", "where", "window", "with",
    ]

    /// An identifier: a non-reserved word or a quoted identifier.
    mutating func identifier(_ what: String = "an identifier") throws -> String {
        if case .word(let w) = current.kind, Parser.reserved.contains(w) { throw unexpected(expected: what) }
        return try anyIdentifier(what)
    }

    /// An identifier where any word is allowed (after `AS`, or as a column name after `.`).
    mutating func anyIdentifier(_ what: String = "an identifier") throws -> String {
        switch current.kind {
        case .word(let w), .quotedIdentifier(let w):
            advance()
            return w
        default:
            throw unexpected(expected: what)
        }
    }

    func isIdentifier() -> Bool {
        switch current.kind {
        case .word(let w): !Parser.reserved.contains(w)
        case .quotedIdentifier: true
        default: false
        }
    }

    /// A possibly schema-qualified name; the schema (`public`, `pg_catalog`, `main`) is dropped.
    mutating func qualifiedName() throws -> String {
        var name = try identifier("a name")
        while accept(".") { name = try anyIdentifier() }
        return name
    }

    /// A relation's name in FROM: like ``qualifiedName()``, but a name in
    /// `information_schema` keeps its schema, since those views share names with user tables.
    mutating func relationName() throws -> String {
        var name = try identifier("a name")
        var schema: String? = nil
        while accept(".") {
            schema = name
            name = try anyIdentifier()
        }
        return schema == "information_schema" ? "information_schema." + name : name
    }

    mutating func identifierList() throws -> [String] {
        try expect("(")
        var out = [try identifier()]
        while accept(",") { out.append(try identifier()) }
        try expect(")")
        return out
    }

    func textBetween(_ startToken: Int, _ endToken: Int) -> String {
        lexer.text(tokens[startToken].range.lowerBound..<tokens[endToken - 1].range.upperBound)
    }
}
