/// The rows of each system relation.
extension SystemCatalog {
    /// Column lists in a compact form: `name:kind`, kinds o (OID, bigint), t (text),
    /// b (boolean), i (integer), s (smallint), r (real), a (array), z (timestamptz).
    static let definitions: [String: String] = [
        "pg_namespace": "oid:o nspname:t nspowner:o nspacl:a",
        "pg_class": """
            oid:o relname:t relnamespace:o reltype:o reloftype:o relowner:o relam:o relfilenode:o reltablespace:o relpages:i \
            reltuples:r relallvisible:i reltoastrelid:o relhasindex:b relisshared:b relpersistence:t relkind:t relnatts:s \
            relchecks:s relhasrules:b relhastriggers:b relhassubclass:b relrowsecurity:b relforcerowsecurity:b relispopulated:b \
            relreplident:t relispartition:b relrewrite:o relfrozenxid:o relminmxid:o relacl:a reloptions:a relpartbound:t
            """,
        "pg_attribute": """
            attrelid:o attname:t atttypid:o attstattarget:i attlen:s attnum:s attndims:i attcacheoff:i atttypmod:i attbyval:b \
            attalign:t attstorage:t attcompression:t attnotnull:b atthasdef:b atthasmissing:b attidentity:t attgenerated:t \
            attisdropped:b attislocal:b attinhcount:i attcollation:o attacl:a attoptions:a attfdwoptions:a
            """,
        "pg_attrdef": "oid:o adrelid:o adnum:s adbin:t",
        "pg_type": """
            oid:o typname:t typnamespace:o typowner:o typlen:s typbyval:b typtype:t typcategory:t typispreferred:b \
            typisdefined:b typdelim:t typrelid:o typsubscript:o typelem:o typarray:o typinput:o typoutput:o typreceive:o \
            typsend:o typnotnull:b typbasetype:o typtypmod:i typndims:i typcollation:o typdefault:t typacl:a
            """,
        "pg_index": """
            indexrelid:o indrelid:o indnatts:s indnkeyatts:s indisunique:b indnullsnotdistinct:b indisprimary:b \
            indisexclusion:b indimmediate:b indisclustered:b indisvalid:b indcheckxmin:b indisready:b indislive:b \
            indisreplident:b indkey:t indcollation:t indclass:t indoption:t indexprs:t indpred:t
            """,
        "pg_constraint": """
            oid:o conname:t connamespace:o contype:t condeferrable:b condeferred:b convalidated:b conrelid:o contypid:o \
            conindid:o conparentid:o confrelid:o confupdtype:t confdeltype:t confmatchtype:t conislocal:b coninhcount:i \
            connoinherit:b conkey:a confkey:a conbin:t
            """,
        "pg_am": "oid:o amname:t amhandler:o amtype:t",
        "pg_database": """
            oid:o datname:t datdba:o encoding:i datlocprovider:t datistemplate:b datallowconn:b datconnlimit:i \
            datfrozenxid:o datminmxid:o dattablespace:o datcollate:t datctype:t daticulocale:t datcollversion:t datacl:a
            """,
        "pg_roles": """
            rolname:t rolsuper:b rolinherit:b rolcreaterole:b rolcreatedb:b rolcanlogin:b rolreplication:b rolconnlimit:i \
            rolpassword:t rolvaliduntil:z rolbypassrls:b rolconfig:a oid:o
            """,
        "pg_user": "usename:t usesysid:o usecreatedb:b usesuper:b userepl:b usebypassrls:b passwd:t valuntil:z useconfig:a",
        "pg_auth_members": "roleid:o member:o grantor:o admin_option:b",
        "pg_collation": """
            oid:o collname:t collnamespace:o collowner:o collprovider:t collisdeterministic:b collencoding:i collcollate:t \
            collctype:t
            """,
        "pg_settings": "name:t setting:t unit:t category:t short_desc:t context:t vartype:t source:t boot_val:t reset_val:t",
        "pg_tablespace": "oid:o spcname:t spcowner:o spcacl:a spcoptions:a",
        "pg_description": "objoid:o classoid:o objsubid:i description:t",
        "pg_shdescription": "objoid:o classoid:o description:t",
        "pg_policy": "oid:o polname:t polrelid:o polcmd:t polpermissive:b polroles:a polqual:t polwithcheck:t",
        "pg_statistic_ext": "oid:o stxrelid:o stxname:t stxnamespace:o stxowner:o stxstattarget:i stxkeys:t stxkind:a stxexprs:t",
        "pg_publication": """
            oid:o pubname:t pubowner:o puballtables:b pubinsert:b pubupdate:b pubdelete:b pubtruncate:b pubviaroot:b
            """,
        "pg_publication_namespace": "oid:o pnpubid:o pnnspid:o",
        "pg_publication_rel": "oid:o prpubid:o prrelid:o prqual:t prattrs:a",
        "pg_trigger": """
            oid:o tgrelid:o tgparentid:o tgname:t tgfoid:o tgtype:s tgenabled:t tgisinternal:b tgconstrrelid:o \
            tgconstrindid:o tgconstraint:o tgdeferrable:b tginitdeferred:b tgnargs:s tgattr:t tgargs:t tgqual:t \
            tgoldtable:t tgnewtable:t
            """,
        "pg_inherits": "inhrelid:o inhparent:o inhseqno:i inhdetachpending:b",
        "pg_rewrite": "oid:o rulename:t ev_class:o ev_type:t ev_enabled:t is_instead:b ev_qual:t ev_action:t",
        "pg_proc": "oid:o proname:t pronamespace:o proowner:o prokind:t prorettype:o proargtypes:t",
        "pg_extension": "oid:o extname:t extowner:o extnamespace:o extrelocatable:b extversion:t",
        "pg_enum": "oid:o enumtypid:o enumsortorder:r enumlabel:t",
        "pg_sequence": "seqrelid:o seqtypid:o seqstart:o seqincrement:o seqmax:o seqmin:o seqcache:o seqcycle:b",
        "pg_depend": "classid:o objid:o objsubid:i refclassid:o refobjid:o refobjsubid:i deptype:t",
        "pg_tables": "schemaname:t tablename:t tableowner:t tablespace:t hasindexes:b hasrules:b hastriggers:b rowsecurity:b",
        "pg_views": "schemaname:t viewname:t viewowner:t definition:t",
        "pg_indexes": "schemaname:t tablename:t indexname:t tablespace:t indexdef:t",
        "information_schema.schemata": """
            catalog_name:t schema_name:t schema_owner:t default_character_set_catalog:t default_character_set_schema:t \
            default_character_set_name:t sql_path:t
            """,
        "information_schema.tables": """
            table_catalog:t table_schema:t table_name:t table_type:t self_referencing_column_name:t reference_generation:t \
            user_defined_type_catalog:t user_defined_type_schema:t user_defined_type_name:t is_insertable_into:t is_typed:t \
            commit_action:t
            """,
        "information_schema.columns": """
            table_catalog:t table_schema:t table_name:t column_name:t ordinal_position:i column_default:t is_nullable:t \
            data_type:t character_maximum_length:i character_octet_length:i numeric_precision:i numeric_precision_radix:i \
            numeric_scale:i datetime_precision:i udt_catalog:t udt_schema:t udt_name:t is_identity:t is_generated:t \
            is_updatable:t
            """,
        "information_schema.views": """
            table_catalog:t table_schema:t table_name:t view_definition:t check_option:t is_updatable:t is_insertable_into:t
            """,
        "information_schema.table_constraints": """
            constraint_catalog:t constraint_schema:t constraint_name:t table_catalog:t table_schema:t table_name:t \
            constraint_type:t is_deferrable:t initially_deferred:t enforced:t
            """,
        "information_schema.key_column_usage": """
            constraint_catalog:t constraint_schema:t constraint_name:t table_catalog:t table_schema:t table_name:t \
            column_name:t ordinal_position:i position_in_unique_constraint:i
            """,
    ]

