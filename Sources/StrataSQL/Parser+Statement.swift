extension Parser {
    /// Parses one statement.
    public mutating func statement() throws -> Statement {
        guard case .word(let w) = current.kind else {
            if check("(") { return .select(try selectStatement()) }
            throw unexpected(expected: "a statement")
        }
        switch w {
        case "select", "with", "values", "table": return .select(try selectStatement())
        case "insert": return try insertStatement()
        case "update": return try updateStatement()
        case "delete": return try deleteStatement()
        case "create": return try createStatement()
        case "drop": return try dropStatement()
        case "copy": return try copyStatement()
        case "deallocate":
            advance()
            _ = accept("prepare")
            return .deallocate(accept("all") ? nil : try anyIdentifier("a prepared statement name"))
        case "alter": return try alterStatement()
        case "truncate":
            advance()
            _ = accept("table")
            var names = [try qualifiedName()]
            while accept(",") { names.append(try qualifiedName()) }
            _ = accept("restart", "identity") || accept("continue", "identity")
            _ = accept("cascade") || accept("restrict")
            return .truncate(names)
        case "begin", "start":
            advance()
            if w == "start" { try expect("transaction") } else { _ = accept("transaction") || accept("work") }
            try transactionModes()
            return .begin
        case "commit", "end":
            advance()
            _ = accept("transaction") || accept("work")
            return .commit
        case "rollback", "abort":
            advance()
            _ = accept("transaction") || accept("work")
            if accept("to") {
                _ = accept("savepoint")
                return .rollbackToSavepoint(try identifier())
            }
            return .rollback
        case "savepoint":
            advance()
            return .savepoint(try identifier())
        case "release":
            advance()
            _ = accept("savepoint")
            return .releaseSavepoint(try identifier())
        case "explain":
            advance()
            _ = accept("analyze")
            _ = accept("verbose")
            return .explain(try statement())
        case "set":
            advance()
            _ = accept("session") || accept("local")
            if accept("transaction") || accept("session", "characteristics", "as", "transaction") {
                try transactionModes()
                return .noOp("SET")
            }
            let name = try anyIdentifier()
            if name == "time", accept("zone") {
                return .set("timezone", try settingValue())
            }
            if !accept("=") { try expect("to") }
            return .set(name, try settingValue())
        case "show":
            advance()
            if accept("all") { return .show("all") }
            var name = try anyIdentifier()
            if name == "transaction", accept("isolation", "level") { name = "transaction_isolation" }
            if name == "time", accept("zone") { name = "timezone" }
            return .show(name)
        case "reindex":
            advance()
            _ = accept("index") || accept("table") || accept("database") || accept("system")
            _ = accept("concurrently")
            return .reindex(try qualifiedName())
        case "vacuum", "analyze", "analyse", "checkpoint", "discard", "listen", "unlisten", "notify":
            while current.kind != .end && !check(";") { advance() }
            return .noOp(w == "analyse" ? "ANALYZE" : w.uppercased())
        default:
            throw unexpected(expected: "a statement")
        }
    }

    mutating func transactionModes() throws {
        while true {
            if accept("isolation", "level") {
                if accept("serializable") || accept("read", "committed") || accept("read", "uncommitted") || accept("repeatable", "read") {
                } else {
                    throw unexpected(expected: "an isolation level")
                }
            } else if accept("read", "write") || accept("read", "only") || accept("deferrable") || accept("not", "deferrable") {
            } else {
                return
            }
            _ = accept(",")
        }
    }

    mutating func settingValue() throws -> String {
        var parts: [String] = []
        repeat {
            switch current.kind {
            case .string(let s), .word(let s), .quotedIdentifier(let s), .integer(let s), .decimal(let s):
                parts.append(s)
                advance()
            case .symbol("-"):
                advance()
                guard case .integer(let s) = current.kind else { throw unexpected(expected: "a value") }
                parts.append("-" + s)
                advance()
            default: throw unexpected(expected: "a value")
            }
        } while accept(",")
        return parts.joined(separator: ", ")
    }

    // MARK: SELECT

    /// `[WITH ...] body [ORDER BY ...] [LIMIT ...] [OFFSET ...]`.
    public mutating func selectStatement() throws -> SelectStatement {
        try enter()
        defer { leave() }
        var ctes: [CommonTableExpression] = []
        var recursive = false
        if accept("with") {
            recursive = accept("recursive")
            repeat {
                let name = try identifier()
                let columns = check("(") ? try identifierList() : []
                try expect("as")
                _ = accept("not", "materialized") || accept("materialized")
                try expect("(")
                let q = try selectStatement()
                try expect(")")
                ctes.append(CommonTableExpression(name: name, columns: columns, query: q))
            } while accept(",")
        }
        let body = try setExpression()
        var orderBy: [OrderItem] = []
        if accept("order") {
            try expect("by")
            orderBy = try orderItems()
        }
        var limit: Expr? = nil
        var offset: Expr? = nil
        while true {
            if limit == nil, accept("limit") {
                limit = accept("all") ? .literal(.null) : try expression()
                if accept(",") {  // LIMIT offset, count (MySQL/SQLite)
                    offset = limit
                    limit = try expression()
                }
            } else if offset == nil, accept("offset") {
                offset = try expression()
                _ = accept("rows") || accept("row")
            } else if limit == nil, accept("fetch") {
                _ = accept("first") || accept("next")
                limit = (check("row") || check("rows")) ? .literal(.int(1)) : try expression()
                _ = accept("rows") || accept("row")
                try expect("only")
            } else {
                break
            }
        }
        if check("for"), checkAhead(1, "update") || checkAhead(1, "share") {
            advance()
            advance()
            _ = accept("nowait")
        }
        return SelectStatement(with: ctes, recursive: recursive, body: body, orderBy: orderBy, limit: limit, offset: offset)
    }

    mutating func setExpression() throws -> SetExpr {
        var left = try setTerm()
        while check("union") || check("except") {
            let op: SetOperator = check("union") ? .union : .except
            advance()
            let all = accept("all")
            if !all { _ = accept("distinct") }
            left = .setOperation(op, all: all, left, try setTerm())
        }
        return left
    }

    mutating func setTerm() throws -> SetExpr {
        var left = try setPrimary()
        while accept("intersect") {
            let all = accept("all")
            if !all { _ = accept("distinct") }
            left = .setOperation(.intersect, all: all, left, try setPrimary())
        }
        return left
    }

    mutating func setPrimary() throws -> SetExpr {
        if accept("(") {
            let q = try selectStatement()
            try expect(")")
            return .query(q)
        }
        if accept("values") {
            var rows: [[Expr]] = []
            repeat {
                try expect("(")
                var row: [Expr] = []
                repeat { row.append(try valueExpression()) } while accept(",")
                try expect(")")
                rows.append(row)
            } while accept(",")
            return .values(rows)
        }
        if accept("table") {
            let name = try qualifiedName()
            var core = SelectCore()
            core.items = [.star(table: nil)]
            core.from = [.table(name: name, alias: nil, columnAliases: [], temporal: nil)]
            return .select(core)
        }
        try expect("select")
        var core = SelectCore()
        if accept("distinct") {
            core.distinct = true
            if accept("on") {
                try expect("(")
                repeat { core.distinctOn.append(try expression()) } while accept(",")
                try expect(")")
            }
        } else {
            _ = accept("all")
        }
        if !(current.kind == .end || check(";") || check(")") || check("from") || check("union") || check("except") || check("intersect")) {
            repeat { core.items.append(try selectItem()) } while accept(",")
        }
        if accept("from") {
            repeat { core.from.append(try tableRef()) } while accept(",")
        }
        if accept("where") { core.whereClause = try expression() }
        if accept("group") {
            try expect("by")
            repeat { core.groupBy.append(try expression()) } while accept(",")
        }
        if accept("having") { core.having = try expression() }
        if accept("window") {
            repeat {
                let name = try identifier()
                try expect("as")
                core.windows[name] = try windowSpec()
            } while accept(",")
        }
        return .select(core)
    }

    /// An expression where `DEFAULT` is allowed (VALUES rows, SET clauses).
    mutating func valueExpression() throws -> Expr {
        if accept("default") { return .defaultValue }
        return try expression()
    }

    mutating func selectItem() throws -> SelectItem {
        if accept("*") { return .star(table: nil) }
        if isIdentifier() || { if case .word = current.kind { return true } else { return false } }(),
            checkAhead(1, "."), checkAhead(2, "*")
        {
            let t = try anyIdentifier()
            advance()
            advance()
            return .star(table: t)
        }
        let e = try expression()
        return .expr(e, alias: try alias())
    }

    mutating func alias() throws -> String? {
        if accept("as") { return try anyIdentifier() }
        if isIdentifier() { return try identifier() }
        return nil
    }

    mutating func tableRef() throws -> TableRef {
        try enter()
        defer { leave() }
        var left = try tablePrimary()
        while true {
            let natural = accept("natural")
            var kind: JoinKind
            if accept("join") || accept("inner", "join") {
                kind = .inner
            } else if accept("left") {
                _ = accept("outer")
                try expect("join")
                kind = .left
            } else if accept("right") {
                _ = accept("outer")
                try expect("join")
                kind = .right
            } else if accept("full") {
                _ = accept("outer")
                try expect("join")
                kind = .full
            } else if accept("cross", "join") {
                kind = .cross
            } else {
                if natural { throw unexpected(expected: "JOIN") }
                return left
            }
            let right = try tablePrimary()
            var on: Expr? = nil
            var using: [String] = []
            if kind != .cross && !natural {
                if accept("on") {
                    on = try expression()
                } else if accept("using") {
                    using = try identifierList()
                } else {
                    throw unexpected(expected: "ON or USING")
                }
            }
            left = .join(kind, left, right, on: on, using: using, natural: natural)
        }
    }

    mutating func tablePrimary() throws -> TableRef {
        if accept("(") {
            if isQueryStart() || check("(") && { var p = self; while p.accept("(") {}; return p.isQueryStart() }() {
                let q = try selectStatement()
                try expect(")")
                let a = try alias()
                let cols = check("(") ? try identifierList() : []
                return .subquery(q, alias: a, columnAliases: cols)
            }
            let inner = try tableRef()
            try expect(")")
            return inner
        }
        if accept("lateral") { throw SQLError(SQLError.featureNotSupported, "LATERAL is not supported") }
        let name = try relationName()
        if check("(") {
            guard case .function(let call) = try functionCall(name) else { throw unexpected() }
            let ordinality = accept("with", "ordinality")
            let a = try alias()
            let cols = check("(") ? try identifierList() : []
            return .function(call, alias: a, columnAliases: cols, ordinality: ordinality)
        }
        var temporal: TemporalClause? = nil
        if accept("for") {
            if !accept("system_time") {
                try expect("system")
                try expect("time")
            }
            temporal = try temporalClause()
        }
        let a = try alias()
        let cols = a != nil && check("(") ? try identifierList() : []
        return .table(name: name, alias: a, columnAliases: cols, temporal: temporal)
    }

    mutating func temporalClause() throws -> TemporalClause {
        if accept("all") { return .all }
        if accept("as") {
            try expect("of")
            if accept("version") { return .asOfVersion(try otherOperatorExpr()) }
            return .asOfTimestamp(try otherOperatorExpr())
        }
        if accept("between") {
            let version = accept("version")
            let a = try otherOperatorExpr()
            try expect("and")
            if version { _ = accept("version") }
            return .range(a, try otherOperatorExpr(), inclusive: true, version: version)
        }
        if accept("from") {
            let version = accept("version")
            let a = try otherOperatorExpr()
            try expect("to")
            if version { _ = accept("version") }
            return .range(a, try otherOperatorExpr(), inclusive: false, version: version)
        }
        throw unexpected(expected: "AS OF, BETWEEN, FROM or ALL")
    }

    // MARK: DML

    mutating func returningClause() throws -> [SelectItem] {
        guard accept("returning") else { return [] }
        var items: [SelectItem] = []
        repeat { items.append(try selectItem()) } while accept(",")
        return items
    }

    mutating func insertStatement() throws -> Statement {
        try expect("insert")
        if check("or") {
            throw SQLError(SQLError.featureNotSupported, "INSERT OR ... is not supported; use ON CONFLICT", at: lexer.location(of: current.range.lowerBound))
        }
        try expect("into")
        let table = try qualifiedName()
        let alias = accept("as") ? try identifier() : nil
        var columns: [String] = []
        if check("("), !checkAhead(1, "select"), !checkAhead(1, "with"), !checkAhead(1, "values") {
            columns = try identifierList()
        }
        var source: SelectStatement? = nil
        if accept("default", "values") {
            source = nil
        } else {
            source = try selectStatement()
        }
        var onConflict: OnConflict? = nil
        if accept("on", "conflict") {
            var cols: [String] = []
            if check("(") { cols = try identifierList() }
            if accept("on", "constraint") { _ = try identifier() }
            try expect("do")
            if accept("nothing") {
                onConflict = OnConflict(columns: cols, updates: [], whereClause: nil)
            } else {
                try expect("update")
                try expect("set")
                let updates = try assignments()
                let w = accept("where") ? try expression() : nil
                onConflict = OnConflict(columns: cols, updates: updates, whereClause: w)
            }
        }
        return .insert(Insert(table: table, alias: alias, columns: columns, source: source, onConflict: onConflict, returning: try returningClause()))
    }

    mutating func assignments() throws -> [Assignment] {
        var out: [Assignment] = []
        repeat {
            if check("(") {
                let cols = try identifierList()
                try expect("=")
                try expect("(")
                var values: [Expr] = []
                repeat { values.append(try valueExpression()) } while accept(",")
                try expect(")")
                guard cols.count == values.count else {
                    throw SQLError(SQLError.syntaxError, "number of columns does not match number of values")
                }
                for (c, v) in zip(cols, values) { out.append(Assignment(column: c, value: v == .defaultValue ? nil : v)) }
            } else {
                var col = try identifier()
                if accept(".") { col = try anyIdentifier() }
                try expect("=")
                let v = try valueExpression()
                out.append(Assignment(column: col, value: v == .defaultValue ? nil : v))
            }
        } while accept(",")
        return out
    }

    mutating func updateStatement() throws -> Statement {
        try expect("update")
        let table = try qualifiedName()
        let alias = try alias()
        try expect("set")
        let sets = try assignments()
        var from: [TableRef] = []
        if accept("from") {
            repeat { from.append(try tableRef()) } while accept(",")
        }
        let w = accept("where") ? try expression() : nil
        return .update(Update(table: table, alias: alias, assignments: sets, from: from, whereClause: w, returning: try returningClause()))
    }

    mutating func deleteStatement() throws -> Statement {
        try expect("delete")
        try expect("from")
        let table = try qualifiedName()
        let alias = try alias()
        let w = accept("where") ? try expression() : nil
        return .delete(Delete(table: table, alias: alias, whereClause: w, returning: try returningClause()))
    }

    // MARK: DDL

    mutating func createStatement() throws -> Statement {
        try expect("create")
        let orReplace = accept("or", "replace")
        if !orReplace, check("role") || check("user") || check("group") {
            let isUser = accept("user")
            if !isUser { advance() }
            return try createRoleStatement(isUser: isUser)
        }
        _ = accept("temporary") || accept("temp")
        if accept("table") {
            let ifNotExists = accept("if", "not", "exists")
            let name = try qualifiedName()
            if accept("as") {
                return .createTable(CreateTable(name: name, ifNotExists: ifNotExists, columns: [], constraints: [], asQuery: try selectStatement()))
            }
            try expect("(")
            var columns: [ColumnDefinition] = []
            var constraints: [TableConstraint] = []
            repeat {
                if check("constraint") || check("primary") || check("unique") || check("check") || check("foreign") {
                    constraints.append(try tableConstraint())
                } else {
                    columns.append(try columnDefinition(table: name))
                }
            } while accept(",")
            try expect(")")
            while accept("without", "rowid") || accept("strict") {}
            if accept("with") {
                // Storage parameters (fillfactor, ...) tune PostgreSQL's heap pages; there are none here.
                try expect("(")
                var depth = 1
                while depth > 0 {
                    if current.kind == .end { throw unexpected(expected: ")") }
                    if check("(") { depth += 1 } else if check(")") { depth -= 1 }
                    advance()
                }
            }
            return .createTable(CreateTable(name: name, ifNotExists: ifNotExists, columns: columns, constraints: constraints, asQuery: nil))
        }
        if check("unique") || check("index") {
            let unique = accept("unique")
            try expect("index")
            _ = accept("concurrently")
            let ifNotExists = accept("if", "not", "exists")
            var name: String? = nil
            if !check("on") { name = try identifier() }
            try expect("on")
            let table = try qualifiedName()
            if accept("using") { _ = try identifier() }
            try expect("(")
            var columns: [String] = []
            repeat {
                guard isIdentifier() else {
                    throw SQLError(SQLError.featureNotSupported, "indexes on expressions are not supported", at: lexer.location(of: current.range.lowerBound))
                }
                columns.append(try identifier())
                if check("collate") {
                    advance()
                    _ = try qualifiedName()
                }
                _ = accept("asc") || accept("desc")
                _ = accept("nulls", "first") || accept("nulls", "last")
            } while accept(",")
            try expect(")")
            return .createIndex(name: name, table: table, columns: columns, unique: unique, ifNotExists: ifNotExists)
        }
        if accept("view") {
            let ifNotExists = accept("if", "not", "exists")
            let name = try qualifiedName()
            let columns = check("(") ? try identifierList() : []
            try expect("as")
            let start = pos
            let q = try selectStatement()
            return .createView(name: name, columns: columns, query: q, sql: textBetween(start, pos), orReplace: orReplace, ifNotExists: ifNotExists)
        }
        if check("trigger") || check("function") || check("procedure") || check("sequence") || check("schema") || check("database") || check("role") || check("user") || check("extension") {
            throw SQLError(SQLError.featureNotSupported, "CREATE \(lexer.text(current.range).uppercased()) is not supported", at: lexer.location(of: current.range.lowerBound))
        }
        throw unexpected(expected: "TABLE, INDEX or VIEW")
    }

    /// A column of `table`: SERIAL types and identity columns take their values from
    /// the sequence `<table>_<column>_seq`, as in PostgreSQL.
    mutating func columnDefinition(table: String) throws -> ColumnDefinition {
        let name = try identifier("a column name")
        let typeStart = current.range.lowerBound
        let serial: SQLType? = switch current.kind {
        case .word("serial"), .word("serial4"): .integer
        case .word("bigserial"), .word("serial8"): .bigint
        case .word("smallserial"), .word("serial2"): .smallint
        default: nil
        }
        var col: ColumnDefinition
        if let serial {
            advance()
            col = ColumnDefinition(name: name, type: TypeName(type: serial, modifiers: []))
            col.makeSerial(table: table)
        } else {
            col = ColumnDefinition(name: name, type: try typeName())
        }
        if col.type.type == .array || col.type.lookup != nil {
            throw SQLError(SQLError.featureNotSupported, "columns of type \(col.type.type == .array ? "array" : col.type.lookup!.rawValue) are not supported", at: lexer.location(of: typeStart))
        }
        while true {
            if accept("constraint") { _ = try identifier() }
            if accept("not", "null") {
                col.notNull = true
            } else if accept("null") {
            } else if accept("primary", "key") {
                col.primaryKey = true
                _ = accept("asc") || accept("desc")
                _ = accept("autoincrement")
            } else if accept("unique") {
                col.unique = true
            } else if accept("default") {
                let start = pos
                col.defaultValue = try otherOperatorExpr()
                col.defaultSQL = textBetween(start, pos)
            } else if accept("check") {
                col.checks.append(try checkText())
            } else if accept("references") {
                col.references = try foreignKeyTarget()
            } else if check("collate") {
                advance()
                _ = try qualifiedName()
            } else if check("generated") {
                let at = current.range.lowerBound
                advance()
                if !accept("always") { try expect("by"); try expect("default") }
                guard accept("as", "identity") else {
                    throw SQLError(SQLError.featureNotSupported, "generated columns are not supported", at: lexer.location(of: at))
                }
                if accept("(") {
                    // Sequence options (START WITH, INCREMENT BY, ...) are not kept: values start at 1.
                    var depth = 1
                    while depth > 0 {
                        if case .end = current.kind { throw unexpected(expected: ")") }
                        if check("(") { depth += 1 } else if check(")") { depth -= 1 }
                        advance()
                    }
                }
                guard col.type.type.isInteger else {
                    throw SQLError(SQLError.invalidParameterValue, "identity column type must be smallint, integer, or bigint", at: lexer.location(of: at))
                }
                col.makeSerial(table: table)
            } else {
                return col
            }
        }
    }

    mutating func checkText() throws -> String {
        try expect("(")
        let start = pos
        _ = try expression()
        let text = textBetween(start, pos)
        try expect(")")
        return text
    }

    mutating func foreignKeyTarget() throws -> ForeignKeyDefinition {
        let table = try qualifiedName()
        var fk = ForeignKeyDefinition(table: table, columns: check("(") ? try identifierList() : [])
        while accept("on") {
            let delete = accept("delete")
            if !delete { try expect("update") }
            let action: ForeignKeyAction
            if accept("cascade") {
                action = .cascade
            } else if accept("restrict") {
                action = .restrict
            } else if accept("no", "action") {
                action = .noAction
            } else if accept("set", "null") {
                action = .setNull
            } else if accept("set", "default") {
                action = .setDefault
            } else {
                throw unexpected(expected: "a referential action")
            }
            if delete { fk.onDelete = action } else { fk.onUpdate = action }
        }
        _ = accept("deferrable")
        _ = accept("initially", "deferred") || accept("initially", "immediate")
        return fk
    }

    mutating func tableConstraint() throws -> TableConstraint {
        let name = accept("constraint") ? try identifier() : nil
        if accept("primary", "key") { return .primaryKey(try identifierList(), name: name) }
        if accept("unique") { return .unique(try identifierList(), name: name) }
        if accept("check") { return .check(try checkText(), name: name) }
        if accept("foreign", "key") {
            let cols = try identifierList()
            try expect("references")
            return .foreignKey(cols, try foreignKeyTarget(), name: name)
        }
        throw unexpected(expected: "a constraint")
    }

    mutating func dropStatement() throws -> Statement {
        try expect("drop")
        let kind = try anyIdentifier()
        let ifExists = accept("if", "exists")
        var names = [try qualifiedName()]
        while accept(",") { names.append(try qualifiedName()) }
        let cascade = accept("cascade")
        if !cascade { _ = accept("restrict") }
        switch kind {
        case "table": return .dropTable(names, ifExists: ifExists, cascade: cascade)
        case "index": return .dropIndex(names, ifExists: ifExists)
        case "view": return .dropView(names, ifExists: ifExists)
        case "role", "user", "group": return .dropRole(names, ifExists: ifExists)
        default:
            throw SQLError(SQLError.featureNotSupported, "DROP \(kind.uppercased()) is not supported")
        }
    }

    mutating func alterStatement() throws -> Statement {
        try expect("alter")
        if accept("role") || accept("user") || accept("group") { return try alterRoleStatement() }
        try expect("table")
        let ifExists = accept("if", "exists")
        _ = accept("only")
        let table = try qualifiedName()
        var actions: [AlterAction] = []
        repeat {
            if accept("add") {
                if check("constraint") || check("primary") || check("unique") || check("check") || check("foreign") {
                    actions.append(.addConstraint(try tableConstraint()))
                } else {
                    _ = accept("column")
                    let ine = accept("if", "not", "exists")
                    actions.append(.addColumn(try columnDefinition(table: table), ifNotExists: ine))
                }
            } else if accept("drop") {
                if accept("constraint") {
                    let ie = accept("if", "exists")
                    actions.append(.dropConstraint(try identifier(), ifExists: ie))
                } else {
                    _ = accept("column")
                    let ie = accept("if", "exists")
                    actions.append(.dropColumn(try identifier(), ifExists: ie))
                }
                _ = accept("cascade") || accept("restrict")
            } else if accept("rename") {
                if accept("to") {
                    actions.append(.renameTable(try identifier()))
                } else {
                    _ = accept("column")
                    let from = try identifier()
                    try expect("to")
                    actions.append(.renameColumn(from, to: try identifier()))
                }
            } else if accept("alter") {
                _ = accept("column")
                let col = try identifier()
                if accept("set", "not", "null") {
                    actions.append(.setNotNull(col, true))
                } else if accept("drop", "not", "null") {
                    actions.append(.setNotNull(col, false))
                } else if accept("set", "default") {
                    let start = pos
                    let e = try otherOperatorExpr()
                    actions.append(.setDefault(col, e, sql: textBetween(start, pos)))
                } else if accept("drop", "default") {
                    actions.append(.setDefault(col, nil, sql: nil))
                } else {
                    throw SQLError(SQLError.featureNotSupported, "this ALTER COLUMN form is not supported", at: lexer.location(of: current.range.lowerBound))
                }
            } else {
                throw unexpected(expected: "ADD, DROP, RENAME or ALTER")
            }
        } while accept(",")
        return .alterTable(table, ifExists: ifExists, actions)
    }
}
