/// The typed syntax tree the parser produces. Names are as written (folded to lower
/// case unless quoted); nothing is resolved until the binder sees it.

/// A type as written in DDL or a cast, e.g. `VARCHAR(20)` or `NUMERIC(10,2)`.
public struct TypeName: Sendable, Hashable {
    /// The type.
    public var type: SQLType
    /// Modifiers in parentheses (length, precision, scale).
    public var modifiers: [Int]
    /// For `regclass`, `regtype`, ...: casts that look names up in the catalog.
    public var lookup: CatalogLookup? = nil
}

/// PostgreSQL's object-identifier alias types: a cast to one turns a name into its OID
/// and an OID into its name.
public enum CatalogLookup: String, Sendable, Hashable {
    case regclass, regtype, regnamespace, regrole
}

/// A scalar expression.
public indirect enum Expr: Sendable, Hashable {
    /// A constant: integers as `.int` (or `.numeric` when too large), decimals as
    /// `.numeric`, booleans, NULL.
    case literal(SQLValue)
    /// A string constant, whose type context decides (PostgreSQL's `unknown`).
    case string(String)
    /// A typed constant like `DATE '2024-01-01'` or `TIMESTAMP '...'`.
    case typedString(SQLType, String)
    /// A column reference, optionally qualified.
    case column(table: String?, name: String)
    /// `$n`.
    case parameter(Int)
    /// A prefix operator: `-`, `+`, `not`, `~`.
    case unary(String, Expr)
    /// An infix operator: arithmetic, comparison, `and`, `or`, `||`, ...
    case binary(String, Expr, Expr)
    /// `e IS [NOT] NULL`.
    case isNull(Expr, negated: Bool)
    /// `a IS [NOT] DISTINCT FROM b`.
    case isDistinct(Expr, Expr, negated: Bool)
    /// `e IS [NOT] TRUE/FALSE/UNKNOWN` (nil for UNKNOWN).
    case isTruth(Expr, Bool?, negated: Bool)
    /// `e [NOT] BETWEEN [SYMMETRIC] low AND high`.
    case between(Expr, Expr, Expr, negated: Bool, symmetric: Bool)
    /// `e [NOT] IN (list)`.
    case inList(Expr, [Expr], negated: Bool)
    /// `e [NOT] IN (SELECT ...)`.
    case inSubquery(Expr, SelectStatement, negated: Bool)
    /// `EXISTS (SELECT ...)`.
    case exists(SelectStatement)
    /// `(SELECT ...)` returning one value.
    case subquery(SelectStatement)
    /// `e op ANY/SOME/ALL (SELECT ...)`.
    case quantified(String, Expr, all: Bool, SelectStatement)
    /// `e [NOT] LIKE/ILIKE pattern [ESCAPE c]`.
    case like(Expr, Expr, escape: Expr?, negated: Bool, caseInsensitive: Bool)
    /// `CASE [operand] WHEN ... THEN ... [ELSE ...] END`.
    case caseWhen(operand: Expr?, whens: [When], otherwise: Expr?)
    /// `CAST(e AS t)` or `e::t`.
    case cast(Expr, TypeName)
    /// A function call, aggregate or window function.
    case function(FunctionCall)
    /// `ROW(a, b)` or `(a, b)`.
    case row([Expr])
    /// `DEFAULT` in a VALUES row or SET clause.
    case defaultValue
}

/// One `WHEN condition THEN result` arm.
public struct When: Sendable, Hashable {
    public var condition: Expr
    public var result: Expr
}

/// A call such as `count(*)`, `sum(DISTINCT x) FILTER (WHERE ...)`, `rank() OVER (...)`.
public struct FunctionCall: Sendable, Hashable {
    /// The function's name, lower case.
    public var name: String
    public var args: [Expr]
    /// `f(*)`.
    public var star: Bool = false
    public var distinct: Bool = false
    public var filter: Expr? = nil
    /// `ORDER BY` inside the argument list (string_agg, array_agg).
    public var orderBy: [OrderItem] = []
    public var over: WindowSpec? = nil
}

