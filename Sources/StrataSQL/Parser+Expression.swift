import FoundationEssentials

extension Parser {
    /// Parses an expression, following PostgreSQL's operator precedence.
    public mutating func expression() throws -> Expr {
        try enter()
        defer { leave() }
        return try orExpr()
    }

    /// Counts one more level of nesting for an operator in a left-associative chain
    /// (the tree grows one level deeper per operator); `levels` are released by the caller.
    mutating func chain(_ levels: inout Int) throws {
        try enter()
        levels += 1
    }

    mutating func release(_ levels: Int) { depth -= levels }

    mutating func orExpr() throws -> Expr {
        var levels = 0
        defer { release(levels) }
        var e = try andExpr()
        while accept("or") {
            try chain(&levels)
            e = .binary("or", e, try andExpr())
        }
        return e
    }

    mutating func andExpr() throws -> Expr {
        var levels = 0
        defer { release(levels) }
        var e = try notExpr()
        while accept("and") {
            try chain(&levels)
            e = .binary("and", e, try notExpr())
        }
        return e
    }

    mutating func notExpr() throws -> Expr {
        if accept("not") {
            try enter()
            defer { leave() }
            return .unary("not", try notExpr())
        }
        return try isExpr()
    }

    mutating func isExpr() throws -> Expr {
        var levels = 0
        defer { release(levels) }
        var e = try comparison()
        while true {
            try chain(&levels)
            if accept("isnull") {
                e = .isNull(e, negated: false)
            } else if accept("notnull") {
                e = .isNull(e, negated: true)
            } else if accept("is") {
                let negated = accept("not")
                if accept("null") {
                    e = .isNull(e, negated: negated)
                } else if accept("true") {
                    e = .isTruth(e, true, negated: negated)
                } else if accept("false") {
                    e = .isTruth(e, false, negated: negated)
                } else if accept("unknown") {
                    e = .isTruth(e, nil, negated: negated)
                } else if accept("distinct") {
                    try expect("from")
                    e = .isDistinct(e, try comparison(), negated: negated)
                } else {
                    throw unexpected(expected: "NULL, TRUE, FALSE, UNKNOWN or DISTINCT FROM")
                }
            } else {
                return e
            }
        }
    }

    static let comparisonOperators: Set<String> = ["=", "<>", "!=", "<", ">", "<=", ">="]

    mutating func comparison() throws -> Expr {
        var levels = 0
        defer { release(levels) }
        var e = try patternExpr()
        while case .symbol(let op) = current.kind, Parser.comparisonOperators.contains(op) {
            advance()
            try chain(&levels)
            let norm = op == "!=" ? "<>" : op
            if check("any") || check("some") || check("all"), checkAhead(1, "(") {
                let all = check("all")
                advance()
                try expect("(")
                if isQueryStart() {
                    let q = try selectStatement()
                    try expect(")")
                    e = .quantified(norm, e, all: all, q)
                } else {
                    // `x = ANY (list)` is accepted as IN for arrays written inline; a single
                    // array-valued expression is told apart when it is bound.
                    var items = [try expression()]
                    while accept(",") { items.append(try expression()) }
                    try expect(")")
                    if items.count == 1, case .function(let c) = items[0], c.name == Parser.arrayFunction { items = c.args }
                    if norm == "=" && !all {
                        e = .inList(e, items, negated: false)
                    } else if norm == "<>" && all {
                        e = .inList(e, items, negated: true)
                    } else {
                        throw unexpected(expected: "a subquery")
                    }
                }
            } else {
                e = .binary(norm, e, try patternExpr())
            }
        }
        return e
    }

