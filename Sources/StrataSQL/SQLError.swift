/// A place in SQL text: 1-based line and column (in Unicode scalars) and the byte offset.
public struct SourceLocation: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// 1-based line number.
    public var line: Int
    /// 1-based column, counted in Unicode scalars.
    public var column: Int
    /// 0-based byte offset into the UTF-8 text.
    public var offset: Int

    /// Creates a location.
    public init(line: Int, column: Int, offset: Int) {
        self.line = line
        self.column = column
        self.offset = offset
    }

    public var description: String { "line \(line), column \(column)" }
}

import StrataEngine

/// An error in SQL text or its execution, with the PostgreSQL SQLSTATE clients match on.
///
/// Match a kind with its code: `catch SQLError.syntaxError { ... }`.
public struct SQLError: CodedError, Equatable, Sendable, CustomStringConvertible {
    /// A kind of SQL error and its SQLSTATE (the same type the engine uses).
    public typealias Code = EngineError.Code

    /// The kind of error.
    public let code: Code
    /// What went wrong, for people.
    public let message: String
    /// Where in the SQL text, when the error is about the text.
    public let location: SourceLocation?

    /// Creates an error.
    public init(_ code: Code, _ message: String, at location: SourceLocation? = nil) {
        self.code = code
        self.message = message
        self.location = location
    }

    /// The SQLSTATE of the error's code.
    public var sqlState: String { code.sqlState }

    public var description: String {
        if let location { return "\(message) at \(location) [SQLSTATE \(code.sqlState)]" }
        return "\(message) [SQLSTATE \(code.sqlState)]"
    }

    /// The text is not valid SQL (42601).
    public static let syntaxError = Code(sqlState: "42601", name: "syntax error")
    /// The text nests deeper than the parser allows (54001, statement too complex).
    public static let tooComplex = Code(sqlState: "54001", name: "statement too complex")
    /// A string literal contains an invalid escape sequence (22025).
    public static let invalidEscape = Code(sqlState: "22025", name: "invalid escape sequence")
}

