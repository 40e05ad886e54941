import FoundationEssentials
import StrataEngine

extension Planner {
    /// A FROM item after its relations were added to the scope.
    indirect enum FromNode {
        case leaf(Leaf)
        case outer(JoinKind, FromNode, FromNode, on: Expr?, using: [String])
    }

    struct Leaf {
        enum Source {
            case table(TableInfo, TableVersion)
            case query(Plan)
            case cte(Int)
            case series(BExpr, BExpr, BExpr?)
            case unnest(BExpr, element: SQLType, ordinality: Bool)
        }
        var source: Source
        var offset: Int
        var width: Int
        var relation: Int
    }

    static let systemColumns = ["_version", "_valid_from", "_valid_to", "_op"]

    /// Plans the FROM clause and WHERE conditions; rows come out laid out as `scope` says.
    func planFrom(_ items: [TableRef], _ whereClause: Expr?, _ scope: Scope) throws -> Plan {
        if items.isEmpty {
            guard let w = whereClause else { return .oneRow }
            let (b, t) = try bind(w, scope)
            return .filter(.oneRow, try coerce(b, t, to: .boolean, "argument of WHERE"))
        }
        var units: [FromNode] = []
        var ons: [Expr] = []
        for item in items { try register(item, scope, &units, &ons) }
        var conjuncts: [Expr] = []
        if let w = whereClause { split(w, &conjuncts) }
        for o in ons { split(o, &conjuncts) }
        var bound: [BExpr] = []
        for c in conjuncts {
            if containsAggregate(c) { throw SQLError(SQLError.groupingError, "aggregate functions are not allowed in WHERE") }
            let (b, t) = try bind(c, scope)
            bound.append(try coerce(b, t, to: .boolean, "argument of WHERE"))
        }
        return try join(units, bound, scope)
    }

    func split(_ e: Expr, _ out: inout [Expr]) {
        if case .binary("and", let a, let b) = e {
            split(a, &out)
            split(b, &out)
        } else {
            out.append(e)
        }
    }

    func splitBound(_ e: BExpr, _ out: inout [BExpr]) {
        if case .and(let a, let b) = e {
            splitBound(a, &out)
            splitBound(b, &out)
        } else {
            out.append(e)
        }
    }

    /// Adds the relations of `ref` to the scope; inner joins become separate units.
    func register(_ ref: TableRef, _ scope: Scope, _ units: inout [FromNode], _ ons: inout [Expr]) throws {
        switch ref {
        case .join(let kind, let a, let b, let on, let using, let natural):
            if kind == .inner || kind == .cross {
                let before = scope.relations.count
                try register(a, scope, &units, &ons)
                let middle = scope.relations.count
                try register(b, scope, &units, &ons)
                if let on { ons.append(on) }
                for c in try joinColumns(scope, before..<middle, middle..<scope.relations.count, using, natural) { ons.append(c) }
            } else {
                var left: [FromNode] = []
                var right: [FromNode] = []
                var leftOns: [Expr] = []
                var rightOns: [Expr] = []
                let before = scope.relations.count
                try register(a, scope, &left, &leftOns)
                let middle = scope.relations.count
                try register(b, scope, &right, &rightOns)
                guard left.count == 1, right.count == 1, leftOns.isEmpty, rightOns.isEmpty else {
                    throw SQLError(SQLError.featureNotSupported, "outer joins of inner joins need parentheses-free nesting; not supported yet")
                }
                var on = on
                for c in try joinColumns(scope, before..<middle, middle..<scope.relations.count, using, natural) {
                    on = on.map { .binary("and", $0, c) } ?? c
                }
                units.append(.outer(kind, left[0], right[0], on: on, using: []))
            }
        case .table(let name, let alias, let columnAliases, let temporal):
            try registerTable(name, alias, columnAliases, temporal, scope, &units)
        case .subquery(let q, let alias, let columnAliases):
            let (plan, cols) = try planQuery(q, scope.parent)
            try addLeaf(.query(plan), alias ?? "subquery", try rename(cols, columnAliases, alias ?? "subquery"), scope, &units)
        case .function(let call, let alias, let columnAliases, let ordinality):
            if call.name == "unnest" || call.name == "pg_partition_ancestors" {
                try registerUnnest(call, alias, columnAliases, ordinality, scope, &units)
                return
            }
            if ordinality { throw SQLError(SQLError.featureNotSupported, "WITH ORDINALITY is supported for unnest only") }
            guard call.name == "generate_series", (2...3).contains(call.args.count) else {
                throw SQLError(SQLError.undefinedFunction, "function \(call.name) is not a set-returning function")
            }
            let empty = Scope(parent: scope.parent)
            let args = try call.args.map { try coerce(try bind($0, empty).0, .bigint, to: .bigint, "generate_series") }
            let name = alias ?? "generate_series"
            let cols = try rename([ResultColumn(name: "generate_series", type: .bigint)], columnAliases, name)
            try addLeaf(.series(args[0], args[1], args.count > 2 ? args[2] : nil), name, cols.count == 1 && columnAliases.isEmpty && alias != nil ? [ResultColumn(name: name, type: .bigint)] : cols, scope, &units)
        }
    }

