/// Renders a plan as indented lines for `EXPLAIN`.
enum Explain {
    static func lines(_ plan: Plan) -> [String] {
        var out: [String] = []
        render(plan, 0, &out)
        return out
    }

    static func render(_ plan: Plan, _ depth: Int, _ out: inout [String]) {
        let pad = String(repeating: "  ", count: depth) + (depth > 0 ? "->  " : "")
        switch plan {
        case .scan(let s):
            var line: String
            switch s.access {
            case .full: line = "Seq Scan on \(s.table.name)"
            case .points(let i, let keys):
                line = i == 0 ? "Primary Key Lookup on \(s.table.name) (\(keys.count) key\(keys.count == 1 ? "" : "s"))" : "Index Lookup on \(s.table.name)"
            case .range(let i, let prefix, let low, let high):
                let name = i == 0 ? "primary key" : (s.table.indexes.first { $0.id == i }?.name ?? "index \(i)")
                line = "\(i == 0 ? "Primary Key" : "Index") Range Scan using \(name) on \(s.table.name) (equal: \(prefix.count)\(low != nil ? ", lower bound" : "")\(high != nil ? ", upper bound" : ""))"
            }
            switch s.version {
            case .current: break
            case .snapshot: line += " AS OF snapshot"
            case .history(let a, let b): line += " versions \(a)...\(b)"
            }
            if s.filter != nil { line += " with filter" }
            out.append(pad + line)
        case .values(let rows, _): out.append(pad + "Values (\(rows.count) rows)")
        case .oneRow: out.append(pad + "Result")
        case .filter(let c, _):
            out.append(pad + "Filter")
            render(c, depth + 1, &out)
        case .project(let c, let e):
            out.append(pad + "Project (\(e.count) columns)")
            render(c, depth + 1, &out)
        case .place(let c, _, _): render(c, depth, &out)
        case .join(let j):
            let kind = j.kind == .inner ? "" : j.kind.rawValue.capitalized + " "
            out.append(pad + (j.leftKeys.isEmpty ? "Nested Loop \(kind)Join" : "Hash \(kind)Join (\(j.leftKeys.count) key\(j.leftKeys.count == 1 ? "" : "s"))")
                + (j.lookup != nil ? " or Primary Key Lookup Join when \(j.lookup!.scan.table.name) is the larger side" : ""))
            render(j.left, depth + 1, &out)
            render(j.right, depth + 1, &out)
        case .aggregate(let c, let g, let a):
            out.append(pad + (g.isEmpty ? "Aggregate" : "HashAggregate (\(g.count) group key\(g.count == 1 ? "" : "s"))") + " computing \(a.count)")
            render(c, depth + 1, &out)
        case .window(let c, let calls):
            out.append(pad + "WindowAgg (\(calls.count) function\(calls.count == 1 ? "" : "s"))")
            render(c, depth + 1, &out)
        case .sort(let c, let k):
            out.append(pad + "Sort (\(k.count) key\(k.count == 1 ? "" : "s"))")
            render(c, depth + 1, &out)
        case .limit(let c, _, _):
            out.append(pad + "Limit")
            render(c, depth + 1, &out)
        case .distinct(let c, let on):
            out.append(pad + (on == nil ? "Unique" : "Unique On"))
            render(c, depth + 1, &out)
        case .setOperation(let op, let all, let a, let b):
            out.append(pad + op.rawValue.capitalized + (all ? " All" : ""))
            render(a, depth + 1, &out)
            render(b, depth + 1, &out)
        case .cteScan(let i): out.append(pad + "CTE Scan \(i)")
        case .series: out.append(pad + "Function Scan on generate_series")
        case .unnest: out.append(pad + "Function Scan on unnest")
        case .recursiveUnion(let a, let b, _, let all):
            out.append(pad + "Recursive Union" + (all ? " All" : ""))
            render(a, depth + 1, &out)
            render(b, depth + 1, &out)
        }
    }
}
