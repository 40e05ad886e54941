import FoundationEssentials
import StrataEngine

/// Where a statement reads the current state from: its transaction (tracking reads
/// for serializability and seeing its own writes) or a plain snapshot.
enum ReadSource {
    case transaction(Transaction)
    case snapshot(Snapshot)

    func get(_ key: [UInt8]) async throws -> [UInt8]? {
        switch self {
        case .transaction(let tx): try await tx.get(key)
        case .snapshot(let s): try await s.get(key)
        }
    }

    /// `get` answered from memory; nil when storage must be read (see ``Snapshot/cachedGet(_:)``).
    func cachedGet(_ key: [UInt8]) throws -> CachedRead? {
        switch self {
        case .transaction(let tx): try tx.cachedGet(key)
        case .snapshot(let s): try s.cachedGet(key)
        }
    }

    /// `cachedGet` for many keys, best ascending (see ``Snapshot/cachedGetMany(_:_:)``).
    func cachedGetMany(_ keys: [[UInt8]], _ body: (Int, CachedValue) throws -> Void) rethrows {
        switch self {
        case .transaction(let tx): try tx.cachedGetMany(keys, body)
        case .snapshot(let s): try s.cachedGetMany(keys, body)
        }
    }

    /// The committed state this source reads at (for estimates that need not be tracked).
    var snapshot: Snapshot {
        switch self {
        case .transaction(let tx): tx.snapshot
        case .snapshot(let s): s
        }
    }

    /// Calls `body` with each pair in `range` without copying, until it returns false.
    func forEachRaw(_ range: KeyRange, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) async throws {
        switch self {
        case .transaction(let tx): try await tx.forEach(range, body)
        case .snapshot(let s): try await s.forEach(range, body)
        }
    }

    func scan(_ range: KeyRange, reverse: Bool = false, limit: Int) async throws -> [KeyValue] {
        switch self {
        case .transaction(let tx): try await tx.scan(range, reverse: reverse, limit: limit)
        case .snapshot(let s): try await s.scan(range, reverse: reverse, limit: limit)
        }
    }

    /// Calls `body` for each pair in `range`, reading `chunk` pairs at a time (so a large
    /// range is never held whole, and `body` may write to the transaction between chunks).
    func forEach(in range: KeyRange, chunk: Int = 1024, _ body: ([UInt8], [UInt8]) async throws -> Void) async throws {
        var lower = range.lower
        while true {
            let pairs = try await scan(KeyRange(lower: lower, upper: range.upper), limit: chunk)
            for kv in pairs { try await body(kv.key, kv.value) }
            if pairs.count < chunk { return }
            lower = pairs[pairs.count - 1].key + [0]
            await Task.yield()
        }
    }
}

/// Runs plans. Each node produces all its rows; rows are arrays of values laid out as
/// the planner decided.
final class Executor {
    let source: ReadSource
    /// Snapshots for `AS OF` table references, by index.
    let snapshots: [Snapshot]
    let subqueries: [SubqueryPlan]
    let ctes: [Plan]
    let ctx: EvalContext
    var cteRows: [Int: [[SQLValue]]] = [:]
    var subqueryCache: [Int: [[SQLValue]]] = [:]
    /// The engine, for version history and commit timestamps.
    let engine: Engine

    init(engine: Engine, source: ReadSource, snapshots: [Snapshot], subqueries: [SubqueryPlan], ctes: [Plan], ctx: EvalContext) {
        self.engine = engine
        self.source = source
        self.snapshots = snapshots
        self.subqueries = subqueries
        self.ctes = ctes
        self.ctx = ctx
    }

    // MARK: Expressions with subqueries

    /// The subqueries `e` needs, including those inside the left operands of IN and
    /// ANY/ALL subqueries (which have lower numbers, so ascending order computes them first).
    func subqueryIndexes(_ e: BExpr) -> [Int] {
        if subqueries.isEmpty { return [] }  // most statements: no walk, no set
        var s = Set<Int>()
        e.subqueries(into: &s)
        var pending = Array(s)
        while let i = pending.popLast() {
            var inner = Set<Int>()
            switch subqueries[i].kind {
            case .inList(let lhs, _), .quantified(_, let lhs, _): lhs.subqueries(into: &inner)
            case .scalar, .exists: break
            }
            for j in inner where s.insert(j).inserted { pending.append(j) }
        }
        return s.sorted()
    }

