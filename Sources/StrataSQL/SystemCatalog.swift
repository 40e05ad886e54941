/// PostgreSQL's system catalogs (`pg_catalog`) and `information_schema`, as relations
/// computed from one version of Strata's catalog when a statement names them: what
/// psql's `\d`, drivers and ORMs read to learn about a database.
///
/// Every table, view, index and constraint gets a stable OID derived from its catalog
/// id; functions such as `pg_get_indexdef(oid)` and casts to `regclass` are bound to
/// look-ups over the same catalog (see `Planner+System.swift`).
struct SystemCatalog {
    let catalog: Catalog

    init(_ catalog: Catalog) { self.catalog = catalog }

    /// A computed relation: its columns and constant rows.
    struct Relation {
        var columns: [ResultColumn]
        var rows: [[BExpr]]
    }

    // MARK: OIDs

    static let catalogNamespace: Int64 = 11
    static let publicNamespace: Int64 = 2200
    static let informationSchemaNamespace: Int64 = 13_000
    static let databaseOid: Int64 = 16_383
    static let bootstrapRole: Int64 = 10
    static let heapAM: Int64 = 2
    static let btreeAM: Int64 = 403
    static let defaultCollation: Int64 = 100

    /// A table's OID; its indexes and constraints take the OIDs that follow.
    static func oid(table id: UInt32) -> Int64 { 16_384 + Int64(id) * 4096 }
    /// The OID of a table's primary-key index (index 0 is the rows themselves).
    static func oid(primaryKeyOf table: TableInfo) -> Int64 { oid(table: table.id) + 1 }
    static func oid(index: IndexInfo, of table: TableInfo) -> Int64 { oid(table: table.id) + 1 + Int64(index.id % 1023) }
    /// A PRIMARY KEY or UNIQUE constraint's OID, next to its index's.
    static func constraintOid(index: Int64) -> Int64 { index + 1024 }
    static func oid(check n: Int, of table: TableInfo) -> Int64 { oid(table: table.id) + 2048 + Int64(n % 1024) }
    static func oid(foreignKey n: Int, of table: TableInfo) -> Int64 { oid(table: table.id) + 3072 + Int64(n % 1024) }
    /// Views and roles have no catalog id: their OIDs hash their names (FNV-1a).
    static func oid(view name: String) -> Int64 { 2_000_000_000 + hash(name) % 1_000_000_000 }
    static func oid(role name: String) -> Int64 { 3_000_000_000 + hash(name) % 1_000_000_000 }