/// The `OVER (...)` of a window function.
public struct WindowSpec: Sendable, Hashable {
    /// A named window this one refines.
    public var name: String? = nil
    public var partitionBy: [Expr] = []
    public var orderBy: [OrderItem] = []
    public var frame: WindowFrame? = nil
}

/// `ROWS|RANGE BETWEEN start AND end`.
public struct WindowFrame: Sendable, Hashable {
    public enum Bound: Sendable, Hashable {
        case unboundedPreceding, preceding(Expr), currentRow, following(Expr), unboundedFollowing
    }
    public var rows: Bool
    public var start: Bound
    public var end: Bound
}

/// One `ORDER BY` term.
public struct OrderItem: Sendable, Hashable {
    public var expr: Expr
    public var descending: Bool = false
    /// Explicit NULLS FIRST (true) / NULLS LAST (false); nil means PostgreSQL's default.
    public var nullsFirst: Bool? = nil
}

/// A whole query: `WITH ... body ORDER BY ... LIMIT ... OFFSET ...`.
public final class SelectStatement: Sendable, Hashable {
    public let with: [CommonTableExpression]
    public let recursive: Bool
    public let body: SetExpr
    public let orderBy: [OrderItem]
    public let limit: Expr?
    public let offset: Expr?

    init(with: [CommonTableExpression] = [], recursive: Bool = false, body: SetExpr, orderBy: [OrderItem] = [], limit: Expr? = nil, offset: Expr? = nil) {
        self.with = with
        self.recursive = recursive
        self.body = body
        self.orderBy = orderBy
        self.limit = limit
        self.offset = offset
    }

    public static func == (a: SelectStatement, b: SelectStatement) -> Bool { a === b }
    public func hash(into h: inout Hasher) { h.combine(ObjectIdentifier(self)) }
}

/// `name [(columns)] AS (query)` in a WITH clause.
public struct CommonTableExpression: Sendable, Hashable {
    public var name: String
    public var columns: [String]
    public var query: SelectStatement
}

/// The body of a query: a SELECT, VALUES, or a set operation of two bodies.
public indirect enum SetExpr: Sendable, Hashable {
    case select(SelectCore)
    case values([[Expr]])
    case setOperation(SetOperator, all: Bool, SetExpr, SetExpr)
    /// A parenthesised query with its own ORDER BY / LIMIT.
    case query(SelectStatement)
}

/// UNION, INTERSECT or EXCEPT.
public enum SetOperator: String, Sendable, Hashable {
    case union, intersect, except
}

/// `SELECT [DISTINCT] items FROM ... WHERE ... GROUP BY ... HAVING ... WINDOW ...`.
public struct SelectCore: Sendable, Hashable {
    public var distinct = false
    /// `DISTINCT ON (exprs)`.
    public var distinctOn: [Expr] = []
    public var items: [SelectItem] = []
    public var from: [TableRef] = []
    public var whereClause: Expr? = nil
    public var groupBy: [Expr] = []
    public var having: Expr? = nil
    public var windows: [String: WindowSpec] = [:]
}

/// One item of a select list.
public enum SelectItem: Sendable, Hashable {
    /// `*` or `t.*`.
    case star(table: String?)
    case expr(Expr, alias: String?)
}

/// Which versions a table reference reads (SQL:2011 system time).
public enum TemporalClause: Sendable, Hashable {
    /// `AS OF TIMESTAMP e`.
    case asOfTimestamp(Expr)
    /// `AS OF VERSION n`.
    case asOfVersion(Expr)
    /// `BETWEEN a AND b` (inclusive) or `FROM a TO b` (end exclusive); `version` says
    /// whether the bounds are commit sequences rather than timestamps.
    case range(Expr, Expr, inclusive: Bool, version: Bool)
    /// `ALL`: every version.
    case all
}

/// A FROM item.
public indirect enum TableRef: Sendable, Hashable {
    case table(name: String, alias: String?, columnAliases: [String], temporal: TemporalClause?)
    case subquery(SelectStatement, alias: String?, columnAliases: [String])
    /// A set-returning function such as `generate_series(1, 10)`.
    case function(FunctionCall, alias: String?, columnAliases: [String], ordinality: Bool)
    case join(JoinKind, TableRef, TableRef, on: Expr?, using: [String], natural: Bool)
}