extension SQLError {
    /// The feature is not supported (0A000).
    public static let featureNotSupported = Code(sqlState: "0A000", name: "feature not supported")
    /// A type or other object named does not exist (42704).
    public static let undefinedObject = Code(sqlState: "42704", name: "undefined object")
    /// A table or view named does not exist (42P01).
    public static let undefinedTable = Code(sqlState: "42P01", name: "undefined table")
    /// A column named does not exist (42703).
    public static let undefinedColumn = Code(sqlState: "42703", name: "undefined column")
    /// A function or operator does not exist for these argument types (42883).
    public static let undefinedFunction = Code(sqlState: "42883", name: "undefined function")
    /// A table, view or index of that name exists already (42P07).
    public static let duplicateTable = Code(sqlState: "42P07", name: "duplicate table")
    /// A column of that name exists already (42701).
    public static let duplicateColumn = Code(sqlState: "42701", name: "duplicate column")
    /// An object of that name exists already (42710).
    public static let duplicateObject = Code(sqlState: "42710", name: "duplicate object")
    /// A column name matches more than one table (42702).
    public static let ambiguousColumn = Code(sqlState: "42702", name: "ambiguous column")
    /// Types do not match where they must (42804).
    public static let datatypeMismatch = Code(sqlState: "42804", name: "datatype mismatch")
    /// A column must appear in GROUP BY or be used in an aggregate (42803).
    public static let groupingError = Code(sqlState: "42803", name: "grouping error")
    /// A window function is misused (42P20).
    public static let windowingError = Code(sqlState: "42P20", name: "windowing error")
    /// ORDER BY or a column list names something invalid (42P10).
    public static let invalidColumnReference = Code(sqlState: "42P10", name: "invalid column reference")
    /// The object is of the wrong kind, e.g. DROP TABLE on a view (42809).
    public static let wrongObjectType = Code(sqlState: "42809", name: "wrong object type")
    /// Other objects depend on the one being dropped (2BP01).
    public static let dependentObjectsStillExist = Code(sqlState: "2BP01", name: "dependent objects still exist")
    /// A parameter's type cannot be determined (42P18).
    public static let indeterminateDatatype = Code(sqlState: "42P18", name: "indeterminate datatype")
    /// A number is outside its type's range (22003).
    public static let numericOutOfRange = Code(sqlState: "22003", name: "numeric value out of range")
    /// Division by zero (22012).
    public static let divisionByZero = Code(sqlState: "22012", name: "division by zero")
    /// Text cannot be converted to the type (22P02).
    public static let invalidTextRepresentation = Code(sqlState: "22P02", name: "invalid text representation")
    /// A date or time is malformed (22007).
    public static let invalidDatetimeFormat = Code(sqlState: "22007", name: "invalid datetime format")
    /// A string is longer than its column allows (22001).
    public static let stringDataRightTruncation = Code(sqlState: "22001", name: "string data right truncation")
    /// An argument has an invalid value (22023).
    public static let invalidParameterValue = Code(sqlState: "22023", name: "invalid parameter value")
    /// A regular expression does not compile (2201B).
    public static let invalidRegularExpression = Code(sqlState: "2201B", name: "invalid regular expression")
    /// A subquery used as a value returned more than one row (21000).
    public static let cardinalityViolation = Code(sqlState: "21000", name: "cardinality violation")
    /// A NOT NULL column would hold NULL (23502).
    public static let notNullViolation = Code(sqlState: "23502", name: "not null violation")
    /// A foreign key would be broken (23503).
    public static let foreignKeyViolation = Code(sqlState: "23503", name: "foreign key violation")
    /// A primary key or unique constraint would be broken (23505).
    public static let uniqueViolation = Code(sqlState: "23505", name: "unique violation")
    /// A CHECK constraint failed (23514).
    public static let checkViolation = Code(sqlState: "23514", name: "check violation")
    /// BEGIN inside a transaction (25001).
    public static let activeTransaction = Code(sqlState: "25001", name: "active sql transaction")
    /// COMMIT or SAVEPOINT outside a transaction (25P01).
    public static let noActiveTransaction = Code(sqlState: "25P01", name: "no active sql transaction")
    /// The transaction failed and ignores commands until ROLLBACK (25P02).
    public static let inFailedTransaction = Code(sqlState: "25P02", name: "in failed sql transaction")
    /// No savepoint of that name (3B001).
    public static let invalidSavepoint = Code(sqlState: "3B001", name: "invalid savepoint specification")
    /// A parameter `$n` was not supplied (08P01 in the protocol; 42P02 in SQL).
    public static let undefinedParameter = Code(sqlState: "42P02", name: "undefined parameter")
    /// A limit of the implementation was exceeded (54000).
    public static let programLimitExceeded = Code(sqlState: "54000", name: "program limit exceeded")
    /// An internal invariant failed (XX000).
    public static let internalError = Code(sqlState: "XX000", name: "internal error")
}

extension SQLError {
    /// Logarithm of zero or a negative number (2201E).
    public static let invalidArgumentForLog = Code(sqlState: "2201E", name: "invalid argument for logarithm")
    /// Square root or power of an invalid argument (2201F).
    public static let invalidArgumentForPower = Code(sqlState: "2201F", name: "invalid argument for power function")
}

extension SQLError {
    /// The same table name or alias appears twice in one FROM clause (42712).
    public static let duplicateAlias = Code(sqlState: "42712", name: "duplicate alias")
}

extension SQLError {
    /// LIMIT is negative (2201W).
    public static let invalidRowCountInLimit = Code(sqlState: "2201W", name: "invalid row count in limit clause")
    /// OFFSET is negative (2201X).
    public static let invalidRowCountInResultOffset = Code(sqlState: "2201X", name: "invalid row count in result offset clause")
}

extension SQLError {
    /// A recursive query does not have the form anchor UNION [ALL] step (42P19).
    public static let invalidRecursion = Code(sqlState: "42P19", name: "invalid recursion")
}

extension SQLError {
    /// An object is in use and cannot be changed that way, e.g. dropping the current role (55006).
    public static let objectInUse = Code(sqlState: "55006", name: "object in use")
    /// A name reserved for the system, e.g. a role named `pg_...` (42939).
    public static let reservedName = Code(sqlState: "42939", name: "reserved name")
}

extension SQLError {
    /// COPY data that does not follow its format (22P04).
    public static let badCopyFormat = Code(sqlState: "22P04", name: "bad copy file format")
    /// Bytes that are not valid UTF-8 (22021).
    public static let characterNotInRepertoire = Code(sqlState: "22021", name: "character not in repertoire")
}

extension SQLError {
    /// A statement ended at the client's request, e.g. a COPY the client failed (57014).
    public static let queryCanceled = Code(sqlState: "57014", name: "query canceled")
}