    mutating func patternExpr() throws -> Expr {
        var levels = 0
        defer { release(levels) }
        var e = try otherOperatorExpr()
        while true {
            try chain(&levels)
            let save = pos
            let negated = accept("not")
            if accept("between") {
                let symmetric = accept("symmetric")
                if !symmetric { _ = accept("asymmetric") }
                let low = try otherOperatorExpr()
                try expect("and")
                let high = try otherOperatorExpr()
                e = .between(e, low, high, negated: negated, symmetric: symmetric)
            } else if accept("in") {
                try expect("(")
                if isQueryStart() {
                    let q = try selectStatement()
                    try expect(")")
                    e = .inSubquery(e, q, negated: negated)
                } else {
                    var items = [try expression()]
                    while accept(",") { items.append(try expression()) }
                    try expect(")")
                    e = .inList(e, items, negated: negated)
                }
            } else if check("like") || check("ilike") {
                let ci = check("ilike")
                advance()
                let pattern = try otherOperatorExpr()
                let escape = accept("escape") ? try otherOperatorExpr() : nil
                e = .like(e, pattern, escape: escape, negated: negated, caseInsensitive: ci)
            } else {
                pos = save
                return e
            }
        }
    }

    static let otherOperators: Set<String> = ["||", "->", "->>", "@>", "<@", "&&", "<<", ">>", "&", "|", "#", "~", "!~", "~*", "!~*"]

    mutating func otherOperatorExpr() throws -> Expr {
        var levels = 0
        defer { release(levels) }
        var e = try additive()
        while true {
            var op: String
            if case .symbol(let s) = current.kind, Parser.otherOperators.contains(s) {
                op = s
                advance()
            } else if check("operator"), checkAhead(1, "(") {
                // `OPERATOR(pg_catalog.~)`: an operator named with its schema, as psql writes them.
                advance()
                advance()
                while isIdentifier() {
                    advance()
                    try expect(".")
                }
                guard case .symbol(let s) = current.kind else { throw unexpected(expected: "an operator") }
                op = s
                advance()
                try expect(")")
                if op == "!=" { op = "<>" }
                if Parser.comparisonOperators.contains(op) || op == "<>" {
                    try chain(&levels)
                    e = .binary(op, e, try additive())
                    continue
                }
            } else {
                return e
            }
            try chain(&levels)
            e = .binary(op, e, try additive())
        }
    }

    mutating func additive() throws -> Expr {
        var levels = 0
        defer { release(levels) }
        var e = try multiplicative()
        while check("+") || check("-") {
            let op = check("+") ? "+" : "-"
            advance()
            try chain(&levels)
            e = .binary(op, e, try multiplicative())
        }
        return e
    }

    mutating func multiplicative() throws -> Expr {
        var levels = 0
        defer { release(levels) }
        var e = try power()
        while check("*") || check("/") || check("%") {
            let op = check("*") ? "*" : (check("/") ? "/" : "%")
            advance()
            try chain(&levels)
            e = .binary(op, e, try power())
        }
        return e
    }

    mutating func power() throws -> Expr {
        var levels = 0
        defer { release(levels) }
        var e = try unaryExpr()
        while accept("^") {
            try chain(&levels)
            e = .binary("^", e, try unaryExpr())
        }
        return e
    }

    mutating func unaryExpr() throws -> Expr {
        if check("-") || check("+") || check("~") {
            let op = check("-") ? "-" : (check("+") ? "+" : "~")
            advance()
            try enter()
            defer { leave() }
            let operand = try unaryExpr()
            // Fold `-<integer>` so that -9223372036854775808 is a valid bigint.
            if op == "-", case .literal(let v) = operand {
                switch v {
                case .int(let i) where i != .min: return .literal(.int(-i))
                case .numeric(let d):
                    if d == Decimal(string: "9223372036854775808") { return .literal(.int(.min)) }
                    return .literal(.numeric(-d))
                default: break
                }
            }
            return .unary(op, operand)
        }
        return try postfix()
    }

    mutating func postfix() throws -> Expr {
        var levels = 0
        defer { release(levels) }
        var e = try primary()
        while true {
            if accept("::") {
                try chain(&levels)
                e = .cast(e, try typeName())
            } else if accept("[") {
                // A subscript: `a[i]`, 1-based as in PostgreSQL.
                try chain(&levels)
                let index = try expression()
                try expect("]")
                e = .function(FunctionCall(name: Parser.subscriptFunction, args: [e, index]))
            } else if check("collate") {
                advance()
                _ = try qualifiedName()
            } else {
                return e
            }
        }
    }