    static func columns(_ spec: String) -> [ResultColumn] {
        spec.split(whereSeparator: { $0 == " " || $0 == "\n" }).map { item in
            let parts = item.split(separator: ":")
            let type: SQLType = switch parts[1] {
            case "o": .bigint
            case "b": .boolean
            case "i": .integer
            case "s": .smallint
            case "r": .real
            case "a": .array
            case "z": .timestamptz
            default: .text
            }
            return ResultColumn(name: String(parts[0]), type: type)
        }
    }

    /// The relation `name` names (`pg_class`, `information_schema.tables`, ...), or nil.
    /// `viewColumns` plans a view for its output columns (nil when it no longer plans).
    func relation(_ name: String, viewColumns: (ViewInfo) -> [ResultColumn]?) -> Relation? {
        guard let spec = SystemCatalog.definitions[name] else { return nil }
        let cols = SystemCatalog.columns(spec)
        let rows = self.rows(name, viewColumns: viewColumns)
        return Relation(columns: cols, rows: rows.map { $0.map(\.expr) })
    }

    /// One cell: a constant, or an expression evaluated when the statement runs.
    enum Cell: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral, ExpressibleByNilLiteral {
        case value(SQLValue)
        case expr(BExpr)
        init(stringLiteral s: String) { self = .value(.text(s)) }
        init(integerLiteral i: Int64) { self = .value(.int(i)) }
        init(booleanLiteral b: Bool) { self = .value(.bool(b)) }
        init(nilLiteral: ()) { self = .value(.null) }
        static func text(_ s: String?) -> Cell { .value(s.map(SQLValue.text) ?? .null) }
        static func int(_ i: Int64) -> Cell { .value(.int(i)) }
        static func int(_ i: Int) -> Cell { .value(.int(Int64(i))) }
        static func bool(_ b: Bool) -> Cell { .value(.bool(b)) }
        var expr: BExpr {
            switch self {
            case .value(let v): .const(v)
            case .expr(let e): e
            }
        }
    }

