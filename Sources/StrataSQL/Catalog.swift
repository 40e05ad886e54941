import FoundationEssentials
import StrataEngine
import Synchronization

/// A column of a table as the catalog stores it.
struct ColumnInfo: Codable, Sendable, Hashable {
    var name: String
    var type: SQLType
    /// `VARCHAR(n)` / `CHAR(n)` length limit.
    var maxLength: Int? = nil
    var notNull = false
    var defaultSQL: String? = nil
    /// Dropped columns keep their slot so stored rows stay positional.
    var dropped = false
    /// The value rows written before this column existed have (its default when added).
    var missing: [UInt8]? = nil
}

/// A secondary index (or the index behind a UNIQUE constraint).
struct IndexInfo: Codable, Sendable, Hashable {
    var id: UInt32
    var name: String
    var columns: [Int]
    var unique: Bool
    /// True when the index enforces a UNIQUE constraint declared with the table.
    var isConstraint = false
}

/// A CHECK constraint.
struct CheckInfo: Codable, Sendable, Hashable {
    var name: String
    var sql: String
}

/// A FOREIGN KEY constraint.
struct ForeignKeyInfo: Codable, Sendable, Hashable {
    var name: String
    var columns: [Int]
    var table: String
    var refColumns: [Int]
    var onDelete: ForeignKeyAction
    var onUpdate: ForeignKeyAction
}

/// A table's definition.
struct TableInfo: Codable, Sendable, Hashable {
    var id: UInt32 { didSet { rowPrefix = KeyLayout.tablePrefix(id, index: 0) } }
    var name: String
    var columns: [ColumnInfo] { didSet { visibleColumns = TableInfo.visible(columns) } }
    /// Column positions of the primary key; empty means rows are keyed by a hidden row id.
    var primaryKey: [Int]
    var primaryKeyName: String? = nil
    var indexes: [IndexInfo] = []
    var checks: [CheckInfo] = []
    var foreignKeys: [ForeignKeyInfo] = []
    var nextIndexId: UInt32 = 1

    /// Positions of the columns that are not dropped, in order (kept with `columns`: every
    /// row read or written asks for them).
    private(set) var visibleColumns: [Int]
    /// The key prefix of the rows (kept with `id`).
    private var rowPrefix: [UInt8]

    private enum CodingKeys: String, CodingKey {
        case id, name, columns, primaryKey, primaryKeyName, indexes, checks, foreignKeys, nextIndexId
    }

    init(id: UInt32, name: String, columns: [ColumnInfo], primaryKey: [Int], primaryKeyName: String? = nil) {
        self.id = id
        self.name = name
        self.columns = columns
        self.primaryKey = primaryKey
        self.primaryKeyName = primaryKeyName
        visibleColumns = TableInfo.visible(columns)
        rowPrefix = KeyLayout.tablePrefix(id, index: 0)
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(UInt32.self, forKey: .id)
        name = try c.decode(String.self, forKey: .name)
        columns = try c.decode([ColumnInfo].self, forKey: .columns)
        primaryKey = try c.decode([Int].self, forKey: .primaryKey)
        primaryKeyName = try c.decodeIfPresent(String.self, forKey: .primaryKeyName)
        indexes = try c.decodeIfPresent([IndexInfo].self, forKey: .indexes) ?? []
        checks = try c.decodeIfPresent([CheckInfo].self, forKey: .checks) ?? []
        foreignKeys = try c.decodeIfPresent([ForeignKeyInfo].self, forKey: .foreignKeys) ?? []
        nextIndexId = try c.decodeIfPresent(UInt32.self, forKey: .nextIndexId) ?? 1
        visibleColumns = TableInfo.visible(columns)
        rowPrefix = KeyLayout.tablePrefix(id, index: 0)
    }

    private static func visible(_ columns: [ColumnInfo]) -> [Int] {
        columns.indices.filter { !columns[$0].dropped }
    }

    func column(named name: String) -> Int? {
        columns.firstIndex { !$0.dropped && $0.name == name }
    }

    /// The key prefix of index `index` (0 is the rows themselves).
    func prefix(index: UInt32 = 0) -> [UInt8] { index == 0 ? rowPrefix : KeyLayout.tablePrefix(id, index: index) }
}

/// A view: its query's SQL, re-parsed when used.
struct ViewInfo: Codable, Sendable, Hashable {
    var name: String
    var sql: String
    var columns: [String]
}

/// A role: who may log in to `strata serve`, and with which password secret.
struct RoleInfo: Codable, Sendable, Hashable {
    var name: String
    var login: Bool
    var superuser: Bool
    /// The SCRAM-SHA-256 secret in PostgreSQL's text form; nil when the role has no password.
    var secret: String?
    /// Connections the role may have open at once; -1 for no limit.
    var connectionLimit: Int = -1
}

