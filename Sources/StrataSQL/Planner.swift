import FoundationEssentials

/// Turns parsed queries into plans: resolves names against the catalog, checks types,
/// collects aggregates, window functions and subqueries, and chooses access paths.
final class Planner {
    let catalog: Catalog
    /// Snapshots and catalogs for `FOR SYSTEM_TIME` clauses, resolved before planning.
    let temporal: [TemporalClause: (TableVersion, Catalog)]
    var subqueries: [SubqueryPlan] = []
    var ctes: [Plan] = []
    var cteFrames: [[String: (Int, [ResultColumn])]] = []
    var parameterTypes: [Int: SQLType]
    /// Types the statement's context gives parameters the client left untyped (0-based),
    /// for the extended protocol's ParameterDescription.
    var inferredParameters: [Int: SQLType] = [:]
    var maxParameter = 0
    var minResolvedDepth = Int.max
    var namedWindows: [String: WindowSpec] = [:]
    var viewDepth = 0
    let constantContext = EvalContext(params: [], statementTime: 0)

    init(catalog: Catalog, temporal: [TemporalClause: (TableVersion, Catalog)] = [:], parameterTypes: [Int: SQLType] = [:]) {
        self.catalog = catalog
        self.temporal = temporal
        self.parameterTypes = parameterTypes
    }

    func addSubquery(_ s: SubqueryPlan) -> Int {
        subqueries.append(s)
        return subqueries.count - 1
    }

    /// Plans a whole query for execution.
    func prepare(_ q: SelectStatement) throws -> PreparedQuery {
        let (plan, cols) = try planQuery(q, nil)
        return PreparedQuery(plan: plan, columns: cols, subqueries: subqueries, ctes: ctes)
    }

    func planSubquery(_ q: SelectStatement, _ scope: Scope) throws -> (Plan, [ResultColumn], Bool) {
        let saved = minResolvedDepth
        minResolvedDepth = Int.max
        let (plan, cols) = try planQuery(q, scope)
        let correlated = minResolvedDepth <= scope.depth
        minResolvedDepth = min(saved, minResolvedDepth)
        return (plan, cols, correlated)
    }

    func planQuery(_ q: SelectStatement, _ parent: Scope?) throws -> (Plan, [ResultColumn]) {
        var frame: [String: (Int, [ResultColumn])] = [:]
        cteFrames.append(frame)
        defer { cteFrames.removeLast() }
        for cte in q.with {
            if frame[cte.name] != nil { throw SQLError(SQLError.duplicateTable, "WITH query name \"\(cte.name)\" specified more than once") }
            if q.recursive && references(cte.query, cte.name) {
                let (index, cols) = try planRecursive(cte, parent, &frame)
                frame[cte.name] = (index, cols)
                cteFrames[cteFrames.count - 1] = frame
                continue
            }
            var (plan, cols) = try planQuery(cte.query, parent)
            if !cte.columns.isEmpty {
                guard cte.columns.count <= cols.count else {
                    throw SQLError(SQLError.invalidColumnReference, "WITH query \"\(cte.name)\" has \(cols.count) columns available but \(cte.columns.count) columns specified")
                }
                for (i, n) in cte.columns.enumerated() { cols[i].name = n }
            }
            ctes.append(plan)
            frame[cte.name] = (ctes.count - 1, cols)
            cteFrames[cteFrames.count - 1] = frame
        }
        var plan: Plan
        var cols: [ResultColumn]
        if case .select(let core) = q.body {
            (plan, cols) = try planCore(core, orderBy: q.orderBy, parent)
        } else {
            (plan, cols) = try planSetExpr(q.body, parent)
            if !q.orderBy.isEmpty {
                let scope = Scope(parent: parent)
                scope.add("", cols)
                var keys: [SortKey] = []
                for o in q.orderBy {
                    let e: BExpr
                    if case .literal(.int(let k)) = o.expr {
                        guard k >= 1 && Int(k) <= cols.count else {
                            throw SQLError(SQLError.invalidColumnReference, "ORDER BY position \(k) is not in select list")
                        }
                        e = .column(Int(k) - 1)
                    } else {
                        e = try bind(o.expr, scope).0
                    }
                    keys.append(SortKey(expr: e, descending: o.descending, nullsFirst: o.nullsFirst ?? o.descending))
                }
                plan = .sort(plan, keys)
            }
        }
        if q.limit != nil || q.offset != nil {
            let scope = Scope(parent: parent)
            let limit = try q.limit.map { try coerce(try bind($0, scope).0, .bigint, to: .bigint, "LIMIT") }
            let offset = try q.offset.map { try coerce(try bind($0, scope).0, .bigint, to: .bigint, "OFFSET") }
            plan = .limit(plan, limit: limit, offset: offset)
        }
        return (plan, cols)
    }

