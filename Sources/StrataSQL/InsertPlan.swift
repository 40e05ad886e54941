import StrataEngine

/// An INSERT resolved against one catalog: a prepared INSERT reuses it while the catalog
/// is unchanged, so each execution only evaluates its values.
final class InsertPlan: Sendable {
    enum Value: Sendable {
        case defaultValue
        /// A bound expression; `castText` is the column type an untyped or text value converts to.
        case expr(BExpr, castText: SQLType?)
    }

    let binding: TableBinding
    let targets: [Int]
    /// The bound VALUES rows; nil when the rows come from a query.
    let values: [[Value]]?
    let returning: Returning?
    /// True when `insertOne` applies: one VALUES row into a table with a primary key and
    /// neither foreign keys nor unique secondary indexes, without ON CONFLICT or RETURNING.
    let isSimple: Bool

    init(binding: TableBinding, targets: [Int], values: [[Value]]?, returning: Returning?, onConflict: Bool) {
        self.binding = binding
        self.targets = targets
        self.values = values
        self.returning = returning
        let t = binding.table
        isSimple = values?.count == 1 && !onConflict && returning == nil
            && t.foreignKeys.isEmpty && !t.primaryKey.isEmpty && !t.indexes.contains { $0.unique }
    }

    enum Outcome {
        case done(StatementResult)
        /// The existence check needs `key`'s block read from storage first.
        case needsRead([UInt8])
    }

    /// Inserts one row synchronously (no `await` per row: the bulk-load path), with the
    /// same checks as the general insert: types, NOT NULL, CHECK, primary key uniqueness.
    /// `uncached` passes the result of an existence check already read from storage; `row`
    /// is scratch space the caller keeps from row to row (no allocation per row).
    func insertOne(
        _ values: [Value], tx: Transaction, parameters: [SQLValue], context: @autoclosure () -> EvalContext, now: Int64,
        row: inout [SQLValue], uncached: [UInt8]?? = nil
    ) throws -> Outcome {
        try self.row(values, parameters: parameters, context: context(), now: now, into: &row)
        let key = binding.rowKey(row)
        let existing: [UInt8]?
        if let uncached {
            existing = uncached
        } else {
            guard let read = try tx.cachedGet(key) else { return .needsRead(key) }
            existing = read.value
        }
        if existing != nil {
            throw binding.table.primaryKeyViolation(row)
        }
        // Writer.writeRow's twin, kept on the binding's own index list: a shared helper on
        // the table description measured insert 1.11 -> 1.03 of SQLite (likely a copy of
        // the description per row).
        tx.put(key, valueCapacity: RowEncoding.capacity(row)) { RowEncoding.encode(row, into: $0) }
        for index in binding.indexes { tx.put(binding.table.indexKey(index, row, rowKey: key), key) }
        return .done(StatementResult(tag: "INSERT 0 1", rowsAffected: 1))
    }

    /// The physical row for one VALUES row (values, defaults, casts and constraint checks),
    /// written into `row`, reusing its storage.
    func row(_ values: [Value], parameters: [SQLValue], context make: @autoclosure () -> EvalContext, now: Int64, into row: inout [SQLValue]) throws {
        let width = binding.types.count
        if row.count == width {
            for i in 0..<width { row[i] = .null }
        } else {
            row = [SQLValue](repeating: .null, count: width)
        }
        var context: EvalContext? = nil
        func ctx() -> EvalContext {
            if let context { return context }
            let c = make()
            context = c
            return c
        }
        var given = 0
        for (i, slot) in values.enumerated() {
            guard case .expr(let e, let castText) = slot else { continue }
            var v: SQLValue
            switch e {
            case .param(let n) where n < parameters.count: v = parameters[n]
            case .const(let c): v = c
            default: v = try Evaluator.eval(e, [], ctx())
            }
            if let type = castText, case .text(let s) = v {
                v = try Cast.cast(.text(s), to: type, length: nil, explicit: true)
            }
            row[targets[i]] = v
            given += 1
        }
        if given < binding.visible.count {
            var isGiven = [Bool](repeating: false, count: width)
            for (i, slot) in values.enumerated() { if case .expr = slot { isGiven[targets[i]] = true } }
            for p in binding.visible where !isGiven[p] {
                if let e = binding.defaults[p] { row[p] = try Evaluator.eval(e, [], ctx()) }
            }
        }
        try binding.validate(&row, ctx)
    }
}
