/// A physical query plan: a tree of operators the executor runs.
indirect enum Plan: Sendable {
    /// Rows of a table (or a range of them) placed at `offset` in rows of `width` values.
    case scan(ScanSpec)
    /// Constant rows.
    case values([[BExpr]], width: Int)
    /// A single row with no columns (SELECT without FROM).
    case oneRow
    case filter(Plan, BExpr)
    case project(Plan, [BExpr])
    /// The child's rows placed at `offset` in rows of `width` values.
    case place(Plan, offset: Int, width: Int)
    case join(JoinSpec)
    case aggregate(Plan, groups: [BExpr], aggregates: [AggregateSpec])
    case window(Plan, [WindowCall])
    case sort(Plan, [SortKey])
    case limit(Plan, limit: BExpr?, offset: BExpr?)
    /// Removes duplicate rows, or (with `on`) keeps the first row of each key.
    case distinct(Plan, on: [BExpr]?)
    case setOperation(SetOperator, all: Bool, Plan, Plan)
    /// The materialised rows of common table expression `n`.
    case cteScan(Int)
    /// `generate_series(start, stop, step)`.
    case series(BExpr, BExpr, BExpr?)
    /// `unnest(array)`: a row per element, cast to `element`, and its position WITH ORDINALITY.
    case unnest(BExpr, element: SQLType, ordinality: Bool)
    /// WITH RECURSIVE: the anchor's rows, then the step run on the rows the previous
    /// round added (visible to it as CTE `working`) until it adds none.
    case recursiveUnion(anchor: Plan, step: Plan, working: Int, all: Bool)
}

/// How a scan reaches its rows.
enum AccessPath: Sendable {
    case full
    /// Point reads of whole keys (one list of values per key).
    case points(index: UInt32, [[BExpr]])
    /// Keys with an equal prefix and an optional range on the next column.
    case range(index: UInt32, prefix: [BExpr], low: (BExpr, inclusive: Bool)?, high: (BExpr, inclusive: Bool)?)
}

/// Which state a table reference reads.
enum TableVersion: Sendable, Hashable {
    /// The statement's own view (the transaction, with its writes).
    case current
    /// An older snapshot (AS OF), by index into the statement's resolved snapshots.
    case snapshot(Int)
    /// Every version between two commit sequences (inclusive), with system columns.
    case history(from: UInt64, to: UInt64)
}

/// A table scan.
struct ScanSpec: Sendable {
    var table: TableInfo
    var version: TableVersion
    var offset: Int
    var width: Int
    var access: AccessPath
    var filter: BExpr?
    /// Puts the row's stored key (as bytes) in the slot after the columns, for UPDATE and DELETE.
    var withKey = false
    var reverse = false
}

/// A join of two inputs whose rows are already full width: the right row's slots are
/// copied into the left row.
struct JoinSpec: Sendable {
    var kind: JoinKind
    var left: Plan
    var right: Plan
    var leftKeys: [BExpr]
    var rightKeys: [BExpr]
    var residual: BExpr?
    /// The slots the right input fills.
    var rightSlots: [Range<Int>]
    /// When the right input is a table whose primary key the left rows determine: point
    /// reads per left row, used instead of scanning the right when it is the larger side.
    var lookup: IndexLookup? = nil
}

/// Point reads into a table by primary key values computed from the other side's rows.
struct IndexLookup: Sendable {
    /// The table's scan (its offset, width and pushed-down filter apply to looked-up rows).
    var scan: ScanSpec
    /// One expression over the left row per primary-key column, in key order.
    var keys: [BExpr]
}

/// One aggregate computed by an aggregate node.
struct AggregateSpec: Sendable, Hashable {
    enum Kind: String, Sendable, Hashable {
        case count, countStar, sum, avg, min, max, stringAgg, arrayAgg, boolAnd, boolOr
    }
    var kind: Kind
    var args: [BExpr]
    var distinct: Bool
    var filter: BExpr?
    /// The result type (sum of integers is bigint, avg of integers numeric, ...).
    var type: SQLType
}

/// A window function and its window, appended as a column by a window node.
struct WindowCall: Sendable, Hashable {
    enum Kind: String, Sendable, Hashable {
        case rowNumber, rank, denseRank, percentRank, cumeDist, ntile, lag, lead, firstValue, lastValue, nthValue, aggregate
    }
    var kind: Kind
    var aggregate: AggregateSpec?
    var args: [BExpr]
    var partitionBy: [BExpr]
    var orderBy: [SortKey]
    var frame: WindowFrameBound?
}

/// A resolved window frame (ROWS or RANGE with offsets as expressions).
struct WindowFrameBound: Sendable, Hashable {
    enum Bound: Sendable, Hashable {
        case unboundedPreceding, preceding(BExpr), currentRow, following(BExpr), unboundedFollowing
    }
    var rows: Bool
    var start: Bound
    var end: Bound
}

/// One sort key.
struct SortKey: Sendable, Hashable {
    var expr: BExpr
    var descending: Bool
    var nullsFirst: Bool
}

/// A subquery used inside an expression, run by the operator that evaluates it.
final class SubqueryPlan: Sendable {
    enum Kind: Sendable {
        case scalar
        case exists
        case inList(BExpr, negated: Bool)
        case quantified(CompareOp, BExpr, all: Bool)
    }
    let kind: Kind
    let plan: Plan
    /// False when the subquery reads nothing from enclosing rows: it runs once per statement.
    let correlated: Bool

    init(kind: Kind, plan: Plan, correlated: Bool) {
        self.kind = kind
        self.plan = plan
        self.correlated = correlated
    }
}

/// Everything the executor needs for one statement besides the plan.
final class PreparedQuery: Sendable {
    let plan: Plan
    let columns: [ResultColumn]
    let subqueries: [SubqueryPlan]
    let ctes: [Plan]
    /// The plan's fast form when it reads one row by primary key.
    let point: PointQuery?

    init(plan: Plan, columns: [ResultColumn], subqueries: [SubqueryPlan], ctes: [Plan]) {
        self.plan = plan
        self.columns = columns
        self.subqueries = subqueries
        self.ctes = ctes
        point = subqueries.isEmpty && ctes.isEmpty ? PointQuery(plan) : nil
    }
}

/// A column of a result: its name and type.
public struct ResultColumn: Sendable, Hashable {
    /// The column's name as PostgreSQL would print it.
    public var name: String
    /// The column's type.
    public var type: SQLType
}