    /// Equality conditions for `USING (cols)` or NATURAL joins.
    func joinColumns(_ scope: Scope, _ left: Range<Int>, _ right: Range<Int>, _ using: [String], _ natural: Bool) throws -> [Expr] {
        var names = using
        if natural {
            let l = Set(scope.relations[left].flatMap { $0.columns.map(\.name) })
            names = scope.relations[right].flatMap { $0.columns.map(\.name) }.filter { l.contains($0) }
        }
        var out: [Expr] = []
        for n in names {
            guard let lr = scope.relations[left].last(where: { $0.columns.contains { $0.name == n } }),
                let rr = scope.relations[right].first(where: { $0.columns.contains { $0.name == n } })
            else {
                throw SQLError(SQLError.undefinedColumn, "column \"\(n)\" specified in USING clause does not exist in both tables")
            }
            out.append(.binary("=", .column(table: lr.name, name: n), .column(table: rr.name, name: n)))
        }
        return out
    }

    func rename(_ cols: [ResultColumn], _ aliases: [String], _ name: String) throws -> [ResultColumn] {
        guard aliases.count <= cols.count else {
            throw SQLError(SQLError.invalidColumnReference, "table \"\(name)\" has \(cols.count) columns available but \(aliases.count) columns specified")
        }
        var out = cols
        for (i, a) in aliases.enumerated() { out[i].name = a }
        return out
    }

    func addLeaf(_ source: Leaf.Source, _ name: String, _ cols: [ResultColumn], _ scope: Scope, _ units: inout [FromNode]) throws {
        if scope.relations.contains(where: { $0.name == name }) {
            throw SQLError(SQLError.duplicateAlias, "table name \"\(name)\" specified more than once")
        }
        let offset = scope.add(name, cols)
        units.append(.leaf(Leaf(source: source, offset: offset, width: cols.count, relation: scope.relations.count - 1)))
    }

    func registerTable(_ name: String, _ alias: String?, _ columnAliases: [String], _ temporal: TemporalClause?, _ scope: Scope, _ units: inout [FromNode]) throws {
        if temporal == nil {
            for frame in cteFrames.reversed() {
                if let (index, cols) = frame[name] {
                    try addLeaf(.cte(index), alias ?? name, try rename(cols, columnAliases, alias ?? name), scope, &units)
                    return
                }
            }
        }
        var version = TableVersion.current
        var cat = catalog
        if let temporal {
            guard let resolved = self.temporal[temporal] else {
                throw SQLError(SQLError.internalError, "time travel clause was not resolved")
            }
            (version, cat) = resolved
        }
        if try registerSystemRelation(name, cat, alias, columnAliases, scope, &units) { return }
        if let view = cat.views[name] {
            viewDepth += 1
            defer { viewDepth -= 1 }
            guard viewDepth < 32 else { throw SQLError(SQLError.programLimitExceeded, "views nest too deeply") }
            guard case .select(let q) = try Parser.parseOne(view.sql) else {
                throw SQLError(EngineError.corrupt, "view \"\(name)\" does not hold a query")
            }
            let sub = Planner(catalog: cat, temporal: self.temporal, parameterTypes: [:])
            sub.viewDepth = viewDepth
            let (plan, cols) = try sub.planQuery(q, nil)
            let base = subqueries.count
            subqueries.append(contentsOf: sub.subqueries)
            let cteBase = ctes.count
            ctes.append(contentsOf: sub.ctes)
            var named = cols
            for (i, n) in view.columns.enumerated() where i < named.count { named[i].name = n }
            let shifted = base == 0 && cteBase == 0 ? plan : Planner.shift(plan, subqueries: base, ctes: cteBase)
            try addLeaf(.query(shifted), alias ?? name, try rename(named, columnAliases, alias ?? name), scope, &units)
            return
        }
        guard let table = cat.tables[name] else {
            throw SQLError(SQLError.undefinedTable, "relation \"\(name)\" does not exist")
        }
        var cols = table.visibleColumns.map { ResultColumn(name: table.columns[$0].name, type: table.columns[$0].type) }
        if case .history = version {
            cols += [ResultColumn(name: "_version", type: .bigint), ResultColumn(name: "_valid_from", type: .timestamptz),
                     ResultColumn(name: "_valid_to", type: .timestamptz), ResultColumn(name: "_op", type: .text)]
        }
        try addLeaf(.table(table, version), alias ?? name, try rename(cols, columnAliases, alias ?? name), scope, &units)
    }