    func isQueryStart() -> Bool { check("select") || check("with") || check("values") }

    /// The expression a literal token stands for: integers as `.int` (`.numeric` when too
    /// large), decimals as `.numeric`, strings untyped; nil for other tokens.
    static func literal(_ kind: Token.Kind) -> Expr? {
        if let v = constant(kind) { return .literal(v) }
        switch kind {
        case .decimal(let s):
            return .cast(.string(s), TypeName(type: .double, modifiers: []))
        case .string(let s):
            return .string(s)
        default:
            return nil
        }
    }

    /// The value of a numeric constant token (nil for other tokens, and for a decimal
    /// too large for NUMERIC, which ``literal(_:)`` makes a double).
    static func constant(_ kind: Token.Kind) -> SQLValue? {
        switch kind {
        case .integer(let s):
            if let i = Int64(s) { return .int(i) }
            return .numeric(Decimal(string: s) ?? 0)
        case .decimal(let s):
            return Decimal(string: s).map { .numeric($0) }
        default:
            return nil
        }
    }

    mutating func primary() throws -> Expr {
        let t = current
        switch t.kind {
        case .integer, .decimal, .string:
            advance()
            return Parser.literal(t.kind)!
        case .parameter(let n):
            advance()
            return .parameter(n)
        case .symbol("("):
            advance()
            try enter()
            defer { leave() }
            if isQueryStart() {
                let q = try selectStatement()
                try expect(")")
                return .subquery(q)
            }
            let e = try expression()
            if accept(",") {
                var items = [e]
                repeat { items.append(try expression()) } while accept(",")
                try expect(")")
                return .row(items)
            }
            try expect(")")
            return e
        case .quotedIdentifier:
            return try columnOrFunction()
        case .word(let w):
            switch w {
            case "null":
                advance()
                return .literal(.null)
            case "true":
                advance()
                return .literal(.bool(true))
            case "false":
                advance()
                return .literal(.bool(false))
            case "case": return try caseExpr()
            case "cast":
                advance()
                try expect("(")
                let e = try expression()
                try expect("as")
                let type = try typeName()
                try expect(")")
                return .cast(e, type)
            case "array" where checkAhead(1, "[") || checkAhead(1, "("):
                advance()
                if accept("(") {
                    let q = try selectStatement()
                    try expect(")")
                    return .function(FunctionCall(name: Parser.arrayQueryFunction, args: [.subquery(q)]))
                }
                try expect("[")
                var items: [Expr] = []
                if !check("]") {
                    repeat { items.append(try expression()) } while accept(",")
                }
                try expect("]")
                return .function(FunctionCall(name: Parser.arrayFunction, args: items))
            case "exists":
                advance()
                try expect("(")
                let q = try selectStatement()
                try expect(")")
                return .exists(q)
            case "row" where checkAhead(1, "("):
                advance()
                try expect("(")
                var items: [Expr] = []
                if !check(")") {
                    repeat { items.append(try expression()) } while accept(",")
                }
                try expect(")")
                return .row(items)
            case "current_timestamp", "current_date", "localtimestamp", "current_user", "session_user", "current_schema",
                "current_catalog", "current_role", "user":
                if checkAhead(1, "(") { return try columnOrFunction() }
                advance()
                return .function(FunctionCall(name: w, args: []))
            case "date", "timestamp", "timestamptz", "uuid", "json", "jsonb", "time", "interval":
                if case .string(let s) = peekKind(1) {
                    advance()
                    advance()
                    guard let type = SQLType.named([w]) else {
                        throw SQLError(SQLError.featureNotSupported, "type \(w) is not supported", at: lexer.location(of: t.range.lowerBound))
                    }
                    return .typedString(type, s)
                }
                if w == "timestamp", checkAhead(1, "with") || checkAhead(1, "without") {
                    let type = try typeName()
                    guard case .string(let s) = current.kind else { throw unexpected(expected: "a string") }
                    advance()
                    return .typedString(type.type, s)
                }
                return try columnOrFunction()
            case "extract":
                if checkAhead(1, "(") {
                    advance()
                    advance()
                    let field = try anyIdentifier()
                    try expect("from")
                    let e = try expression()
                    try expect(")")
                    return .function(FunctionCall(name: "date_part", args: [.string(field), e]))
                }
                return try columnOrFunction()
            case "substring" where checkAhead(1, "("):
                advance()
                advance()
                var args = [try expression()]
                if accept("from") {
                    args.append(try expression())
                    if accept("for") { args.append(try expression()) }
                } else if accept("for") {
                    args.append(.literal(.int(1)))
                    args.append(try expression())
                } else {
                    while accept(",") { args.append(try expression()) }
                }
                try expect(")")
                return .function(FunctionCall(name: "substr", args: args))
            case "position" where checkAhead(1, "("):
                advance()
                advance()
                let needle = try otherOperatorExpr()
                try expect("in")
                let hay = try expression()
                try expect(")")
                return .function(FunctionCall(name: "strpos", args: [hay, needle]))
            case "trim" where checkAhead(1, "("):
                advance()
                advance()
                var name = "btrim"
                if accept("both") {
                } else if accept("leading") {
                    name = "ltrim"
                } else if accept("trailing") {
                    name = "rtrim"
                }
                var chars: Expr? = nil
                var subject: Expr
                if accept("from") {
                    subject = try expression()
                } else {
                    let first = try expression()
                    if accept("from") {
                        chars = first
                        subject = try expression()
                    } else if accept(",") {
                        subject = first
                        chars = try expression()
                    } else {
                        subject = first
                    }
                }
                try expect(")")
                return .function(FunctionCall(name: name, args: chars.map { [subject, $0] } ?? [subject]))
            default:
                if Parser.reserved.contains(w) { throw unexpected() }
                return try columnOrFunction()
            }
        default:
            throw unexpected(expected: "an expression")
        }
    }

