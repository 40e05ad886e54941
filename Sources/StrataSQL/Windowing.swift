/// Computes window functions: each call appends one column to every row.
enum Windowing {
    static func apply(_ calls: [WindowCall], to input: [[SQLValue]], _ exec: Executor) async throws -> [[SQLValue]] {
        var rows = input
        let ctx = exec.ctx
        for call in calls {
            let n = rows.count
            var partKeys: [[SQLValue]] = []
            var orderKeys: [[SQLValue]] = []
            for r in rows {
                partKeys.append(try call.partitionBy.map { try Evaluator.eval($0, r, ctx) })
                orderKeys.append(try call.orderBy.map { try Evaluator.eval($0.expr, r, ctx) })
            }
            func cmpOrder(_ a: Int, _ b: Int) -> Int {
                for (i, key) in call.orderBy.enumerated() {
                    let x = orderKeys[a][i]
                    let y = orderKeys[b][i]
                    if x.isNull || y.isNull {
                        if x.isNull && y.isNull { continue }
                        return x.isNull == key.nullsFirst ? -1 : 1
                    }
                    let c = SQLValue.compare(x, y) ?? 0
                    if c != 0 { return key.descending ? -c : c }
                }
                return 0
            }
            var order = Array(0..<n)
            order.sort { a, b in
                for i in 0..<call.partitionBy.count {
                    let c = SQLValue.sortCompare(partKeys[a][i], partKeys[b][i])
                    if c != 0 { return c < 0 }
                }
                let c = cmpOrder(a, b)
                return c != 0 ? c < 0 : a < b
            }
            var results = [SQLValue](repeating: .null, count: n)
            var start = 0
            while start < n {
                var end = start + 1
                while end < n && partKeys[order[end]] == partKeys[order[start]] { end += 1 }
                let part = Array(order[start..<end])
                try compute(call, part, rows, &results, cmpOrder, ctx)
                start = end
            }
            for i in 0..<n { rows[i].append(results[i]) }
        }
        return rows
    }

    static func compute(_ call: WindowCall, _ part: [Int], _ rows: [[SQLValue]], _ results: inout [SQLValue],
                        _ cmp: (Int, Int) -> Int, _ ctx: EvalContext) throws {
        let m = part.count
        // Peer groups: rows equal on the ORDER BY keys.
        var peerStart = [Int](repeating: 0, count: m)
        var peerEnd = [Int](repeating: 0, count: m)
        var groupNumber = [Int](repeating: 0, count: m)
        var i = 0
        var g = 0
        while i < m {
            var j = i + 1
            while j < m && cmp(part[i], part[j]) == 0 { j += 1 }
            g += 1
            for k in i..<j {
                peerStart[k] = i
                peerEnd[k] = j
                groupNumber[k] = g
            }
            i = j
        }
        func frame(_ k: Int) throws -> Range<Int> {
            guard let f = call.frame else {
                return call.orderBy.isEmpty ? 0..<m : 0..<peerEnd[k]
            }
            func offset(_ e: BExpr) throws -> Int {
                guard case .int(let v) = try Evaluator.eval(e, rows[part[k]], ctx), v >= 0 else {
                    throw SQLError(SQLError.invalidParameterValue, "frame offset must be a non-negative integer")
                }
                return Int(clamping: v)
            }
            func position(_ b: WindowFrameBound.Bound, isStart: Bool) throws -> Int {
                switch b {
                case .unboundedPreceding: return 0
                case .unboundedFollowing: return m
                case .currentRow: return f.rows ? (isStart ? k : k + 1) : (isStart ? peerStart[k] : peerEnd[k])
                case .preceding(let e):
                    guard f.rows else { throw SQLError(SQLError.featureNotSupported, "RANGE with offsets is not supported") }
                    return max(0, k - (try offset(e)) + (isStart ? 0 : 1))
                case .following(let e):
                    guard f.rows else { throw SQLError(SQLError.featureNotSupported, "RANGE with offsets is not supported") }
                    return min(m, k + (try offset(e)) + (isStart ? 0 : 1))
                }
            }
            let s = try position(f.start, isStart: true)
            let e = try position(f.end, isStart: false)
            return s < e ? s..<e : s..<s
        }
        for k in 0..<m {
            let row = rows[part[k]]
            let v: SQLValue
            switch call.kind {
            case .rowNumber: v = .int(Int64(k + 1))
            case .rank: v = .int(Int64(peerStart[k] + 1))
            case .denseRank: v = .int(Int64(groupNumber[k]))
            case .percentRank: v = .double(m > 1 ? Double(peerStart[k]) / Double(m - 1) : 0)
            case .cumeDist: v = .double(Double(peerEnd[k]) / Double(m))
            case .ntile:
                guard case .int(let buckets) = try Evaluator.eval(call.args[0], row, ctx), buckets > 0 else {
                    throw SQLError(SQLError.invalidParameterValue, "argument of ntile must be greater than zero")
                }
                let b = Int(buckets)
                let size = m / b
                let extra = m % b
                var pos = k
                var bucket = 0
                while true {
                    let len = size + (bucket < extra ? 1 : 0)
                    if pos < len || len == 0 { break }
                    pos -= len
                    bucket += 1
                }
                v = .int(Int64(bucket + 1))
            case .lag, .lead:
                var off = 1
                if call.args.count > 1, case .int(let o) = try Evaluator.eval(call.args[1], row, ctx) { off = Int(clamping: o) }
                let target = call.kind == .lag ? k - off : k + off
                if target >= 0 && target < m {
                    v = try Evaluator.eval(call.args[0], rows[part[target]], ctx)
                } else {
                    v = call.args.count > 2 ? try Evaluator.eval(call.args[2], row, ctx) : .null
                }
            case .firstValue, .lastValue, .nthValue:
                let fr = try frame(k)
                var idx: Int? = nil
                if call.kind == .firstValue { idx = fr.isEmpty ? nil : fr.lowerBound }
                if call.kind == .lastValue { idx = fr.isEmpty ? nil : fr.upperBound - 1 }
                if call.kind == .nthValue, call.args.count > 1, case .int(let nth) = try Evaluator.eval(call.args[1], row, ctx) {
                    guard nth > 0 else { throw SQLError(SQLError.invalidParameterValue, "argument of nth_value must be greater than zero") }
                    let p = fr.lowerBound + Int(nth) - 1
                    idx = p < fr.upperBound ? p : nil
                }
                v = try idx.map { try Evaluator.eval(call.args[0], rows[part[$0]], ctx) } ?? .null
            case .aggregate:
                let spec = call.aggregate!
                var acc = Accumulator(distinct: spec.distinct)
                for p in try frame(k) {
                    let r = rows[part[p]]
                    if let f = spec.filter, !(try Evaluator.test(f, r, ctx)) { continue }
                    let args = try spec.args.map { try Evaluator.eval($0, r, ctx) }
                    try acc.add(spec, args.first ?? .null, args.count > 1 ? args[1] : .null)
                }
                v = try acc.result(spec)
            }
            results[part[k]] = v
        }
    }
}