    // MARK: Joining

    /// The relations a bound condition reads (nil when it holds subqueries: apply it last).
    func relations(of e: BExpr, _ scope: Scope) -> Set<Int>? {
        var subs = Set<Int>()
        e.subqueries(into: &subs)
        if !subs.isEmpty { return nil }
        var cols = Set<Int>()
        e.columns(into: &cols)
        return Set(cols.compactMap { scope.relation(ofSlot: $0) })
    }

    func relations(of node: FromNode) -> Set<Int> {
        switch node {
        case .leaf(let l): return [l.relation]
        case .outer(_, let a, let b, _, _): return relations(of: a).union(relations(of: b))
        }
    }

    func slots(of node: FromNode) -> [Range<Int>] {
        switch node {
        case .leaf(let l): return [l.offset..<(l.offset + l.width)]
        case .outer(_, let a, let b, _, _): return slots(of: a) + slots(of: b)
        }
    }

    /// Joins units greedily: each step adds a unit connected to those joined so far by an
    /// equality (a hash join), falling back to the next unit in FROM order.
    func join(_ units: [FromNode], _ conjuncts: [BExpr], _ scope: Scope) throws -> Plan {
        var pending: [(BExpr, Set<Int>?)] = conjuncts.map { ($0, relations(of: $0, scope)) }
        var remaining = units
        func take(_ unitRels: Set<Int>) -> [BExpr] {
            var out: [BExpr] = []
            pending.removeAll { c in
                if let r = c.1, r.isSubset(of: unitRels) {
                    out.append(c.0)
                    return true
                }
                return false
            }
            return out
        }
        // Conditions on no relation at all (constants) go to the first unit.
        let first = remaining.removeFirst()
        var covered = relations(of: first)
        var constant: [BExpr] = []
        pending.removeAll { c in
            if let r = c.1, r.isEmpty {
                constant.append(c.0)
                return true
            }
            return false
        }
        var plan = try planUnit(first, take(covered) + constant, scope)
        while !remaining.isEmpty {
            var pick = 0
            search: for (i, u) in remaining.enumerated() {
                let ur = relations(of: u)
                for c in pending {
                    guard let r = c.1, !r.isDisjoint(with: ur), !r.isDisjoint(with: covered), r.isSubset(of: covered.union(ur)) else { continue }
                    if case .compare(.eq, _, _) = c.0 {
                        pick = i
                        break search
                    }
                }
            }
            let unit = remaining.remove(at: pick)
            let ur = relations(of: unit)
            let right = try planUnit(unit, take(ur), scope)
            let both = covered.union(ur)
            let (leftKeys, rightKeys, residual) = splitJoinConditions(take(both), left: covered, right: ur, scope)
            var spec = JoinSpec(kind: .inner, left: plan, right: right, leftKeys: leftKeys, rightKeys: rightKeys,
                                residual: conjunction(residual), rightSlots: slots(of: unit))
            spec.lookup = lookup(unit, right, leftKeys, rightKeys)
            plan = .join(spec)
            covered = both
        }
        if !pending.isEmpty {
            plan = .filter(plan, conjunction(pending.map(\.0))!)
        }
        return plan
    }