    /// Plans `WITH RECURSIVE name AS (anchor UNION [ALL] step)`.
    func planRecursive(_ cte: CommonTableExpression, _ parent: Scope?, _ frame: inout [String: (Int, [ResultColumn])]) throws -> (Int, [ResultColumn]) {
        guard case .setOperation(.union, let all, let anchorExpr, let stepExpr) = cte.query.body, cte.query.orderBy.isEmpty,
            cte.query.limit == nil, cte.query.offset == nil
        else {
            throw SQLError(SQLError.invalidRecursion, "recursive query \"\(cte.name)\" does not have the form non-recursive-term UNION [ALL] recursive-term")
        }
        var (anchor, cols) = try planSetExpr(anchorExpr, parent)
        if !cte.columns.isEmpty {
            guard cte.columns.count <= cols.count else {
                throw SQLError(SQLError.invalidColumnReference, "WITH query \"\(cte.name)\" has \(cols.count) columns available but \(cte.columns.count) columns specified")
            }
            for (i, n) in cte.columns.enumerated() { cols[i].name = n }
        }
        let working = ctes.count
        ctes.append(.values([], width: cols.count))
        frame[cte.name] = (working, cols)
        cteFrames[cteFrames.count - 1] = frame
        let (step, stepCols) = try planSetExpr(stepExpr, parent)
        guard stepCols.count == cols.count else {
            throw SQLError(SQLError.syntaxError, "each UNION query must have the same number of columns")
        }
        var casts: [BExpr] = []
        for i in 0..<cols.count {
            if cols[i].type == .unknown { cols[i].type = .text }
            casts.append(try coerce(.column(i), stepCols[i].type, to: cols[i].type, "recursive query"))
        }
        let castStep = casts.enumerated().allSatisfy { $0.element == .column($0.offset) } ? step : Plan.project(step, casts)
        ctes.append(.recursiveUnion(anchor: anchor, step: castStep, working: working, all: all))
        return (ctes.count - 1, cols)
    }

    func references(_ q: SelectStatement, _ name: String) -> Bool {
        func inSet(_ s: SetExpr) -> Bool {
            switch s {
            case .select(let core): return core.from.contains { inRef($0) }
            case .values: return false
            case .setOperation(_, _, let a, let b): return inSet(a) || inSet(b)
            case .query(let q): return references(q, name)
            }
        }
        func inRef(_ r: TableRef) -> Bool {
            switch r {
            case .table(let n, _, _, _): return n == name
            case .subquery(let q, _, _): return references(q, name)
            case .function: return false
            case .join(_, let a, let b, _, _, _): return inRef(a) || inRef(b)
            }
        }
        return inSet(q.body)
    }