/// The kind of a join.
public enum JoinKind: String, Sendable, Hashable {
    case inner, left, right, full, cross
}

/// A column in CREATE TABLE or ALTER TABLE ADD COLUMN.
public struct ColumnDefinition: Sendable, Hashable {
    public var name: String
    public var type: TypeName
    public var notNull = false
    public var primaryKey = false
    public var unique = false
    public var defaultValue: Expr? = nil
    /// The default's SQL text, kept in the catalog.
    public var defaultSQL: String? = nil
    public var checks: [String] = []
    public var references: ForeignKeyDefinition? = nil

    /// Makes the column take its values from sequence `<table>_<column>_seq`.
    mutating func makeSerial(table: String) {
        let sequence = "\(table)_\(name)_seq"
        defaultSQL = "nextval('\(String(sequence.flatMap { $0 == "'" ? ["'", "'"] : [$0] }))')"
        defaultValue = .function(FunctionCall(name: "nextval", args: [.string(sequence)]))
        notNull = true
    }
}

/// A table constraint.
public enum TableConstraint: Sendable, Hashable {
    case primaryKey([String], name: String?)
    case unique([String], name: String?)
    /// The check's SQL text.
    case check(String, name: String?)
    case foreignKey([String], ForeignKeyDefinition, name: String?)
}

/// `REFERENCES table (columns) [ON DELETE action]`.
public struct ForeignKeyDefinition: Sendable, Hashable {
    public var table: String
    public var columns: [String]
    public var onDelete: ForeignKeyAction = .noAction
    public var onUpdate: ForeignKeyAction = .noAction
}

/// What a foreign key does when the referenced row goes away.
public enum ForeignKeyAction: String, Sendable, Hashable, Codable {
    case noAction, restrict, cascade, setNull, setDefault
}

/// `CREATE TABLE`.
public struct CreateTable: Sendable, Hashable {
    public var name: String
    public var ifNotExists: Bool
    public var columns: [ColumnDefinition]
    public var constraints: [TableConstraint]
    /// `CREATE TABLE ... AS SELECT`.
    public var asQuery: SelectStatement?
}

/// One action of ALTER TABLE.
public enum AlterAction: Sendable, Hashable {
    case addColumn(ColumnDefinition, ifNotExists: Bool)
    case dropColumn(String, ifExists: Bool)
    case renameColumn(String, to: String)
    case renameTable(String)
    case addConstraint(TableConstraint)
    case dropConstraint(String, ifExists: Bool)
    case setNotNull(String, Bool)
    case setDefault(String, Expr?, sql: String?)
}

/// `INSERT INTO t [(cols)] VALUES ... | SELECT ... [ON CONFLICT ...] [RETURNING ...]`.
public struct Insert: Sendable, Hashable {
    public var table: String
    public var alias: String?
    public var columns: [String]
    /// nil for `DEFAULT VALUES`.
    public var source: SelectStatement?
    public var onConflict: OnConflict?
    public var returning: [SelectItem]
}

/// `ON CONFLICT [(cols)] DO NOTHING | DO UPDATE SET ... [WHERE ...]`.
public struct OnConflict: Sendable, Hashable {
    public var columns: [String]
    /// Empty means DO NOTHING.
    public var updates: [Assignment]
    public var whereClause: Expr?
}

/// `column = expr` in UPDATE or ON CONFLICT DO UPDATE.
public struct Assignment: Sendable, Hashable {
    public var column: String
    /// nil means DEFAULT.
    public var value: Expr?
}

/// `UPDATE t SET ... [FROM ...] [WHERE ...] [RETURNING ...]`.
public struct Update: Sendable, Hashable {
    public var table: String
    public var alias: String?
    public var assignments: [Assignment]
    public var from: [TableRef]
    public var whereClause: Expr?
    public var returning: [SelectItem]
}

