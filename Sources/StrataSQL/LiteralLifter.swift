/// Turns a statement parsed from text whose literals were replaced by placeholders
/// (`$1` for the first literal token, `$2` for the second, ...) into a statement that
/// takes some of those literals as parameters, so that one plan serves every statement
/// of the same shape (`SELECT abalance FROM a WHERE aid = 17`, `... = 42`, ...).
///
/// Only literals where a parameter means exactly what the literal meant become
/// parameters: operands of comparisons and arithmetic (and `BETWEEN`, `IN` lists) in a
/// WHERE or ON clause or an UPDATE's SET, and whole items of an INSERT's VALUES. Every
/// other placeholder is put back as the literal it stood for. Integer literals keep
/// their type with a cast (`5` is an integer, not an unknown); string literals stay
/// untyped, as a literal string is, and the caller converts each value to the type its
/// context gives. The lifter counts the placeholders it meets: a statement in which any
/// placeholder was not met exactly once in an expression is refused (`failed`), so a
/// part of the syntax tree this walk does not know can never keep a placeholder.
final class LiteralLifter {
    /// One literal that became a parameter.
    struct Lifted: Equatable {
        /// The literal's place among the statement's literal tokens (0-based).
        var literal: Int
        /// The type the parameter is cast to (integers and decimals); nil for a string.
        var type: SQLType?
    }

    /// The literal tokens, in order of appearance.
    let literals: [Token.Kind]
    /// Whether literal `n` (0-based) may become a parameter.
    let allowed: (Int) -> Bool
    /// The parameters made, in the order of their new numbers.
    private(set) var lifted: [Lifted] = []
    private var visits: [Int]
    private(set) var failed = false

    init(literals: [Token.Kind], allowed: @escaping (Int) -> Bool = { _ in true }) {
        self.literals = literals
        self.allowed = allowed
        visits = Array(repeating: 0, count: literals.count)
    }

    /// The rewritten statement; nil when the statement is of a kind this does not lift
    /// or a placeholder was not met exactly once.
    static func lift(_ statement: Statement, literals: [Token.Kind], allowed: @escaping (Int) -> Bool) -> (Statement, [Lifted])? {
        let lifter = LiteralLifter(literals: literals, allowed: allowed)
        let out: Statement
        switch statement {
        case .select(let q): out = .select(lifter.query(q))
        case .insert(let i): out = .insert(lifter.insert(i))
        case .update(let u): out = .update(lifter.update(u))
        case .delete(let d): out = .delete(lifter.delete(d))
        default: return nil
        }
        guard !lifter.failed, lifter.visits.allSatisfy({ $0 == 1 }) else { return nil }
        return (out, lifter.lifted)
    }

