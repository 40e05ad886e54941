/// A column or expression type of Strata's PostgreSQL-flavoured dialect.
///
/// The integer types share one in-memory representation (`Int64`); the type decides
/// the range an arithmetic result must fit (SQLSTATE 22003 outside it), as in PostgreSQL.
public enum SQLType: String, Sendable, Hashable, Codable, CustomStringConvertible {
    case boolean
    case smallint
    case integer
    case bigint
    case real
    case double
    case numeric
    case text
    case bytea
    case date
    case timestamp
    case timestamptz
    case uuid
    case json
    /// A one-dimensional array, held as PostgreSQL's text form (`{a,b,"c d"}`): what the
    /// system catalogs and `ARRAY[...]`/`ARRAY(query)` produce. Tables cannot store it.
    case array
    /// The type of a bare NULL or an untyped string literal before context decides.
    case unknown

    /// The name PostgreSQL prints for the type.
    public var description: String {
        switch self {
        case .boolean: "boolean"
        case .smallint: "smallint"
        case .integer: "integer"
        case .bigint: "bigint"
        case .real: "real"
        case .double: "double precision"
        case .numeric: "numeric"
        case .text: "text"
        case .bytea: "bytea"
        case .date: "date"
        case .timestamp: "timestamp without time zone"
        case .timestamptz: "timestamp with time zone"
        case .uuid: "uuid"
        case .json: "json"
        case .array: "text[]"
        case .unknown: "unknown"
        }
    }

    /// True for the integer types.
    public var isInteger: Bool { self == .smallint || self == .integer || self == .bigint }

    /// True for every type that takes part in arithmetic.
    public var isNumeric: Bool { isInteger || self == .real || self == .double || self == .numeric }

    /// Position in PostgreSQL's numeric promotion order (higher wins).
    var numericRank: Int {
        switch self {
        case .smallint: 1
        case .integer: 2
        case .bigint: 3
        case .numeric: 4
        case .real: 5
        case .double: 6
        default: 0
        }
    }

    /// The range an integer type holds.
    var integerRange: ClosedRange<Int64> {
        switch self {
        case .smallint: Int64(Int16.min)...Int64(Int16.max)
        case .integer: Int64(Int32.min)...Int64(Int32.max)
        default: Int64.min...Int64.max
        }
    }

    /// The PostgreSQL type OID, as clients see it.
    public var oid: UInt32 {
        switch self {
        case .boolean: 16
        case .smallint: 21
        case .integer: 23
        case .bigint: 20
        case .real: 700
        case .double: 701
        case .numeric: 1700
        case .text: 25
        case .bytea: 17
        case .date: 1082
        case .timestamp: 1114
        case .timestamptz: 1184
        case .uuid: 2950
        case .json: 114
        case .array: 1009
        case .unknown: 705
        }
    }

    /// The type a name (as written in DDL or a cast) stands for; nil when unknown.
    /// `words` are the lower-cased words of the name, e.g. `["double", "precision"]`.
    static func named(_ words: [String]) -> SQLType? {
        switch words.joined(separator: " ") {
        case "bool", "boolean": .boolean
        case "oid", "xid", "cid", "regproc", "regprocedure", "regoper", "regconfig", "regcollation": .bigint
        case "smallint", "int2": .smallint
        case "int", "integer", "int4", "mediumint", "tinyint": .integer
        case "bigint", "int8": .bigint
        case "real", "float4": .real
        case "double precision", "float8", "float", "double": .double
        case "numeric", "decimal", "dec": .numeric
        case "text", "varchar", "character varying", "char", "character", "string", "bpchar", "name", "clob", "\"char\"":
            .text
        case "bytea", "blob": .bytea
        case "date": .date
        case "timestamp", "timestamp without time zone", "datetime": .timestamp
        case "timestamptz", "timestamp with time zone": .timestamptz
        case "uuid": .uuid
        case "json", "jsonb": .json
        default: nil
        }
    }
}