    /// Evaluates `e` for `row`, first running the subqueries it uses.
    func eval(_ e: BExpr, _ row: [SQLValue], _ subs: [Int]) async throws -> SQLValue {
        if !subs.isEmpty { try await computeSubqueries(subs, row) }
        return try Evaluator.eval(e, row, ctx)
    }

    func test(_ e: BExpr, _ row: [SQLValue], _ subs: [Int]) async throws -> Bool {
        if case .bool(true) = try await eval(e, row, subs) { return true }
        return false
    }

    func computeSubqueries(_ subs: [Int], _ row: [SQLValue]) async throws {
        if ctx.subqueryValues.count < subqueries.count {
            ctx.subqueryValues += Array(repeating: .null, count: subqueries.count - ctx.subqueryValues.count)
        }
        for i in subs {
            try ctx.cancel?.check()
            let sq = subqueries[i]
            let rows: [[SQLValue]]
            if !sq.correlated, let cached = subqueryCache[i] {
                rows = cached
            } else {
                ctx.outer.append(row)
                defer { ctx.outer.removeLast() }
                rows = try await run(sq.plan)
                if !sq.correlated { subqueryCache[i] = rows }
            }
            switch sq.kind {
            case .scalar:
                if rows.count > 1 {
                    throw SQLError(SQLError.cardinalityViolation, "more than one row returned by a subquery used as an expression")
                }
                ctx.subqueryValues[i] = rows.first?.first ?? .null
            case .exists:
                ctx.subqueryValues[i] = .bool(!rows.isEmpty)
            case .inList(let lhs, let negated):
                if rows.isEmpty {
                    ctx.subqueryValues[i] = .bool(negated)
                    continue
                }
                let x = try Evaluator.eval(lhs, row, ctx)
                if x.isNull {
                    ctx.subqueryValues[i] = .null
                    continue
                }
                var result: SQLValue = .bool(negated)
                for r in rows {
                    let y = r[0]
                    if y.isNull {
                        result = .null
                    } else if try Evaluator.compare(x, y) == 0 {
                        result = .bool(!negated)
                        break
                    }
                }
                ctx.subqueryValues[i] = result
            case .quantified(let op, let lhs, let all):
                if rows.isEmpty {
                    ctx.subqueryValues[i] = .bool(all)
                    continue
                }
                let x = try Evaluator.eval(lhs, row, ctx)
                var sawNull = x.isNull
                var decided: Bool? = nil
                if !x.isNull {
                    for r in rows {
                        if r[0].isNull {
                            sawNull = true
                            continue
                        }
                        let holds = op.holds(try Evaluator.compare(x, r[0]))
                        if all && !holds {
                            decided = false
                            break
                        }
                        if !all && holds {
                            decided = true
                            break
                        }
                    }
                }
                if let decided {
                    ctx.subqueryValues[i] = .bool(decided)
                } else {
                    ctx.subqueryValues[i] = sawNull ? .null : .bool(all)
                }
            }
        }
    }

    // MARK: Plans

