/// The built-in types as `pg_type` lists them and `format_type` names them.
extension SystemCatalog {
    struct BuiltinType {
        var oid: Int64
        var name: String
        var length: Int64
        var category: String
        /// The array type's OID, or the element's OID for an array type.
        var array: Int64 = 0
        var element: Int64 = 0
        /// What `format_type` prints.
        var display: String
    }

    static let types: [BuiltinType] = {
        let scalars: [(Int64, String, Int64, String, Int64, String)] = [
            (16, "bool", 1, "B", 1000, "boolean"), (17, "bytea", -1, "U", 1001, "bytea"), (18, "char", 1, "Z", 1002, "\"char\""),
            (19, "name", 64, "S", 1003, "name"), (20, "int8", 8, "N", 1016, "bigint"), (21, "int2", 2, "N", 1005, "smallint"),
            (23, "int4", 4, "N", 1007, "integer"), (25, "text", -1, "S", 1009, "text"), (26, "oid", 4, "N", 1028, "oid"),
            (114, "json", -1, "U", 199, "json"), (700, "float4", 4, "N", 1021, "real"), (701, "float8", 8, "N", 1022, "double precision"),
            (705, "unknown", -2, "X", 0, "unknown"), (1042, "bpchar", -1, "S", 1014, "character"),
            (1043, "varchar", -1, "S", 1015, "character varying"), (1082, "date", 4, "D", 1182, "date"),
            (1083, "time", 8, "D", 1183, "time without time zone"), (1114, "timestamp", 8, "D", 1115, "timestamp without time zone"),
            (1184, "timestamptz", 8, "D", 1185, "timestamp with time zone"), (1186, "interval", 16, "T", 1187, "interval"),
            (1700, "numeric", -1, "N", 1231, "numeric"), (2205, "regclass", 4, "N", 2210, "regclass"),
            (2206, "regtype", 4, "N", 2211, "regtype"), (2950, "uuid", 16, "U", 2951, "uuid"), (3802, "jsonb", -1, "U", 3807, "jsonb"),
            (4089, "regnamespace", 4, "N", 4090, "regnamespace"), (4096, "regrole", 4, "N", 4097, "regrole"),
        ]
        var out: [BuiltinType] = []
        for (oid, name, length, category, array, display) in scalars {
            out.append(BuiltinType(oid: oid, name: name, length: length, category: category, array: array, display: display))
            if array != 0 {
                out.append(BuiltinType(oid: array, name: "_" + name, length: -1, category: "A", element: oid, display: display + "[]"))
            }
        }
        return out
    }()

    static let typesByOid: [Int64: BuiltinType] = Dictionary(types.map { ($0.oid, $0) }, uniquingKeysWith: { a, _ in a })

    /// `format_type(oid, typmod)`: the type's SQL name with its modifiers.
    static func formatType(_ oid: Int64, _ typmod: Int64?) -> String? {
        guard let t = typesByOid[oid] else { return nil }
        guard let typmod, typmod >= 0 else { return t.display }
        switch oid {
        case 1042, 1043: return "\(t.display)(\(typmod - 4))"
        case 1700:
            let v = typmod - 4
            return "numeric(\((v >> 16) & 0xFFFF),\(v & 0xFFFF))"
        default: return t.display
        }
    }

    /// A column's type OID and modifier, as `pg_attribute` stores them.
    static func typeOid(of column: ColumnInfo) -> (oid: Int64, typmod: Int64) {
        if column.type == .text, let n = column.maxLength { return (1043, Int64(n) + 4) }
        return (Int64(column.type.oid), -1)
    }
}