    func planSetExpr(_ s: SetExpr, _ parent: Scope?) throws -> (Plan, [ResultColumn]) {
        switch s {
        case .select(let core): return try planCore(core, orderBy: [], parent)
        case .query(let q): return try planQuery(q, parent)
        case .values(let rows):
            let scope = Scope(parent: parent)
            var bound: [[(BExpr, SQLType)]] = []
            for r in rows {
                guard r.count == rows[0].count else { throw SQLError(SQLError.syntaxError, "VALUES lists must all be the same length") }
                bound.append(try r.map { try bind($0, scope) })
            }
            var cols: [ResultColumn] = []
            for i in 0..<rows[0].count {
                var t = try unify(bound.map { $0[i].1 }, "VALUES")
                if t == .unknown { t = .text }
                cols.append(ResultColumn(name: "column\(i + 1)", type: t))
            }
            let exprs = try bound.map { row in try row.enumerated().map { try coerce($0.element.0, $0.element.1, to: cols[$0.offset].type, "VALUES") } }
            return (.values(exprs, width: cols.count), cols)
        case .setOperation(let op, let all, let a, let b):
            let (pa, ca) = try planSetExpr(a, parent)
            let (pb, cb) = try planSetExpr(b, parent)
            guard ca.count == cb.count else {
                throw SQLError(SQLError.syntaxError, "each \(op.rawValue.uppercased()) query must have the same number of columns")
            }
            var cols = ca
            var castA: [BExpr] = []
            var castB: [BExpr] = []
            var needCast = false
            for i in 0..<ca.count {
                var t = try unify([ca[i].type, cb[i].type], op.rawValue.uppercased())
                if t == .unknown { t = .text }
                cols[i].type = t
                castA.append(try coerce(.column(i), ca[i].type, to: t, op.rawValue))
                castB.append(try coerce(.column(i), cb[i].type, to: t, op.rawValue))
                if ca[i].type != t || cb[i].type != t { needCast = true }
            }
            let left = needCast ? Plan.project(pa, castA) : pa
            let right = needCast ? Plan.project(pb, castB) : pb
            return (.setOperation(op, all: all, left, right), cols)
        }
    }

    /// A column's name as PostgreSQL derives it from the expression.
    func derivedName(_ e: Expr) -> String {
        switch e {
        case .column(_, let n): return n
        case .function(let c):
            switch c.name {
            case "substr": return "substring"
            case Parser.arrayFunction, Parser.arrayQueryFunction: return "array"
            case Parser.subscriptFunction: return c.args.first.map(derivedName) ?? "?column?"
            default: return c.name
            }
        case .cast(let inner, let t):
            if case .column = inner { return derivedName(inner) }
            if let lookup = t.lookup { return lookup.rawValue }
            switch t.type {
            case .integer: return "int4"
            case .bigint: return "int8"
            case .smallint: return "int2"
            case .double: return "float8"
            case .real: return "float4"
            case .boolean: return "bool"
            case .text: return t.modifiers.isEmpty ? "text" : "varchar"
            default: return t.type.rawValue
            }
        case .caseWhen: return "case"
        case .exists: return "exists"
        case .subquery(let q):
            if case .select(let core) = q.body, core.items.count == 1, case .expr(let inner, let alias) = core.items[0] {
                return alias ?? derivedName(inner)
            }
            return "?column?"
        case .literal(.bool): return "bool"
        case .typedString(let t, _): return t.rawValue
        default: return "?column?"
        }
    }