    func run(_ plan: Plan) async throws -> [[SQLValue]] {
        try ctx.cancel?.check()
        switch plan {
        case .oneRow:
            return [[]]
        case .values(let rows, _):
            var out: [[SQLValue]] = []
            for r in rows {
                var values: [SQLValue] = []
                for e in r { values.append(try await eval(e, [], subqueryIndexes(e))) }
                out.append(values)
            }
            return out
        case .scan, .filter, .project, .place, .limit, .aggregate:
            return try await collect(plan)
        case .join(let spec):
            return try await join(spec)
        case .window(let child, let calls):
            return try await Windowing.apply(calls, to: try await run(child), self)
        case .sort(let child, let keys):
            return try await sort(try await run(child), keys)
        case .distinct(let child, let on):
            let rows = try await run(child)
            var seen = Set<[SQLValue]>()
            var out: [[SQLValue]] = []
            for r in rows {
                let key = try on.map { try $0.map { try Evaluator.eval($0, r, ctx) } } ?? r
                if seen.insert(normalize(key)).inserted { out.append(r) }
            }
            return out
        case .setOperation(let op, let all, let a, let b):
            let left = try await run(a)
            let right = try await run(b)
            return setOperation(op, all, left, right)
        case .cteScan(let i):
            if let rows = cteRows[i] { return rows }
            let rows = try await run(ctes[i])
            cteRows[i] = rows
            return rows
        case .recursiveUnion(let anchor, let step, let working, let all):
            var result = try await run(anchor)
            var seen = Set<[SQLValue]>()
            if !all { result = result.filter { seen.insert(normalize($0)).inserted } }
            var frontier = result
            var rounds = 0
            while !frontier.isEmpty {
                rounds += 1
                guard rounds <= 1_000_000, result.count <= 50_000_000 else {
                    throw SQLError(SQLError.programLimitExceeded, "recursive query did not finish after \(rounds) rounds and \(result.count) rows")
                }
                cteRows[working] = frontier
                var next = try await run(step)
                if !all { next = next.filter { seen.insert(normalize($0)).inserted } }
                result += next
                frontier = next
                if rounds % 64 == 0 { await Task.yield() }
            }
            cteRows[working] = nil
            return result
        case .series(let a, let b, let c):
            guard case .int(let start) = try await eval(a, [], []), case .int(let stop) = try await eval(b, [], []) else { return [] }
            var step: Int64 = 1
            if let c, case .int(let s) = try await eval(c, [], []) { step = s }
            guard step != 0 else { throw SQLError(SQLError.invalidParameterValue, "step size cannot equal zero") }
            var out: [[SQLValue]] = []
            var v = start
            while step > 0 ? v <= stop : v >= stop {
                out.append([.int(v)])
                if out.count & 0xFFFF == 0 { try ctx.cancel?.check() }
                guard out.count <= 100_000_000 else { throw SQLError(SQLError.programLimitExceeded, "generate_series is too long") }
                let (n, o) = v.addingReportingOverflow(step)
                if o { break }
                v = n
            }
            return out
        case .unnest(let a, let element, let ordinality):
            guard let text = try await eval(a, [], []).text else { return [] }
            return try ArrayText.parse(text).enumerated().map { n, e in
                let v = try e.map { try Cast.cast(.text($0), to: element, length: nil, explicit: true) } ?? .null
                return ordinality ? [v, .int(Int64(n + 1))] : [v]
            }
        }
    }

    /// Values that compare equal hash equal (1 and 1.0 in one column after type unification).
    func normalize(_ key: [SQLValue]) -> [SQLValue] {
        if !key.contains(where: { if case .double(0) = $0 { true } else { false } }) { return key }
        return key.map(normalize)
    }

    func normalize(_ v: SQLValue) -> SQLValue { GroupTable.normalize(v) }

    func setOperation(_ op: SetOperator, _ all: Bool, _ left: [[SQLValue]], _ right: [[SQLValue]]) -> [[SQLValue]] {
        switch (op, all) {
        case (.union, true): return left + right
        case (.union, false):
            var seen = Set<[SQLValue]>()
            return (left + right).filter { seen.insert(normalize($0)).inserted }
        case (.intersect, _), (.except, _):
            var counts: [[SQLValue]: Int] = [:]
            for r in right { counts[normalize(r), default: 0] += 1 }
            var seen = Set<[SQLValue]>()
            var out: [[SQLValue]] = []
            for r in left {
                let k = normalize(r)
                let inRight = (counts[k] ?? 0) > 0
                if all {
                    if op == .intersect && inRight {
                        counts[k]! -= 1
                        out.append(r)
                    } else if op == .except {
                        if inRight { counts[k]! -= 1 } else { out.append(r) }
                    }
                } else if (op == .intersect) == inRight, seen.insert(k).inserted {
                    out.append(r)
                }
            }
            return out
        }
    }