    /// Splits join conditions into hash-join keys (equalities with one side on each input,
    /// left side first) and the rest.
    func splitJoinConditions(_ conds: [BExpr], left: Set<Int>, right: Set<Int>, _ scope: Scope) -> (leftKeys: [BExpr], rightKeys: [BExpr], residual: [BExpr]) {
        var leftKeys: [BExpr] = []
        var rightKeys: [BExpr] = []
        var residual: [BExpr] = []
        for c in conds {
            if case .compare(.eq, let a, let b) = c, let ra = relations(of: a, scope), let rb = relations(of: b, scope), !ra.isEmpty, !rb.isEmpty {
                if ra.isSubset(of: left) && rb.isSubset(of: right) {
                    leftKeys.append(a)
                    rightKeys.append(b)
                    continue
                }
                if rb.isSubset(of: left) && ra.isSubset(of: right) {
                    leftKeys.append(b)
                    rightKeys.append(a)
                    continue
                }
            }
            residual.append(c)
        }
        return (leftKeys, rightKeys, residual)
    }

    /// An index lookup for joining `unit` when equalities bind its whole primary key.
    func lookup(_ unit: FromNode, _ right: Plan, _ leftKeys: [BExpr], _ rightKeys: [BExpr]) -> IndexLookup? {
        guard case .leaf(let leaf) = unit, case .table(let table, .current) = leaf.source, !table.primaryKey.isEmpty,
            case .scan(let scan) = right, case .full = scan.access
        else { return nil }
        let visible = table.visibleColumns
        var keys: [BExpr] = []
        for pk in table.primaryKey {
            guard let pos = visible.firstIndex(of: pk),
                let i = rightKeys.firstIndex(of: .column(leaf.offset + pos))
            else { return nil }
            keys.append(leftKeys[i])
        }
        return IndexLookup(scan: scan, keys: keys)
    }

    func conjunction(_ list: [BExpr]) -> BExpr? {
        guard var e = list.first else { return nil }
        for x in list.dropFirst() { e = .and(e, x) }
        return e
    }

    func planUnit(_ unit: FromNode, _ conds: [BExpr], _ scope: Scope) throws -> Plan {
        switch unit {
        case .leaf(let leaf):
            return try planLeaf(leaf, conds, scope)
        case .outer(let kind, let a, let b, let on, _):
            let ra = relations(of: a)
            let rb = relations(of: b)
            var onConds: [BExpr] = []
            if let on {
                var parts: [Expr] = []
                split(on, &parts)
                for p in parts {
                    let (x, t) = try bind(p, scope)
                    onConds.append(try coerce(x, t, to: .boolean, "argument of JOIN/ON"))
                }
            }
            var leftPush: [BExpr] = []
            var rightPush: [BExpr] = []
            var rest: [BExpr] = []
            for c in onConds {
                let r = relations(of: c, scope)
                if kind == .left, let r, !r.isEmpty, r.isSubset(of: rb) {
                    rightPush.append(c)
                } else if kind == .right, let r, !r.isEmpty, r.isSubset(of: ra) {
                    leftPush.append(c)
                } else {
                    rest.append(c)
                }
            }
            let left = try planUnit(a, leftPush, scope)
            let right = try planUnit(b, rightPush, scope)
            let (leftKeys, rightKeys, residual) = splitJoinConditions(rest, left: ra, right: rb, scope)
            var plan = Plan.join(JoinSpec(kind: kind, left: left, right: right, leftKeys: leftKeys, rightKeys: rightKeys,
                                          residual: conjunction(residual), rightSlots: slots(of: b)))
            if let f = conjunction(conds) { plan = .filter(plan, f) }
            return plan
        }
    }

    func planLeaf(_ leaf: Leaf, _ conds: [BExpr], _ scope: Scope) throws -> Plan {
        let filter = conjunction(conds)
        switch leaf.source {
        case .table(let table, let version):
            var spec = ScanSpec(table: table, version: version, offset: leaf.offset, width: scope.width, access: .full, filter: filter)
            if case .history = version {} else {
                let (path, remaining) = accessPathAndFilter(table, leaf.offset, conds)
                spec.access = path
                spec.filter = conjunction(remaining)
            }
            return .scan(spec)
        case .query(let plan):
            let placed = Plan.place(plan, offset: leaf.offset, width: scope.width)
            return filter.map { .filter(placed, $0) } ?? placed
        case .cte(let i):
            let placed = Plan.place(.cteScan(i), offset: leaf.offset, width: scope.width)
            return filter.map { .filter(placed, $0) } ?? placed
        case .series(let a, let b, let c):
            let placed = Plan.place(.series(a, b, c), offset: leaf.offset, width: scope.width)
            return filter.map { .filter(placed, $0) } ?? placed
        case .unnest(let a, let element, let ordinality):
            let placed = Plan.place(.unnest(a, element: element, ordinality: ordinality), offset: leaf.offset, width: scope.width)
            return filter.map { .filter(placed, $0) } ?? placed
        }
    }

