import FoundationEssentials

/// The groups of a hash aggregate and their running accumulators. Accumulators sit in
/// one flat array (group × aggregate) so adding a row touches no nested arrays, and a
/// single grouping value is looked up without building a key array.
struct GroupTable {
    let specs: [AggregateSpec]
    private var single: [SQLValue: Int] = [:]
    private var index: [[SQLValue]: Int] = [:]
    private var keys: [[SQLValue]] = []
    private var accs: [Accumulator] = []

    init(_ specs: [AggregateSpec]) { self.specs = specs }

    var isEmpty: Bool { keys.isEmpty }

    /// The group of a one-column key, created on first sight.
    mutating func group(_ value: SQLValue) -> Int {
        let k = Self.normalize(value)
        if let gi = single[k] { return gi }
        let gi = keys.count
        single[k] = gi
        append([value])
        return gi
    }

    /// The group of `key`, created on first sight.
    mutating func group(_ key: [SQLValue]) -> Int {
        if key.count == 1 { return group(key[0]) }
        let nk = key.contains(where: { if case .double(0) = $0 { true } else { false } }) ? key.map(Self.normalize) : key
        if let gi = index[nk] { return gi }
        let gi = keys.count
        index[nk] = gi
        append(key)
        return gi
    }

    private mutating func append(_ key: [SQLValue]) {
        keys.append(key)
        for spec in specs { accs.append(Accumulator(distinct: spec.distinct)) }
    }

    /// Adds one row's arguments to aggregate `j` of group `gi`.
    @inline(__always) mutating func add(_ gi: Int, _ j: Int, _ v: SQLValue, _ second: SQLValue) throws {
        try accs[gi * specs.count + j].add(specs[j], v, second)
    }

    /// One row per group: its key, then each aggregate's result.
    func rows() throws -> [[SQLValue]] {
        var out: [[SQLValue]] = []
        out.reserveCapacity(keys.count)
        for (gi, key) in keys.enumerated() {
            var row = key
            for (j, spec) in specs.enumerated() { row.append(try accs[gi * specs.count + j].result(spec)) }
            out.append(row)
        }
        return out
    }

    /// -0.0 and 0.0 are one group (and one join or set-operation key), as they are equal.
    static func normalize(_ v: SQLValue) -> SQLValue {
        if case .double(let d) = v, d == 0 { return .double(0) }
        return v
    }
}

extension Executor {
    /// Groups the rows `child` produces and computes `specs` per group, without holding
    /// the input: rows stream into the groups' accumulators.
    func aggregate(_ child: Plan, _ groups: [BExpr], _ specs: [AggregateSpec]) async throws -> [[SQLValue]] {
        let groupSubs = groups.map(subqueryIndexes)
        let argSubs = specs.map { $0.args.map(subqueryIndexes) }
        let filterSubs = specs.map { $0.filter.map(subqueryIndexes) ?? [] }
        let simple = groupSubs.allSatisfy { $0.isEmpty } && argSubs.allSatisfy { $0.allSatisfy { $0.isEmpty } } && filterSubs.allSatisfy { $0.isEmpty }
        let ctx = self.ctx
        // The table sits behind a pointer: the per-row sink then captures no variables
        // (a captured var costs an exclusivity check per access).
        let table = UnsafeMutablePointer<GroupTable>.allocate(capacity: 1)
        table.initialize(to: GroupTable(specs))
        defer { table.deinitialize(count: 1); table.deallocate() }
        @inline(__always) func value(_ e: BExpr, _ r: [SQLValue]) throws -> SQLValue {
            if case .column(let i) = e { return r[i] }
            return try Evaluator.eval(e, r, ctx)
        }
        let singleGroup = groups.count == 1
        _ = try await produce(child) { rows in
            for r in rows {
                let gi: Int
                if simple {
                    if singleGroup {
                        gi = table.pointee.group(try value(groups[0], r))
                    } else {
                        var key: [SQLValue] = []
                        key.reserveCapacity(groups.count)
                        for g in groups { key.append(try value(g, r)) }
                        gi = table.pointee.group(key)
                    }
                } else {
                    var key: [SQLValue] = []
                    for (g, s) in zip(groups, groupSubs) { key.append(try await eval(g, r, s)) }
                    gi = table.pointee.group(key)
                }
                for (j, spec) in specs.enumerated() {
                    if simple {
                        if let f = spec.filter, !(try Evaluator.eval(f, r, ctx) == .bool(true)) { continue }
                        switch spec.args.count {
                        case 0: try table.pointee.add(gi, j, .null, .null)
                        case 1: try table.pointee.add(gi, j, try value(spec.args[0], r), .null)
                        default: try table.pointee.add(gi, j, try value(spec.args[0], r), try value(spec.args[1], r))
                        }
                        continue
                    }
                    if let f = spec.filter, !(try await test(f, r, filterSubs[j])) { continue }
                    var args: [SQLValue] = []
                    for (a, s) in zip(spec.args, argSubs[j]) { args.append(try await eval(a, r, s)) }
                    try table.pointee.add(gi, j, args.first ?? .null, args.count > 1 ? args[1] : .null)
                }
            }
            return true
        }
        if table.pointee.isEmpty && groups.isEmpty { _ = table.pointee.group([]) }
        return try table.pointee.rows()
    }
}