    mutating func columnOrFunction() throws -> Expr {
        let first = try anyIdentifier()
        if check("(") { return try functionCall(first) }
        if accept(".") {
            if check("*") { throw unexpected() }
            let second = try anyIdentifier()
            if check("(") { return try functionCall(second) }  // schema.function(...)
            if accept(".") { return .column(table: second, name: try anyIdentifier()) }
            return .column(table: first, name: second)
        }
        return .column(table: nil, name: first)
    }

    mutating func functionCall(_ name: String) throws -> Expr {
        try expect("(")
        try enter()
        defer { leave() }
        var call = FunctionCall(name: name, args: [])
        if accept("*") {
            call.star = true
        } else if !check(")") {
            if accept("distinct") {
                call.distinct = true
            } else {
                _ = accept("all")
            }
            repeat { call.args.append(try expression()) } while accept(",")
            if accept("order") {
                try expect("by")
                call.orderBy = try orderItems()
            }
        }
        try expect(")")
        if check("within"), checkAhead(1, "group") { throw SQLError(SQLError.featureNotSupported, "WITHIN GROUP is not supported") }
        if accept("filter") {
            try expect("(")
            try expect("where")
            call.filter = try expression()
            try expect(")")
        }
        if accept("over") {
            if isIdentifier() {
                call.over = WindowSpec(name: try identifier())
            } else {
                call.over = try windowSpec()
            }
        }
        return .function(call)
    }

    mutating func windowSpec() throws -> WindowSpec {
        try expect("(")
        var spec = WindowSpec()
        if isIdentifier() && !check("partition") && !check("order") && !check("rows") && !check("range") {
            spec.name = try identifier()
        }
        if accept("partition") {
            try expect("by")
            repeat { spec.partitionBy.append(try expression()) } while accept(",")
        }
        if accept("order") {
            try expect("by")
            spec.orderBy = try orderItems()
        }
        if check("rows") || check("range") || check("groups") {
            let rows = check("rows")
            if check("groups") { throw SQLError(SQLError.featureNotSupported, "GROUPS frames are not supported") }
            advance()
            if accept("between") {
                let start = try frameBound()
                try expect("and")
                let end = try frameBound()
                spec.frame = WindowFrame(rows: rows, start: start, end: end)
            } else {
                spec.frame = WindowFrame(rows: rows, start: try frameBound(), end: .currentRow)
            }
        }
        try expect(")")
        return spec
    }