/// The catalog's bookkeeping record: a version that every DDL bumps, and the next object id.
struct CatalogMeta: Codable, Sendable {
    var version: UInt64 = 0
    var nextId: UInt32 = 1
}

/// Where things live in the key space.
enum KeyLayout {
    static let catalogPrefix: [UInt8] = [0x00]
    static let metaKey: [UInt8] = [0x00, UInt8(ascii: "M")]
    static let tablePrefixByte = UInt8(ascii: "T")
    static let viewPrefixByte = UInt8(ascii: "V")
    static let rolePrefixByte = UInt8(ascii: "R")

    static func tableKey(_ name: String) -> [UInt8] { [0x00, tablePrefixByte] + Array(name.utf8) }
    static func viewKey(_ name: String) -> [UInt8] { [0x00, viewPrefixByte] + Array(name.utf8) }
    static func roleKey(_ name: String) -> [UInt8] { [0x00, rolePrefixByte] + Array(name.utf8) }

    /// The prefix of every key of a table: its rows and all its indexes.
    static func tableSpace(_ table: UInt32) -> [UInt8] {
        var out: [UInt8] = [0x01]
        out.reserveCapacity(32)
        appendBigEndian(table, to: &out)
        return out
    }

    static func tablePrefix(_ table: UInt32, index: UInt32) -> [UInt8] {
        var out = tableSpace(table)
        appendBigEndian(index, to: &out)
        return out
    }

    @inline(__always) private static func appendBigEndian(_ v: UInt32, to out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: v >> 24))
        out.append(UInt8(truncatingIfNeeded: v >> 16))
        out.append(UInt8(truncatingIfNeeded: v >> 8))
        out.append(UInt8(truncatingIfNeeded: v))
    }
}

/// An immutable view of every table and view at one catalog version.
final class Catalog: Sendable {
    let version: UInt64
    let nextId: UInt32
    let tables: [String: TableInfo]
    let views: [String: ViewInfo]
    /// Roles, by name.
    let roles: [String: RoleInfo]
    /// Table bindings made so far, by table id.
    let bindings = Mutex<[UInt32: TableBinding]>([:])

    init(version: UInt64, nextId: UInt32, tables: [String: TableInfo], views: [String: ViewInfo], roles: [String: RoleInfo] = [:]) {
        self.version = version
        self.nextId = nextId
        self.tables = tables
        self.views = views
        self.roles = roles
    }

    static let empty = Catalog(version: 0, nextId: 1, tables: [:], views: [:])

    /// The table that owns index `name`, if any.
    func indexOwner(_ name: String) -> (table: TableInfo, index: IndexInfo)? {
        for t in tables.values {
            if let i = t.indexes.first(where: { $0.name == name }) { return (t, i) }
        }
        return nil
    }

    /// True when a table, view or index already uses `name` (PostgreSQL keeps one namespace).
    func nameInUse(_ name: String) -> Bool {
        tables[name] != nil || views[name] != nil || indexOwner(name) != nil
    }

    /// Loads the catalog from the pairs under the catalog prefix.
    static func decode(_ pairs: [KeyValue]) throws -> Catalog {
        let decoder = JSONDecoder()
        var meta = CatalogMeta()
        var tables: [String: TableInfo] = [:]
        var views: [String: ViewInfo] = [:]
        var roles: [String: RoleInfo] = [:]
        do {
            for kv in pairs {
                guard kv.key.count >= 2 else { continue }
                switch kv.key[1] {
                case UInt8(ascii: "M"): meta = try decoder.decode(CatalogMeta.self, from: Data(kv.value))
                case KeyLayout.tablePrefixByte:
                    let t = try decoder.decode(TableInfo.self, from: Data(kv.value))
                    tables[t.name] = t
                case KeyLayout.viewPrefixByte:
                    let v = try decoder.decode(ViewInfo.self, from: Data(kv.value))
                    views[v.name] = v
                case KeyLayout.rolePrefixByte:
                    let r = try decoder.decode(RoleInfo.self, from: Data(kv.value))
                    roles[r.name] = r
                default: continue
                }
            }
        } catch {
            throw SQLError(EngineError.corrupt, "the catalog is malformed: \(error)")
        }
        return Catalog(version: meta.version, nextId: meta.nextId, tables: tables, views: views, roles: roles)
    }

    static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array((try? encoder.encode(value)) ?? Data())
    }
}

/// What statements need of one table beyond its definition, worked out once per catalog:
/// visible columns, the row key prefix, a row decoder and the bound CHECK and DEFAULT
/// expressions (so a prepared INSERT or UPDATE does not parse and bind them per row).
final class TableBinding: Sendable {
    struct Check: Sendable {
        let name: String
        /// Bound over the table's visible columns, in order.
        let expr: BExpr
    }