    func sort(_ rows: [[SQLValue]], _ keys: [SortKey]) async throws -> [[SQLValue]] {
        var decorated: [([SQLValue], Int)] = []
        decorated.reserveCapacity(rows.count)
        let subs = keys.map { subqueryIndexes($0.expr) }
        for (i, r) in rows.enumerated() {
            var k: [SQLValue] = []
            for (key, s) in zip(keys, subs) { k.append(try await eval(key.expr, r, s)) }
            decorated.append((k, i))
        }
        decorated.sort { a, b in
            for (i, key) in keys.enumerated() {
                let x = a.0[i]
                let y = b.0[i]
                if x.isNull || y.isNull {
                    if x.isNull && y.isNull { continue }
                    return x.isNull == key.nullsFirst
                }
                let c = SQLValue.compare(x, y) ?? 0
                if c != 0 { return key.descending ? c > 0 : c < 0 }
            }
            return a.1 < b.1
        }
        return decorated.map { rows[$0.1] }
    }

    // MARK: Joins

    func join(_ spec: JoinSpec) async throws -> [[SQLValue]] {
        let left = try await run(spec.left)
        var known = 0
        if let lookup = spec.lookup, spec.kind == .inner || spec.kind == .left,
            lookupsPay(lookup, leftRows: left.count, known: &known)
        {
            return try await lookupJoin(spec, lookup, consume left)
        }
        return try await hashJoin(spec, left)
    }

    /// Joins `left` with the right input read whole: a hash join on the equality keys,
    /// or every pair when there are none.
    func hashJoin(_ spec: JoinSpec, _ left: [[SQLValue]]) async throws -> [[SQLValue]] {
        let right = try await run(spec.right)
        let residualSubs = spec.residual.map(subqueryIndexes) ?? []
        func merge(_ l: [SQLValue], _ r: [SQLValue]) -> [SQLValue] {
            var out = l
            for range in spec.rightSlots {
                for i in range { out[i] = r[i] }
            }
            return out
        }
        var out: [[SQLValue]] = []
        var rightMatched = [Bool](repeating: false, count: spec.kind == .right || spec.kind == .full ? right.count : 0)
        if !spec.leftKeys.isEmpty {
            var table: [[SQLValue]: [Int]] = [:]
            for (i, r) in right.enumerated() {
                if let key = try joinKey(spec.rightKeys, r) { table[key, default: []].append(i) }
            }
            for l in left {
                var matched = false
                if let key = try joinKey(spec.leftKeys, l), let candidates = table[key] {
                    for i in candidates {
                        let m = merge(l, right[i])
                        if let residual = spec.residual, !(try await test(residual, m, residualSubs)) { continue }
                        matched = true
                        if !rightMatched.isEmpty { rightMatched[i] = true }
                        out.append(m)
                    }
                }
                if !matched && (spec.kind == .left || spec.kind == .full) { out.append(l) }
            }
        } else {
            for l in left {
                try ctx.cancel?.check()
                var matched = false
                for (i, r) in right.enumerated() {
                    let m = merge(l, r)
                    if let residual = spec.residual, !(try await test(residual, m, residualSubs)) { continue }
                    matched = true
                    if !rightMatched.isEmpty { rightMatched[i] = true }
                    out.append(m)
                }
                if !matched && (spec.kind == .left || spec.kind == .full) { out.append(l) }
            }
        }
        if spec.kind == .right || spec.kind == .full {
            for (i, r) in right.enumerated() where !rightMatched[i] { out.append(r) }
        }
        return out
    }

    /// The hash-join key of `row`, or nil when a key value is NULL (NULL equals nothing).
    func joinKey(_ exprs: [BExpr], _ row: [SQLValue]) throws -> [SQLValue]? {
        var key: [SQLValue] = []
        for e in exprs {
            let v = try Evaluator.eval(e, row, ctx)
            if v.isNull { return nil }
            key.append(v)
        }
        return normalize(key)
    }
}
