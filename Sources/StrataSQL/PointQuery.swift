import StrataEngine

/// A query that reads one row by its whole primary key (`SELECT ... FROM t WHERE id = $1`),
/// prepared so that each execution is one key lookup and one row decode with no `await`
/// while memory answers: the most common statement of an OLTP application should not pay
/// for the general executor.
final class PointQuery: Sendable {
    let builder: ScanRowBuilder
    let keys: [BExpr]
    let keyTypes: [SQLType]
    let prefix: [UInt8]
    let filter: BExpr?
    /// Slots of the scan's row to return; nil returns the whole row.
    let project: [Int]?

    /// The fast form of `plan`, when it is a projection of plain columns (or nothing) over a
    /// current-state point read of one key, without subqueries; nil otherwise.
    init?(_ plan: Plan) {
        var plan = plan
        var project: [Int]? = nil
        if case .project(let child, let exprs) = plan {
            let columns = exprs.compactMap { e -> Int? in if case .column(let i) = e { i } else { nil } }
            guard columns.count == exprs.count else { return nil }
            project = columns
            plan = child
        }
        guard case .scan(let spec) = plan, case .current = spec.version, !spec.withKey,
              case .points(0, let lists) = spec.access, lists.count == 1 else { return nil }
        var subs = Set<Int>()
        for e in lists[0] { e.subqueries(into: &subs) }
        spec.filter?.subqueries(into: &subs)
        guard subs.isEmpty, let builder = try? ScanRowBuilder(spec) else { return nil }
        let table = spec.table
        self.builder = builder
        keys = lists[0]
        keyTypes = table.primaryKey.map { table.columns[$0].type }
        prefix = table.prefix()
        filter = spec.filter
        self.project = project
    }

    /// The matching rows; nil when answering needs a storage read (the caller then runs
    /// the general plan, which awaits it).
    func run(_ source: ReadSource, _ ctx: EvalContext) throws -> [[SQLValue]]? {
        var key = KeyEncoding.start(prefix, columns: keys.count)
        for (e, type) in zip(keys, keyTypes) {
            guard let converted = try type.keyValue(try Evaluator.eval(e, [], ctx)) else { return [] }
            KeyEncoding.append(converted, to: &key)
        }
        guard let read = try source.cachedGet(key) else { return nil }
        guard let value = read.value else { return [] }
        let row = try builder.row(key, value)
        if let filter, try Evaluator.eval(filter, row, ctx) != .bool(true) { return [] }
        guard let project else { return [row] }
        var out: [SQLValue] = []
        out.reserveCapacity(project.count)
        for slot in project { out.append(row[slot]) }
        return [out]
    }
}