    let table: TableInfo
    let visible: [Int]
    let prefix: [UInt8]
    let decoder: PhysicalRowDecoder
    let checks: [Check]
    /// Per physical column: the bound DEFAULT expression, nil for none (NULL).
    let defaults: [BExpr?]
    /// Per physical column: type, length limit and NOT NULL, for checking rows without copying column definitions.
    let types: [SQLType]
    let maxLengths: [Int?]
    let notNull: [Bool]
    /// The table's key columns and secondary indexes, kept apart so a row's writes need
    /// no copy of the whole table description.
    let primaryKey: [Int]
    let indexes: [IndexInfo]
    /// Sequences the defaults take values from: an INSERT reserves values of these first.
    let sequences: [String]

    init(_ table: TableInfo, catalog: Catalog) throws {
        self.table = table
        primaryKey = table.primaryKey
        indexes = table.indexes
        visible = table.visibleColumns
        prefix = table.prefix()
        decoder = try PhysicalRowDecoder(table)
        types = table.columns.map(\.type)
        maxLengths = table.columns.map(\.maxLength)
        notNull = table.columns.map(\.notNull)
        let planner = Planner(catalog: catalog)
        let scope = Scope(parent: nil)
        scope.add(table.name, visible.map { ResultColumn(name: table.columns[$0].name, type: table.columns[$0].type) })
        checks = try table.checks.map { Check(name: $0.name, expr: try planner.bind(try Parser.expressionOnly($0.sql), scope).0) }
        defaults = try table.columns.map { c in
            guard let sql = c.defaultSQL else { return nil }
            return try planner.bind(try Parser.expressionOnly(sql), Scope(parent: nil)).0
        }
        sequences = defaults.compactMap { d in
            if case .call(.nextval, let args)? = d, case .const(.text(let name)) = args.first { return name }
            return nil
        }
    }
}

extension TableInfo {
    /// The key of an index entry: the indexed values, then the row's key suffix (so
    /// entries of equal values stay distinct).
    func indexKey(_ index: IndexInfo, _ row: [SQLValue], rowKey: [UInt8]) -> [UInt8] {
        var key = KeyEncoding.encode(index.columns.map { row[$0] }, prefix: prefix(index: index.id))
        key.append(contentsOf: rowKey[prefix().count...])
        return key
    }

    /// The primary key constraint's name (PostgreSQL's default: `<table>_pkey`).
    var primaryKeyConstraintName: String { primaryKeyName ?? "\(name)_pkey" }

    /// The error for a row whose primary key already exists.
    func primaryKeyViolation(_ row: [SQLValue]) -> SQLError {
        uniqueViolation(primaryKeyConstraintName, primaryKey, row)
    }

    /// The error for a row whose `cols` values already exist under unique constraint `name`.
    func uniqueViolation(_ name: String, _ cols: [Int], _ row: [SQLValue]) -> SQLError {
        let names = cols.map { columns[$0].name }.joined(separator: ", ")
        let values = cols.map { row[$0].text ?? "null" }.joined(separator: ", ")
        return SQLError(SQLError.uniqueViolation, "duplicate key value violates unique constraint \"\(name)\": Key (\(names))=(\(values)) already exists.")
    }
}

extension TableBinding {
    /// The key of `row` (physical values) in a table with a primary key.
    func rowKey(_ row: [SQLValue]) -> [UInt8] {
        var key = KeyEncoding.start(prefix, columns: primaryKey.count)
        for p in primaryKey { KeyEncoding.append(row[p], to: &key) }
        return key
    }

    /// Checks NOT NULL and CHECK constraints and converts values to column types.
    func validate(_ row: inout [SQLValue], _ context: () -> EvalContext) throws {
        for p in visible {
            let type = types[p]
            switch (row[p], type) {
            case (.null, _), (.int, .bigint), (.double, .double), (.bool, .boolean): break
            case (.text, .text) where maxLengths[p] == nil: break
            default: row[p] = try Cast.cast(row[p], to: type, length: maxLengths[p], explicit: false)
            }
            if notNull[p] && row[p].isNull {
                throw SQLError(SQLError.notNullViolation, "null value in column \"\(table.columns[p].name)\" of relation \"\(table.name)\" violates not-null constraint")
            }
        }
        if !checks.isEmpty {
            let values = visible.map { row[$0] }
            let ctx = context()
            for check in checks {
                if case .bool(false) = try Evaluator.eval(check.expr, values, ctx) {
                    throw SQLError(SQLError.checkViolation, "new row for relation \"\(table.name)\" violates check constraint \"\(check.name)\"")
                }
            }
        }
    }
}

extension Catalog {
    /// The binding of `table` (normally one of this catalog's tables; a table being
    /// altered gets a fresh binding).
    func binding(_ table: TableInfo) throws -> TableBinding {
        if let b = bindings.withLock({ $0[table.id] }), b.table == table { return b }
        let b = try TableBinding(table, catalog: self)
        bindings.withLock { $0[table.id] = b }
        return b
    }
}