    func planCore(_ core: SelectCore, orderBy: [OrderItem], _ parent: Scope?) throws -> (Plan, [ResultColumn]) {
        let scope = Scope(parent: parent)
        var plan = try planFrom(core.from, core.whereClause, scope)
        namedWindows = core.windows

        // The select list, with * expanded.
        var items: [(Expr, String)] = []
        for item in core.items {
            switch item {
            case .star(let table):
                var found = false
                for rel in scope.relations where table == nil || rel.name == table {
                    found = true
                    for (i, c) in rel.columns.enumerated() where !rel.hiddenFromStar.contains(i) {
                        items.append((.column(table: rel.name, name: c.name), c.name))
                    }
                }
                if !found {
                    if let table { throw SQLError(SQLError.undefinedTable, "missing FROM-clause entry for table \"\(table)\"") }
                    throw SQLError(SQLError.syntaxError, "SELECT * with no tables specified is not valid")
                }
            case .expr(let e, let alias):
                items.append((e, alias ?? derivedName(e)))
            }
        }

        let aggregating = !core.groupBy.isEmpty || core.having != nil || items.contains { containsAggregate($0.0) }
            || orderBy.contains { containsAggregate($0.expr) }
        var agg: AggregationState? = nil
        if aggregating {
            var groups: [BExpr] = []
            var types: [SQLType] = []
            for g in core.groupBy {
                var e = g
                if case .literal(.int(let k)) = g {
                    guard k >= 1 && Int(k) <= items.count else {
                        throw SQLError(SQLError.invalidColumnReference, "GROUP BY position \(k) is not in select list")
                    }
                    e = items[Int(k) - 1].0
                } else if case .column(nil, let name) = g, (try? scope.lookup(table: nil, name: name)) == nil,
                    let item = items.first(where: { $0.1 == name })
                {
                    e = item.0
                }
                if containsAggregate(e) { throw SQLError(SQLError.groupingError, "aggregate functions are not allowed in GROUP BY") }
                let (b, t) = try bind(e, scope)
                if !groups.contains(b) {
                    groups.append(b)
                    types.append(t)
                }
            }
            agg = AggregationState(groups: groups, groupTypes: types)
            scope.aggregation = agg
        }
        scope.windows = WindowState()

        var bound: [BExpr] = []
        var cols: [ResultColumn] = []
        for (e, name) in items {
            let (b, t) = try bind(e, scope)
            bound.append(b)
            cols.append(ResultColumn(name: name, type: t == .unknown ? .text : t))
            if t == .unknown, case .const(let v) = b { bound[bound.count - 1] = .const(try Cast.cast(v, to: .text, length: nil, explicit: true)) }
        }
        var having: BExpr? = nil
        if let h = core.having {
            scope.windows = nil
            let (b, t) = try bind(h, scope)
            having = try coerce(b, t, to: .boolean, "argument of HAVING")
            scope.windows = WindowState()
        }

        // ORDER BY: output positions, output names, select-list expressions, or extra keys.
        var extras: [BExpr] = []
        var keys: [SortKey] = []
        for o in orderBy {
            var position: Int? = nil
            if case .literal(.int(let k)) = o.expr {
                guard k >= 1 && Int(k) <= items.count else {
                    throw SQLError(SQLError.invalidColumnReference, "ORDER BY position \(k) is not in select list")
                }
                position = Int(k) - 1
            } else if case .column(nil, let name) = o.expr, let i = items.firstIndex(where: { $0.1 == name }),
                items.filter({ $0.1 == name }).count == 1 || (try? scope.lookup(table: nil, name: name)) == nil
            {
                position = i
            } else if let i = items.firstIndex(where: { $0.0 == o.expr }) {
                position = i
            }
            if position == nil {
                let (b, _) = try bind(o.expr, scope)
                if let i = bound.firstIndex(of: b) {
                    position = i
                } else {
                    if core.distinct && core.distinctOn.isEmpty {
                        throw SQLError(SQLError.invalidColumnReference, "for SELECT DISTINCT, ORDER BY expressions must appear in select list")
                    }
                    extras.append(b)
                    position = items.count + extras.count - 1
                }
            }
            keys.append(SortKey(expr: .column(position!), descending: o.descending, nullsFirst: o.nullsFirst ?? o.descending))
        }
        var distinctKeys: [BExpr]? = nil
        if !core.distinctOn.isEmpty {
            var ks: [BExpr] = []
            for d in core.distinctOn {
                let (b, _) = try bind(d, scope)
                if let i = bound.firstIndex(of: b) {
                    ks.append(.column(i))
                } else {
                    extras.append(b)
                    ks.append(.column(items.count + extras.count - 1))
                }
            }
            distinctKeys = ks
        }

        if let agg {
            plan = .aggregate(plan, groups: agg.groups, aggregates: agg.aggregates)
            if let having { plan = .filter(plan, having) }
        }
        var projection = bound + extras
        if let ws = scope.windows, !ws.calls.isEmpty {
            let base = agg.map { $0.groups.count + $0.aggregates.count } ?? scope.width
            let shift: (Int) -> Int = { $0 >= Planner.windowBase ? base + ($0 - Planner.windowBase) : $0 }
            plan = .window(plan, ws.calls)
            projection = projection.map { $0.mapColumns(shift) }
        }
        plan = .project(plan, projection)
        if let distinctKeys {
            if keys.isEmpty { keys = distinctKeys.map { SortKey(expr: $0, descending: false, nullsFirst: false) } }
            plan = .sort(plan, keys)
            plan = .distinct(plan, on: distinctKeys)
        } else {
            if core.distinct { plan = .distinct(plan, on: nil) }
            if !keys.isEmpty { plan = .sort(plan, keys) }
        }
        if !extras.isEmpty { plan = .project(plan, (0..<items.count).map { .column($0) }) }
        return (plan, cols)
    }
}