    /// Chooses point reads or a key range from conditions on key and index columns.
    func accessPath(_ table: TableInfo, _ offset: Int, _ conds: [BExpr]) -> AccessPath {
        accessPathAndFilter(table, offset, conds).0
    }

    /// The access path for `conds`, and the conditions still to test on each row read:
    /// comparisons on integer key columns that the keys read already guarantee are dropped.
    func accessPathAndFilter(_ table: TableInfo, _ offset: Int, _ conds: [BExpr]) -> (AccessPath, [BExpr]) {
        let visible = table.visibleColumns
        // Constraints per physical column: equalities, IN lists, bounds.
        var eq: [Int: BExpr] = [:]
        var inLists: [Int: [BExpr]] = [:]
        var lows: [Int: (BExpr, Bool)] = [:]
        var highs: [Int: (BExpr, Bool)] = [:]
        func physical(_ e: BExpr) -> Int? {
            guard case .column(let slot) = e, slot >= offset, slot < offset + visible.count else { return nil }
            return visible[slot - offset]
        }
        var all: [BExpr] = []
        for c in conds { splitBound(c, &all) }
        // Which conjunct of `all` each constraint came from.
        var eqFrom: [Int: Int] = [:]
        var inFrom: [Int: Int] = [:]
        var lowFrom: [Int: Int] = [:]
        var highFrom: [Int: Int] = [:]
        for (n, c) in all.enumerated() {
            switch c {
            case .compare(let op, let a, let b):
                var col = physical(a)
                var other = b
                var op2 = op
                if col == nil, let pb = physical(b) {
                    col = pb
                    other = a
                    op2 = op.flipped
                }
                guard let col, other.isRowIndependent, keyTypeMatches(table.columns[col].type, other) else { continue }
                switch op2 {
                case .eq: (eq[col], eqFrom[col]) = (other, n)
                case .gt: (lows[col], lowFrom[col]) = ((other, false), n)
                case .ge: (lows[col], lowFrom[col]) = ((other, true), n)
                case .lt: (highs[col], highFrom[col]) = ((other, false), n)
                case .le: (highs[col], highFrom[col]) = ((other, true), n)
                case .ne: break
                }
            case .inList(let a, let list, negated: false):
                if let col = physical(a), list.allSatisfy({ $0.isRowIndependent && keyTypeMatches(table.columns[col].type, $0) }) {
                    inLists[col] = list
                    inFrom[col] = n
                }
            default: break
            }
        }
        // Candidate indexes: the primary key (0) and each secondary index.
        var candidates: [(UInt32, [Int], Bool)] = []
        if !table.primaryKey.isEmpty { candidates.append((0, table.primaryKey, true)) }
        for idx in table.indexes { candidates.append((idx.id, idx.columns, idx.unique)) }
        var best: (score: Int, path: AccessPath, used: [Int?]) = (0, .full, [])
        for (id, cols, unique) in candidates {
            var prefix: [BExpr] = []
            var used: [Int?] = []
            for c in cols {
                guard let e = eq[c] else { break }
                prefix.append(e)
                used.append(eqFrom[c])
            }
            if prefix.count == cols.count {
                let score = (id == 0 || unique) ? 1000 : 500 + prefix.count
                if score > best.score { best = (score, id == 0 ? .points(index: 0, [prefix]) : .range(index: id, prefix: prefix, low: nil, high: nil), used) }
                continue
            }
            let next = cols[prefix.count]
            if prefix.count == cols.count - 1, id == 0, let list = inLists[next] {
                let score = 900
                if score > best.score { best = (score, .points(index: 0, list.map { prefix + [$0] }), used + [inFrom[next]]) }
                continue
            }
            let low = lows[next]
            let high = highs[next]
            if !prefix.isEmpty || low != nil || high != nil {
                let score = 100 + prefix.count * 10 + (low != nil ? 3 : 0) + (high != nil ? 3 : 0) + (id == 0 ? 1 : 0)
                if score > best.score {
                    best = (score, .range(index: id, prefix: prefix, low: low.map { ($0.0, inclusive: $0.1) }, high: high.map { ($0.0, inclusive: $0.1) }),
                            used + [low != nil ? lowFrom[next] : nil, high != nil ? highFrom[next] : nil])
                }
            }
        }
        // Integer keys compare exactly as their encodings do; other types (text collation,
        // -0.0 against 0.0) keep their conditions.
        var covered = Set<Int>()
        for n in best.used.compactMap({ $0 }) {
            guard case .compare(_, let a, let b) = all[n],
                  let col = physical(a) ?? physical(b), table.columns[col].type.isInteger else { continue }
            covered.insert(n)
        }
        if covered.isEmpty { return (best.path, conds) }
        return (best.path, all.enumerated().filter { !covered.contains($0.offset) }.map(\.element))
    }