    static func hash(_ s: String) -> Int64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        return Int64(h >> 1)
    }

    /// The role shown as every object's owner: the first superuser by name, else the bootstrap role.
    var ownerOid: Int64 {
        catalog.roles.values.filter(\.superuser).map(\.name).min().map(SystemCatalog.oid(role:)) ?? SystemCatalog.bootstrapRole
    }

    var sortedTables: [TableInfo] { catalog.tables.values.sorted { $0.id < $1.id } }
    var sortedViews: [ViewInfo] { catalog.views.values.sorted { $0.name < $1.name } }

    // MARK: Look-ups for functions and casts

    /// Every relation (table, view, index) by OID.
    var relationNames: [(Int64, String)] {
        var out: [(Int64, String)] = []
        for t in sortedTables {
            out.append((SystemCatalog.oid(table: t.id), t.name))
            if !t.primaryKey.isEmpty { out.append((SystemCatalog.oid(primaryKeyOf: t), t.primaryKeyConstraintName)) }
            for i in t.indexes { out.append((SystemCatalog.oid(index: i, of: t), i.name)) }
        }
        for v in sortedViews { out.append((SystemCatalog.oid(view: v.name), v.name)) }
        return out
    }

    /// Roles by OID, the bootstrap role included.
    var roleNames: [(Int64, String)] {
        [(SystemCatalog.bootstrapRole, "strata")] + catalog.roles.keys.sorted().map { (SystemCatalog.oid(role: $0), $0) }
    }

    static let namespaces: [(Int64, String)] = [
        (catalogNamespace, "pg_catalog"), (publicNamespace, "public"), (informationSchemaNamespace, "information_schema"),
    ]

    /// `pg_get_indexdef` for every index, by OID.
    var indexDefinitions: [(Int64, String)] {
        var out: [(Int64, String)] = []
        for t in sortedTables {
            func def(_ name: String, _ unique: Bool, _ cols: [Int]) -> String {
                "CREATE \(unique ? "UNIQUE " : "")INDEX \(quoted(name)) ON public.\(quoted(t.name)) USING btree (\(cols.map { quoted(t.columns[$0].name) }.joined(separator: ", ")))"
            }
            if !t.primaryKey.isEmpty { out.append((SystemCatalog.oid(primaryKeyOf: t), def(t.primaryKeyConstraintName, true, t.primaryKey))) }
            for i in t.indexes { out.append((SystemCatalog.oid(index: i, of: t), def(i.name, i.unique, i.columns))) }
        }
        return out
    }

    /// One constraint as `pg_constraint` and `pg_get_constraintdef` describe it.
    struct Constraint {
        var oid: Int64
        var name: String
        var table: TableInfo
        /// p, u, c or f.
        var type: String
        var index: Int64
        var columns: [Int]
        var definition: String
        var foreignKey: ForeignKeyInfo?
        var checkSQL: String?
    }

    var constraints: [Constraint] {
        var out: [Constraint] = []
        for t in sortedTables {
            let names = { (cols: [Int]) in cols.map { quoted(t.columns[$0].name) }.joined(separator: ", ") }
            if !t.primaryKey.isEmpty {
                let index = SystemCatalog.oid(primaryKeyOf: t)
                out.append(Constraint(oid: SystemCatalog.constraintOid(index: index), name: t.primaryKeyConstraintName, table: t, type: "p",
                                      index: index, columns: t.primaryKey, definition: "PRIMARY KEY (\(names(t.primaryKey)))"))
            }
            for i in t.indexes where i.isConstraint {
                let index = SystemCatalog.oid(index: i, of: t)
                out.append(Constraint(oid: SystemCatalog.constraintOid(index: index), name: i.name, table: t, type: "u",
                                      index: index, columns: i.columns, definition: "UNIQUE (\(names(i.columns)))"))
            }
            for (n, c) in t.checks.enumerated() {
                out.append(Constraint(oid: SystemCatalog.oid(check: n, of: t), name: c.name, table: t, type: "c", index: 0,
                                      columns: [], definition: "CHECK ((\(c.sql)))", checkSQL: c.sql))
            }
            for (n, f) in t.foreignKeys.enumerated() {
                let target = catalog.tables[f.table]
                let refNames = f.refColumns.map { c in target.map { quoted($0.columns[c].name) } ?? String(c + 1) }.joined(separator: ", ")
                var def = "FOREIGN KEY (\(names(f.columns))) REFERENCES \(quoted(f.table))(\(refNames))"
                if f.onUpdate != .noAction { def += " ON UPDATE \(f.onUpdate.sql)" }
                if f.onDelete != .noAction { def += " ON DELETE \(f.onDelete.sql)" }
                out.append(Constraint(oid: SystemCatalog.oid(foreignKey: n, of: t), name: f.name, table: t, type: "f", index: 0,
                                      columns: f.columns, definition: def, foreignKey: f))
            }
        }
        return out
    }

    /// An identifier as PostgreSQL prints it: quoted unless plain lower case.
    func quoted(_ name: String) -> String { SystemCatalog.quoteIdentifier(name) }

    static func quoteIdentifier(_ name: String) -> String {
        let plain = !name.isEmpty && name.utf8.first.map { ($0 >= 97 && $0 <= 122) || $0 == 95 } == true
            && name.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 }
            && !Parser.reserved.contains(name)
        return plain ? name : Session.quoted(name)
    }
}

extension ForeignKeyAction {
    /// The action as SQL writes it.
    var sql: String {
        switch self {
        case .noAction: "NO ACTION"
        case .restrict: "RESTRICT"
        case .cascade: "CASCADE"
        case .setNull: "SET NULL"
        case .setDefault: "SET DEFAULT"
        }
    }

    /// `pg_constraint.confupdtype`/`confdeltype`.
    var code: String {
        switch self {
        case .noAction: "a"
        case .restrict: "r"
        case .cascade: "c"
        case .setNull: "n"
        case .setDefault: "d"
        }
    }
}