    static let database = Cell.expr(.call(.current_database, []))

    func rows(_ name: String, viewColumns: (ViewInfo) -> [ResultColumn]?) -> [[Cell]] {
        let owner = ownerOid
        let ownerName = Cell.text(roleNames.first { $0.0 == owner }?.1)
        let tables = sortedTables
        let views = sortedViews
        switch name {
        case "pg_namespace":
            return SystemCatalog.namespaces.map { [.int($0.0), .text($0.1), .int(owner), nil] }
        case "pg_class":
            var out: [[Cell]] = []
            // PostgreSQL enforces foreign keys with triggers, and psql lists them only for tables that have some.
            let referenced = Set(tables.flatMap { $0.foreignKeys.map(\.table) })
            func add(_ oid: Int64, _ name: String, kind: String, am: Int64, natts: Int, checks: Int = 0, hasIndex: Bool = false, triggers: Bool = false) {
                out.append([.int(oid), .text(name), .int(SystemCatalog.publicNamespace), 0, 0, .int(owner), .int(am), .int(oid), 0, 0,
                            .value(.double(-1)), 0, 0, .bool(hasIndex), false, "p", .text(kind), .int(natts), .int(checks), false, .bool(triggers),
                            false, false, false, true, "d", false, 0, 0, 0, nil, nil, nil])
            }
            for t in tables {
                add(SystemCatalog.oid(table: t.id), t.name, kind: "r", am: SystemCatalog.heapAM, natts: t.columns.count,
                    checks: t.checks.count, hasIndex: !t.primaryKey.isEmpty || !t.indexes.isEmpty,
                    triggers: !t.foreignKeys.isEmpty || referenced.contains(t.name))
                if !t.primaryKey.isEmpty {
                    add(SystemCatalog.oid(primaryKeyOf: t), t.primaryKeyConstraintName, kind: "i", am: SystemCatalog.btreeAM, natts: t.primaryKey.count)
                }
                for i in t.indexes { add(SystemCatalog.oid(index: i, of: t), i.name, kind: "i", am: SystemCatalog.btreeAM, natts: i.columns.count) }
            }
            for v in views { add(SystemCatalog.oid(view: v.name), v.name, kind: "v", am: 0, natts: viewColumns(v)?.count ?? 0) }
            return out
        case "pg_attribute":
            var out: [[Cell]] = []
            func add(_ rel: Int64, _ name: String, _ typeOid: Int64, _ typmod: Int64, _ num: Int, notNull: Bool, hasDefault: Bool, dropped: Bool) {
                let t = SystemCatalog.typesByOid[typeOid]
                let collation: Int64 = t?.category == "S" ? SystemCatalog.defaultCollation : 0
                out.append([.int(rel), .text(name), .int(dropped ? 0 : typeOid), -1, .int(t?.length ?? -1), .int(num), 0, -1, .int(typmod),
                            .bool((t?.length ?? -1) > 0 && (t?.length ?? 9) <= 8), "i", (t?.length ?? -1) < 0 ? "x" : "p", "",
                            .bool(notNull), .bool(hasDefault), false, "", "", .bool(dropped), true, 0, .int(collation), nil, nil, nil])
            }
            for t in tables {
                let rel = SystemCatalog.oid(table: t.id)
                for (n, c) in t.columns.enumerated() {
                    let (oid, typmod) = SystemCatalog.typeOid(of: c)
                    add(rel, c.dropped ? "........pg.dropped.\(n + 1)........" : c.name, oid, typmod, n + 1,
                        notNull: c.notNull || t.primaryKey.contains(n), hasDefault: c.defaultSQL != nil, dropped: c.dropped)
                }
                func indexColumns(_ oid: Int64, _ cols: [Int]) {
                    for (n, c) in cols.enumerated() {
                        let (type, typmod) = SystemCatalog.typeOid(of: t.columns[c])
                        add(oid, t.columns[c].name, type, typmod, n + 1, notNull: false, hasDefault: false, dropped: false)
                    }
                }
                if !t.primaryKey.isEmpty { indexColumns(SystemCatalog.oid(primaryKeyOf: t), t.primaryKey) }
                for i in t.indexes { indexColumns(SystemCatalog.oid(index: i, of: t), i.columns) }
            }
            for v in views {
                for (n, c) in (viewColumns(v) ?? []).enumerated() {
                    add(SystemCatalog.oid(view: v.name), c.name, Int64(c.type.oid), -1, n + 1, notNull: false, hasDefault: false, dropped: false)
                }
            }
            return out
        case "pg_attrdef":
            var out: [[Cell]] = []
            for t in tables {
                for (n, c) in t.columns.enumerated() where !c.dropped {
                    if let d = c.defaultSQL {
                        out.append([.int(SystemCatalog.oid(table: t.id) + 4000 + Int64(n % 96)), .int(SystemCatalog.oid(table: t.id)), .int(n + 1), .text(d)])
                    }
                }
            }
            return out
        case "pg_type":
            return SystemCatalog.types.map { t in
                [.int(t.oid), .text(t.name), .int(SystemCatalog.catalogNamespace), .int(SystemCatalog.bootstrapRole), .int(t.length),
                 .bool(t.length > 0 && t.length <= 8), t.oid == 705 ? "p" : "b", .text(t.category), false, true, ",", 0, 0, .int(t.element),
                 .int(t.array), 0, 0, 0, 0, false, 0, -1, 0, .int(t.category == "S" ? SystemCatalog.defaultCollation : 0), nil, nil]
            }
        case "pg_index":
            var out: [[Cell]] = []
            for t in tables {
                func add(_ oid: Int64, _ cols: [Int], unique: Bool, primary: Bool) {
                    out.append([.int(oid), .int(SystemCatalog.oid(table: t.id)), .int(cols.count), .int(cols.count), .bool(unique), false,
                                .bool(primary), false, true, false, true, false, true, true, false,
                                .text(cols.map { String($0 + 1) }.joined(separator: " ")), "", "", "", nil, nil])
                }
                if !t.primaryKey.isEmpty { add(SystemCatalog.oid(primaryKeyOf: t), t.primaryKey, unique: true, primary: true) }
                for i in t.indexes { add(SystemCatalog.oid(index: i, of: t), i.columns, unique: i.unique, primary: false) }
            }
            return out
        case "pg_constraint":
            return constraints.map { c in
                let f = c.foreignKey
                let target = f.flatMap { catalog.tables[$0.table] }
                return [.int(c.oid), .text(c.name), .int(SystemCatalog.publicNamespace), .text(c.type), false, false, true,
                        .int(SystemCatalog.oid(table: c.table.id)), 0, .int(c.index), 0, .int(target.map { SystemCatalog.oid(table: $0.id) } ?? 0),
                        .text(f?.onUpdate.code ?? " "), .text(f?.onDelete.code ?? " "), .text(f == nil ? " " : "s"), true, 0, false,
                        .text(c.columns.isEmpty ? nil : ArrayText.format(c.columns.map { String($0 + 1) })),
                        .text(f.map { ArrayText.format($0.refColumns.map { String($0 + 1) }) }), .text(c.checkSQL)]
            }
        case "pg_am":
            return [[.int(SystemCatalog.heapAM), "heap", 0, "t"], [.int(SystemCatalog.btreeAM), "btree", 0, "i"]]
        case "pg_database":
            return [[.int(SystemCatalog.databaseOid), SystemCatalog.database, .int(owner), 6, "c", false, true, -1, 0, 0, 1663,
                     "C.UTF-8", "C.UTF-8", nil, nil, nil]]
        case "pg_roles":
            return roles.map { r in
                [.text(r.name), .bool(r.superuser), true, .bool(r.superuser), .bool(r.superuser), .bool(r.login), false,
                 .int(r.connectionLimit), "********", nil, .bool(r.superuser), nil, .int(SystemCatalog.oid(role: r.name))]
            }
        case "pg_user":
            return roles.filter(\.login).map { r in
                [.text(r.name), .int(SystemCatalog.oid(role: r.name)), .bool(r.superuser), .bool(r.superuser), false, .bool(r.superuser),
                 "********", nil, nil]
            }
        case "pg_collation":
            return [[.int(SystemCatalog.defaultCollation), "default", .int(SystemCatalog.catalogNamespace), .int(SystemCatalog.bootstrapRole),
                     "d", true, -1, nil, nil],
                    [950, "C", .int(SystemCatalog.catalogNamespace), .int(SystemCatalog.bootstrapRole), "c", true, -1, "C", "C"]]
        case "pg_settings":
            return Session.defaults.keys.sorted().map { key in
                [.text(key), .expr(.call(.current_setting, [.const(.text(key))])), nil, "", "", "user", "string", "default",
                 .text(Session.defaults[key]), .text(Session.defaults[key])]
            }
        case "pg_tablespace":
            return [[1663, "pg_default", .int(SystemCatalog.bootstrapRole), nil, nil], [1664, "pg_global", .int(SystemCatalog.bootstrapRole), nil, nil]]
        case "pg_tables":
            return tables.map { t in
                ["public", .text(t.name), ownerName, nil, .bool(!t.primaryKey.isEmpty || !t.indexes.isEmpty), false, false, false]
            }
        case "pg_views":
            return views.map { v in ["public", .text(v.name), ownerName, .text(v.sql)] }
        case "pg_indexes":
            let defs = Dictionary(indexDefinitions, uniquingKeysWith: { a, _ in a })
            var out: [[Cell]] = []
            for t in tables {
                if !t.primaryKey.isEmpty {
                    out.append(["public", .text(t.name), .text(t.primaryKeyConstraintName), nil, .text(defs[SystemCatalog.oid(primaryKeyOf: t)])])
                }
                for i in t.indexes { out.append(["public", .text(t.name), .text(i.name), nil, .text(defs[SystemCatalog.oid(index: i, of: t)])]) }
            }
            return out
        case "information_schema.schemata":
            return SystemCatalog.namespaces.map { [SystemCatalog.database, .text($0.1), ownerName, nil, nil, nil, nil] }
        case "information_schema.tables":
            return tables.map { [SystemCatalog.database, "public", .text($0.name), "BASE TABLE", nil, nil, nil, nil, nil, "YES", "NO", nil] }
                + views.map { [SystemCatalog.database, "public", .text($0.name), "VIEW", nil, nil, nil, nil, nil, "NO", "NO", nil] }
        case "information_schema.columns":
            var out: [[Cell]] = []
            func add(_ table: String, _ name: String, _ position: Int, _ column: ColumnInfo, nullable: Bool) {
                let (oid, _) = SystemCatalog.typeOid(of: column)
                let t = SystemCatalog.typesByOid[oid]
                let precision: Cell = switch column.type {
                case .smallint: 16
                case .integer: 32
                case .bigint: 64
                case .real: 24
                case .double: 53
                default: nil
                }
                out.append([SystemCatalog.database, "public", .text(table), .text(name), .int(position), .text(column.defaultSQL),
                            nullable ? "YES" : "NO", .text(t?.display ?? column.type.description), .value(column.maxLength.map { .int(Int64($0)) } ?? .null),
                            column.type == .text ? 1_073_741_824 : nil, precision, column.type.isNumeric && column.type != .numeric ? 2 : nil,
                            column.type.isInteger ? 0 : nil, nil, SystemCatalog.database, "pg_catalog", .text(t?.name), "NO", "NEVER", "YES"])
            }
            for t in tables {
                for (n, p) in t.visibleColumns.enumerated() {
                    add(t.name, t.columns[p].name, n + 1, t.columns[p], nullable: !(t.columns[p].notNull || t.primaryKey.contains(p)))
                }
            }
            for v in views {
                for (n, c) in (viewColumns(v) ?? []).enumerated() {
                    add(v.name, c.name, n + 1, ColumnInfo(name: c.name, type: c.type), nullable: true)
                }
            }
            return out
        case "information_schema.views":
            return views.map { [SystemCatalog.database, "public", .text($0.name), .text($0.sql), "NONE", "NO", "NO"] }
        case "information_schema.table_constraints":
            let kinds = ["p": "PRIMARY KEY", "u": "UNIQUE", "c": "CHECK", "f": "FOREIGN KEY"]
            return constraints.map { c in
                [SystemCatalog.database, "public", .text(c.name), SystemCatalog.database, "public", .text(c.table.name), .text(kinds[c.type]),
                 "NO", "NO", "YES"]
            }
        case "information_schema.key_column_usage":
            var out: [[Cell]] = []
            for c in constraints where c.type != "c" {
                for (n, col) in c.columns.enumerated() {
                    out.append([SystemCatalog.database, "public", .text(c.name), SystemCatalog.database, "public", .text(c.table.name),
                                .text(c.table.columns[col].name), .int(n + 1), c.type == "f" ? .int(n + 1) : nil])
                }
            }
            return out
        default:
            return []
        }
    }

    var roles: [RoleInfo] { catalog.roles.values.sorted { $0.name < $1.name } }
}