    /// True when a value of `e`'s type can be looked up in a key column of `type` directly.
    func keyTypeMatches(_ type: SQLType, _ e: BExpr) -> Bool {
        switch e {
        case .const(let v):
            switch (type, v) {
            case (_, .null): return true
            case (.smallint, .int), (.integer, .int), (.bigint, .int): return true
            case (.double, .double), (.real, .double): return true
            case (.text, .text), (.boolean, .bool), (.date, .date), (.timestamp, .timestamp), (.timestamptz, .timestamptz), (.uuid, .uuid), (.bytea, .bytes):
                return true
            default: return false
            }
        case .cast(_, let t, _): return t == type || (t.isInteger && type.isInteger)
        case .param, .outer: return true
        default: return false
        }
    }

    /// A plan taken from another planner, with its subquery and CTE numbers moved up.
    static func shift(_ plan: Plan, subqueries: Int, ctes: Int) -> Plan {
        // Views are planned by a separate planner; their subquery indexes must not collide.
        // Re-plan-free shifting keeps the executor simple.
        func e(_ x: BExpr) -> BExpr { x.shiftSubqueries(by: subqueries) }
        func k(_ s: SortKey) -> SortKey { SortKey(expr: e(s.expr), descending: s.descending, nullsFirst: s.nullsFirst) }
        func p(_ x: Plan) -> Plan {
            switch x {
            case .scan(var s):
                s.filter = s.filter.map(e)
                return .scan(s)
            case .values(let rows, let w): return .values(rows.map { $0.map(e) }, width: w)
            case .oneRow: return x
            case .filter(let c, let f): return .filter(p(c), e(f))
            case .project(let c, let l): return .project(p(c), l.map(e))
            case .place(let c, let o, let w): return .place(p(c), offset: o, width: w)
            case .join(var j):
                j.left = p(j.left)
                j.right = p(j.right)
                j.leftKeys = j.leftKeys.map(e)
                j.rightKeys = j.rightKeys.map(e)
                j.residual = j.residual.map(e)
                return .join(j)
            case .aggregate(let c, let g, let a):
                return .aggregate(p(c), groups: g.map(e), aggregates: a.map { var s = $0; s.args = s.args.map(e); s.filter = s.filter.map(e); return s })
            case .window(let c, let calls): return .window(p(c), calls)
            case .sort(let c, let keys): return .sort(p(c), keys.map(k))
            case .limit(let c, let l, let o): return .limit(p(c), limit: l.map(e), offset: o.map(e))
            case .distinct(let c, let on): return .distinct(p(c), on: on?.map(e))
            case .setOperation(let op, let all, let a, let b): return .setOperation(op, all: all, p(a), p(b))
            case .cteScan(let i): return .cteScan(i + ctes)
            case .series(let a, let b, let c): return .series(e(a), e(b), c.map(e))
            case .unnest(let a, let element, let ordinality): return .unnest(e(a), element: element, ordinality: ordinality)
            case .recursiveUnion(let a, let b, let w, let all): return .recursiveUnion(anchor: p(a), step: p(b), working: w + ctes, all: all)
            }
        }
        return p(plan)
    }
}
