/// Pipelined execution: scans, filters, projections, placements and limits push batches
/// of rows to the operator above instead of materialising their whole output, so an
/// aggregate or a LIMIT over a large table holds one batch at a time, and a LIMIT stops
/// the scan under it.
extension Executor {
    /// Receives a batch of rows, which it owns (an operator may change them in place);
    /// returns false to stop the producer.
    typealias RowSink = (consuming [[SQLValue]]) async throws -> Bool

    /// Stored rows a scan decodes per batch.
    static let batchSize = 1024

    /// Pushes the rows of `plan` to `sink`. Returns false when the sink stopped it.
    func produce(_ plan: Plan, _ sink: RowSink) async throws -> Bool {
        switch plan {
        case .scan(let spec):
            return try await scan(spec, sink)
        case .filter(let child, let cond):
            let subs = subqueryIndexes(cond)
            return try await produce(child) { rows in
                var kept: [[SQLValue]] = []
                if subs.isEmpty {
                    for r in rows where try Evaluator.eval(cond, r, ctx) == .bool(true) { kept.append(r) }
                } else {
                    for r in rows where try await test(cond, r, subs) { kept.append(r) }
                }
                return kept.isEmpty ? true : try await sink(kept)
            }
        case .project(let child, let exprs):
            let subs = exprs.map(subqueryIndexes)
            let simple = subs.allSatisfy { $0.isEmpty }
            let columns = exprs.compactMap { e -> Int? in if case .column(let i) = e { i } else { nil } }
            if columns.count == exprs.count, case .scan(let spec) = child {
                return try await scan(spec, project: columns, sink)
            }
            return try await produce(child) { rows in
                var out: [[SQLValue]] = []
                out.reserveCapacity(rows.count)
                for r in rows {
                    var values: [SQLValue] = []
                    values.reserveCapacity(exprs.count)
                    if columns.count == exprs.count {
                        for i in columns { values.append(r[i]) }
                    } else if simple {
                        for e in exprs { values.append(try Evaluator.eval(e, r, ctx)) }
                    } else {
                        for (e, s) in zip(exprs, subs) { values.append(try await eval(e, r, s)) }
                    }
                    out.append(values)
                }
                return try await sink(out)
            }
        case .place(let child, let offset, let width):
            return try await produce(child) { rows in
                try await sink(rows.map { r in
                    var row = [SQLValue](repeating: .null, count: width)
                    for (i, v) in r.enumerated() { row[offset + i] = v }
                    return row
                })
            }
        case .limit(let child, let limitExpr, let offsetExpr):
            var offset = 0
            var limit = Int.max
            if let offsetExpr, case .int(let o) = try await eval(offsetExpr, [], subqueryIndexes(offsetExpr)) {
                guard o >= 0 else { throw SQLError(SQLError.invalidRowCountInResultOffset, "OFFSET must not be negative") }
                offset = Int(clamping: o)
            }
            if let limitExpr, case .int(let l) = try await eval(limitExpr, [], subqueryIndexes(limitExpr)) {
                guard l >= 0 else { throw SQLError(SQLError.invalidRowCountInLimit, "LIMIT must not be negative") }
                limit = Int(clamping: l)
            }
            if limit == 0 { return true }
            var skip = offset
            var remaining = limit
            var stopped = false
            _ = try await produce(child) { rows in
                var slice = rows[...]
                if skip > 0 {
                    let n = min(skip, slice.count)
                    slice = slice.dropFirst(n)
                    skip -= n
                }
                if slice.isEmpty { return true }
                let take = Array(slice.prefix(remaining))
                remaining -= take.count
                if !(try await sink(take)) {
                    stopped = true
                    return false
                }
                return remaining > 0
            }
            return !stopped
        case .join(let spec) where spec.lookup != nil && (spec.kind == .inner || spec.kind == .left):
            // Left rows arrive in batches; each is joined by point reads while the right
            // table stays the larger side, and once it does not, the rest are hash-joined.
            let lookup = spec.lookup!
            var seen = 0
            var known = 0
            var rest: [[SQLValue]]? = nil
            let finished = try await produce(spec.left) { rows in
                seen += rows.count
                if rest == nil && lookupsPay(lookup, leftRows: seen, known: &known) {
                    let out = try await lookupJoin(spec, lookup, rows)
                    return out.isEmpty ? true : try await sink(out)
                }
                if rest == nil { rest = [] }
                rest!.append(contentsOf: rows)
                return true
            }
            guard finished else { return false }
            guard let rest else { return true }
            return try await emit(try await hashJoin(spec, rest), sink)
        case .aggregate(let child, let groups, let aggregates):
            return try await emit(try await aggregate(child, groups, aggregates), sink)
        default:
            return try await emit(try await run(plan), sink)
        }
    }

    /// Passes materialised rows to `sink`.
    func emit(_ rows: [[SQLValue]], _ sink: RowSink) async throws -> Bool {
        rows.isEmpty ? true : try await sink(rows)
    }

    /// Every row of a streaming plan, collected.
    func collect(_ plan: Plan) async throws -> [[SQLValue]] {
        var out: [[SQLValue]] = []
        _ = try await produce(plan) { rows in
            if out.isEmpty { out = rows } else { out.append(contentsOf: rows) }
            return true
        }
        return out
    }
}