    static let comparisonAndArithmetic: Set<String> = ["=", "<>", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%"]

    // MARK: Statements

    func insert(_ i: Insert) -> Insert {
        var i = i
        if let source = i.source {
            if case .values(let rows) = source.body, source.with.isEmpty, source.orderBy.isEmpty, source.limit == nil, source.offset == nil {
                // A whole VALUES item takes its target column's type, as a literal does.
                i.source = SelectStatement(body: .values(rows.map { $0.map { expr($0, safe: true, region: true) } }))
            } else {
                i.source = query(source)
            }
        }
        if var c = i.onConflict {
            c.updates = c.updates.map { Assignment(column: $0.column, value: $0.value.map { expr($0, safe: false, region: false) }) }
            c.whereClause = c.whereClause.map { expr($0, safe: false, region: false) }
            i.onConflict = c
        }
        i.returning = i.returning.map(item)
        return i
    }

    func update(_ u: Update) -> Update {
        var u = u
        u.assignments = u.assignments.map { Assignment(column: $0.column, value: $0.value.map { expr($0, safe: false, region: true) }) }
        u.from = u.from.map(tableRef)
        u.whereClause = u.whereClause.map { expr($0, safe: false, region: true) }
        u.returning = u.returning.map(item)
        return u
    }

    func delete(_ d: Delete) -> Delete {
        var d = d
        d.whereClause = d.whereClause.map { expr($0, safe: false, region: true) }
        d.returning = d.returning.map(item)
        return d
    }

    func query(_ q: SelectStatement) -> SelectStatement {
        SelectStatement(
            with: q.with.map { CommonTableExpression(name: $0.name, columns: $0.columns, query: query($0.query)) },
            recursive: q.recursive,
            body: setExpr(q.body),
            orderBy: q.orderBy.map(orderItem),
            limit: q.limit.map { expr($0, safe: false, region: false) },
            offset: q.offset.map { expr($0, safe: false, region: false) })
    }

    func setExpr(_ s: SetExpr) -> SetExpr {
        switch s {
        case .select(let core): return .select(selectCore(core))
        case .values(let rows): return .values(rows.map { $0.map { expr($0, safe: false, region: false) } })
        case .setOperation(let op, let all, let a, let b): return .setOperation(op, all: all, setExpr(a), setExpr(b))
        case .query(let q): return .query(query(q))
        }
    }

    func selectCore(_ c: SelectCore) -> SelectCore {
        var c = c
        c.distinctOn = c.distinctOn.map { expr($0, safe: false, region: false) }
        c.items = c.items.map(item)
        c.from = c.from.map(tableRef)
        // The WHERE clause only: select items, GROUP BY and HAVING are matched against each
        // other by their text, which a parameter in one of them would change.
        c.whereClause = c.whereClause.map { expr($0, safe: false, region: true) }
        c.groupBy = c.groupBy.map { expr($0, safe: false, region: false) }
        c.having = c.having.map { expr($0, safe: false, region: false) }
        c.windows = c.windows.mapValues(window)
        return c
    }

    func item(_ i: SelectItem) -> SelectItem {
        switch i {
        case .star: return i
        case .expr(let e, let alias): return .expr(expr(e, safe: false, region: false), alias: alias)
        }
    }

    func orderItem(_ o: OrderItem) -> OrderItem {
        var o = o
        o.expr = expr(o.expr, safe: false, region: false)
        return o
    }

    func tableRef(_ t: TableRef) -> TableRef {
        switch t {
        case .table(let name, let alias, let columns, let temporal):
            return .table(name: name, alias: alias, columnAliases: columns, temporal: temporal.map(temporalClause))
        case .subquery(let q, let alias, let columns):
            return .subquery(query(q), alias: alias, columnAliases: columns)
        case .function(let call, let alias, let columns, let ordinality):
            return .function(function(call), alias: alias, columnAliases: columns, ordinality: ordinality)
        case .join(let kind, let a, let b, let on, let using, let natural):
            return .join(kind, tableRef(a), tableRef(b), on: on.map { expr($0, safe: false, region: true) }, using: using, natural: natural)
        }
    }

    func temporalClause(_ c: TemporalClause) -> TemporalClause {
        switch c {
        case .asOfTimestamp(let e): return .asOfTimestamp(expr(e, safe: false, region: false))
        case .asOfVersion(let e): return .asOfVersion(expr(e, safe: false, region: false))
        case .range(let a, let b, let inclusive, let version):
            return .range(expr(a, safe: false, region: false), expr(b, safe: false, region: false), inclusive: inclusive, version: version)
        case .all: return .all
        }
    }

    func function(_ f: FunctionCall) -> FunctionCall {
        var f = f
        f.args = f.args.map { expr($0, safe: false, region: false) }
        f.filter = f.filter.map { expr($0, safe: false, region: false) }
        f.orderBy = f.orderBy.map(orderItem)
        f.over = f.over.map(window)
        return f
    }

    func window(_ w: WindowSpec) -> WindowSpec {
        var w = w
        w.partitionBy = w.partitionBy.map { expr($0, safe: false, region: false) }
        w.orderBy = w.orderBy.map(orderItem)
        if var frame = w.frame {
            frame.start = bound(frame.start)
            frame.end = bound(frame.end)
            w.frame = frame
        }
        return w
    }

    func bound(_ b: WindowFrame.Bound) -> WindowFrame.Bound {
        switch b {
        case .preceding(let e): return .preceding(expr(e, safe: false, region: false))
        case .following(let e): return .following(expr(e, safe: false, region: false))
        default: return b
        }
    }

    // MARK: Expressions

    /// `e` with its placeholders lifted or put back. `safe`: `e` is in a place where a
    /// parameter may stand for a literal; `region`: `e` is inside a clause where lifting
    /// is allowed at all.
    func expr(_ e: Expr, safe: Bool, region: Bool) -> Expr {
        switch e {
        case .parameter(let n):
            return placeholder(n, safe: safe && region)
        case .literal, .string, .typedString, .column, .defaultValue:
            return e
        case .unary(let op, let a):
            return .unary(op, expr(a, safe: safe && op == "-", region: region))
        case .binary(let op, let a, let b):
            let operand = region && LiteralLifter.comparisonAndArithmetic.contains(op)
            return .binary(op, expr(a, safe: operand, region: region), expr(b, safe: operand, region: region))
        case .isNull(let a, let negated):
            return .isNull(expr(a, safe: false, region: region), negated: negated)
        case .isDistinct(let a, let b, let negated):
            return .isDistinct(expr(a, safe: false, region: region), expr(b, safe: false, region: region), negated: negated)
        case .isTruth(let a, let v, let negated):
            return .isTruth(expr(a, safe: false, region: region), v, negated: negated)
        case .between(let a, let lo, let hi, let negated, let symmetric):
            return .between(expr(a, safe: region, region: region), expr(lo, safe: region, region: region), expr(hi, safe: region, region: region),
                            negated: negated, symmetric: symmetric)
        case .inList(let a, let list, let negated):
            return .inList(expr(a, safe: false, region: region), list.map { expr($0, safe: region, region: region) }, negated: negated)
        case .inSubquery(let a, let q, let negated):
            return .inSubquery(expr(a, safe: false, region: region), query(q), negated: negated)
        case .exists(let q):
            return .exists(query(q))
        case .subquery(let q):
            return .subquery(query(q))
        case .quantified(let op, let a, let all, let q):
            return .quantified(op, expr(a, safe: false, region: region), all: all, query(q))
        case .like(let a, let p, let escape, let negated, let ci):
            return .like(expr(a, safe: false, region: region), expr(p, safe: false, region: region),
                         escape: escape.map { expr($0, safe: false, region: region) }, negated: negated, caseInsensitive: ci)
        case .caseWhen(let operand, let whens, let otherwise):
            return .caseWhen(
                operand: operand.map { expr($0, safe: false, region: region) },
                whens: whens.map { When(condition: expr($0.condition, safe: false, region: region), result: expr($0.result, safe: false, region: region)) },
                otherwise: otherwise.map { expr($0, safe: false, region: region) })
        case .cast(let a, let type):
            return .cast(expr(a, safe: false, region: region), type)
        case .function(let f):
            return .function(function(f))
        case .row(let items):
            return .row(items.map { expr($0, safe: false, region: region) })
        }
    }

    /// Placeholder `$n`: a parameter when it may be one, else the literal it stood for.
    func placeholder(_ n: Int, safe: Bool) -> Expr {
        guard n >= 1, n <= literals.count else {
            failed = true
            return .parameter(n)
        }
        visits[n - 1] += 1
        guard let literal = Parser.literal(literals[n - 1]) else {
            failed = true
            return .parameter(n)
        }
        guard safe, allowed(n - 1) else { return literal }
        switch literal {
        case .literal(let v) where v != .null:
            let type = Cast.typeOf(v)
            lifted.append(Lifted(literal: n - 1, type: type))
            return .cast(.parameter(lifted.count), TypeName(type: type, modifiers: []))
        case .string:
            lifted.append(Lifted(literal: n - 1, type: nil))
            return .parameter(lifted.count)
        default:
            return literal
        }
    }
}