/// The running state of one aggregate for one group.
struct Accumulator {
    var count: Int64 = 0
    var intSum: Int64 = 0
    var intOverflowed = false
    var decimalSum = Decimal(0)
    var doubleSum = 0.0
    var best: SQLValue = .null
    var parts: [String] = []
    /// array_agg's elements (NULLs included, as in PostgreSQL).
    var elements: [String?] = []
    var separator: String? = nil
    var flag: Bool? = nil
    var seen: Set<SQLValue>? = nil

    init(distinct: Bool) { if distinct { seen = [] } }

    /// Adds one input row's arguments (`v` the first, `second` the string_agg separator).
    mutating func add(_ spec: AggregateSpec, _ v: SQLValue, _ second: SQLValue) throws {
        if spec.kind == .countStar {
            count += 1
            return
        }
        if spec.kind == .arrayAgg, v.isNull, seen == nil {
            count += 1
            elements.append(nil)
            return
        }
        if v.isNull { return }
        if seen != nil {
            guard seen!.insert(v).inserted else { return }
        }
        count += 1
        switch spec.kind {
        case .count, .countStar: break
        case .sum, .avg:
            switch v {
            case .int(let i):
                if spec.type == .bigint || spec.kind == .avg || spec.type == .numeric {
                    if !intOverflowed {
                        let (s, o) = intSum.addingReportingOverflow(i)
                        if o {
                            intOverflowed = true
                            decimalSum = Decimal(intSum) + Decimal(i)
                        } else {
                            intSum = s
                        }
                    } else {
                        decimalSum += Decimal(i)
                    }
                }
            case .double(let d): doubleSum += d
            case .numeric(let d): decimalSum += d
            default: throw SQLError(SQLError.datatypeMismatch, "cannot sum \(v)")
            }
        case .min, .max:
            if best.isNull {
                best = v
            } else {
                let c = try Evaluator.compare(v, best)
                if (spec.kind == .min && c < 0) || (spec.kind == .max && c > 0) { best = v }
            }
        case .stringAgg:
            if parts.isEmpty { separator = nil }
            if !parts.isEmpty { parts.append(second.text ?? "") }
            parts.append(v.text ?? "")
        case .arrayAgg:
            elements.append(v.text)
        case .boolAnd:
            if case .bool(let b) = v { flag = (flag ?? true) && b }
        case .boolOr:
            if case .bool(let b) = v { flag = (flag ?? false) || b }
        }
    }

    func result(_ spec: AggregateSpec) throws -> SQLValue {
        switch spec.kind {
        case .count, .countStar: return .int(count)
        case .sum:
            if count == 0 { return .null }
            switch spec.type {
            case .bigint:
                if intOverflowed { throw Evaluator.outOfRange(.bigint) }
                return .int(intSum)
            case .numeric: return .numeric(intOverflowed ? decimalSum : decimalSum + Decimal(intSum))
            default: return .double(doubleSum)
            }
        case .avg:
            if count == 0 { return .null }
            if spec.type == .double { return .double(doubleSum / Double(count)) }
            let total = intOverflowed ? decimalSum : decimalSum + Decimal(intSum)
            return .numeric(total / Decimal(count))
        case .min, .max: return best
        case .stringAgg: return count == 0 ? .null : .text(parts.joined())
        case .arrayAgg: return count == 0 ? .null : .text(ArrayText.format(elements))
        case .boolAnd, .boolOr: return flag.map { .bool($0) } ?? .null
        }
    }
}