    mutating func frameBound() throws -> WindowFrame.Bound {
        if accept("unbounded") {
            if accept("preceding") { return .unboundedPreceding }
            try expect("following")
            return .unboundedFollowing
        }
        if accept("current") {
            try expect("row")
            return .currentRow
        }
        let e = try additive()
        if accept("preceding") { return .preceding(e) }
        try expect("following")
        return .following(e)
    }

    mutating func caseExpr() throws -> Expr {
        try expect("case")
        try enter()
        defer { leave() }
        let operand = check("when") ? nil : try expression()
        var whens: [When] = []
        while accept("when") {
            let c = try expression()
            try expect("then")
            whens.append(When(condition: c, result: try expression()))
        }
        if whens.isEmpty { throw unexpected(expected: "WHEN") }
        let otherwise = accept("else") ? try expression() : nil
        try expect("end")
        return .caseWhen(operand: operand, whens: whens, otherwise: otherwise)
    }

    /// A type name such as `integer`, `varchar(20)`, `double precision`, `timestamp with time zone`.
    mutating func typeName() throws -> TypeName {
        let start = current
        var words = [try anyIdentifier()]
        // A schema-qualified type (`pg_catalog.int4`): the schema is dropped, as for tables.
        while accept(".") { words = [try anyIdentifier()] }
        switch words[0] {
        case "double":
            if accept("precision") { words.append("precision") }
        case "character", "char":
            if accept("varying") { words = ["varchar"] }
        case "timestamp", "time":
            if accept("with", "time", "zone") {
                words = [words[0] + " with time zone"]
            } else if accept("without", "time", "zone") {
                words = [words[0]]
            }
        default: break
        }
        var modifiers: [Int] = []
        if accept("(") {
            repeat {
                guard case .integer(let s) = current.kind, let n = Int(s) else { throw unexpected(expected: "a number") }
                advance()
                modifiers.append(n)
            } while accept(",")
            try expect(")")
        }
        if words == ["timestamp"] || words == ["timestamp with time zone"] {
            if accept("with", "time", "zone") { words = ["timestamp with time zone"] } else { _ = accept("without", "time", "zone") }
        }
        if accept("[") {
            if case .integer = current.kind { advance() }
            try expect("]")
            return TypeName(type: .array, modifiers: [])
        }
        if words.count == 1, let lookup = CatalogLookup(rawValue: words[0]) {
            return TypeName(type: .bigint, modifiers: [], lookup: lookup)
        }
        guard let type = SQLType.named(words) else {
            throw SQLError(SQLError.undefinedObject, "type \"\(words.joined(separator: " "))\" does not exist", at: lexer.location(of: start.range.lowerBound))
        }
        return TypeName(type: type, modifiers: modifiers)
    }

    mutating func orderItems() throws -> [OrderItem] {
        var out: [OrderItem] = []
        repeat {
            var item = OrderItem(expr: try expression())
            if accept("desc") {
                item.descending = true
            } else {
                _ = accept("asc")
            }
            if accept("nulls") {
                if accept("first") {
                    item.nullsFirst = true
                } else {
                    try expect("last")
                    item.nullsFirst = false
                }
            }
            out.append(item)
        } while accept(",")
        return out
    }
}

extension Parser {
    /// The internal names of `ARRAY[...]` and `a[i]` (no unquoted identifier looks like them).
    static let arrayFunction = "array[]"
    static let subscriptFunction = "[]"
    /// `ARRAY(query)`: its one argument is the query as a scalar subquery.
    static let arrayQueryFunction = "array()"
}