/// `DELETE FROM t [WHERE ...] [RETURNING ...]`.
public struct Delete: Sendable, Hashable {
    public var table: String
    public var alias: String?
    public var whereClause: Expr?
    public var returning: [SelectItem]
}

/// One SQL statement.
public indirect enum Statement: Sendable, Hashable {
    case select(SelectStatement)
    case insert(Insert)
    case update(Update)
    case delete(Delete)
    case createTable(CreateTable)
    case dropTable([String], ifExists: Bool, cascade: Bool)
    case alterTable(String, ifExists: Bool, [AlterAction])
    case createIndex(name: String?, table: String, columns: [String], unique: Bool, ifNotExists: Bool)
    case dropIndex([String], ifExists: Bool)
    /// The view's query text is kept so the catalog stores SQL, not a tree.
    case createView(name: String, columns: [String], query: SelectStatement, sql: String, orReplace: Bool, ifNotExists: Bool)
    case dropView([String], ifExists: Bool)
    case truncate([String])
    case begin
    case commit
    case rollback
    case savepoint(String)
    case releaseSavepoint(String)
    case rollbackToSavepoint(String)
    case explain(Statement)
    /// `SET name = value` / `SET name TO value`.
    case set(String, String)
    case show(String)
    /// Statements accepted and ignored for compatibility (VACUUM, ANALYZE, ...).
    case noOp(String)
    /// `REINDEX [INDEX|TABLE] name`: indexes are always consistent, so this only checks the name.
    case reindex(String)
    /// `CREATE ROLE name [WITH] options` (`CREATE USER` is the same with LOGIN by default).
    case createRole(String, RoleOptions)
    /// `ALTER ROLE name [WITH] options`.
    case alterRole(String, RoleOptions)
    /// `ALTER ROLE name RENAME TO new` (SCRAM secrets do not depend on the name, so the password stays).
    case renameRole(String, to: String)
    /// `DROP ROLE [IF EXISTS] name, ...`.
    case dropRole([String], ifExists: Bool)
    /// `COPY ... FROM STDIN` / `COPY ... TO STDOUT`: the server moves the data.
    case copy(CopyStatement)
    /// `DEALLOCATE [PREPARE] name | ALL` (nil): drops a connection's prepared statements.
    case deallocate(String?)
}

/// A `COPY` statement: rows between a table (or a query's result) and the client.
public struct CopyStatement: Sendable, Hashable {
    /// What is copied: a table's columns (all when empty), or a query's result (TO only).
    public enum Target: Sendable, Hashable {
        case table(String, columns: [String])
        case query(SelectStatement)
    }
    /// The table or query.
    public var target: Target
    /// True for `FROM STDIN` (rows come in), false for `TO STDOUT` (rows go out).
    public var isFrom: Bool
    /// How rows are written as bytes.
    public var format: CopyFormat
}

/// COPY's text and CSV formats and their options.
public struct CopyFormat: Sendable, Hashable {
    /// `FORMAT csv` (true) or `FORMAT text` (false).
    public var csv = false
    /// The column separator: tab for text, comma for CSV.
    public var delimiter: UInt8 = 0x09
    /// How NULL is written: `\N` in text, an unquoted empty field in CSV.
    public var null = "\\N"
    /// CSV: a header line (skipped on input, written on output).
    public var header = false
    /// CSV: the quote character.
    public var quote: UInt8 = UInt8(ascii: "\"")
    /// CSV: the character that escapes a quote inside a quoted field.
    public var escape: UInt8 = UInt8(ascii: "\"")

    /// Text format with its defaults.
    public init() {}
}

/// The options of `CREATE ROLE` and `ALTER ROLE`; nil leaves a setting as it is (ALTER)
/// or at its default (CREATE).
public struct RoleOptions: Sendable, Hashable {
    /// LOGIN / NOLOGIN.
    public var login: Bool?
    /// SUPERUSER / NOSUPERUSER.
    public var superuser: Bool?
    /// `PASSWORD 'text'`: the new password, or `.some(nil)` for `PASSWORD NULL`.
    public var password: String??
    /// `CONNECTION LIMIT n` (-1: no limit).
    public var connectionLimit: Int?

    /// No options.
    public init() {}
}
