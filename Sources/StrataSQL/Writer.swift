import FoundationEssentials
import StrataEngine

/// Carries out data-changing statements (DML and DDL) inside one engine transaction.
final class Writer {
    let session: Session
    let tx: Transaction
    var catalog: Catalog
    let parameters: [SQLValue]
    let now: Int64
    let source: ReadSource

    init(session: Session, tx: Transaction, catalog: Catalog, parameters: [SQLValue], now: Int64) {
        self.session = session
        self.tx = tx
        self.catalog = catalog
        self.parameters = parameters
        self.now = now
        source = .transaction(tx)
    }

    func context() -> EvalContext { session.context(parameters, statementTime: now) }

    func run(_ statement: Statement) async throws -> StatementResult {
        switch statement {
        case .createTable(let c): return try await createTable(c)
        case .dropTable(let names, let ifExists, let cascade): return try await dropTables(names, ifExists, cascade)
        case .createIndex(let name, let table, let columns, let unique, let ifNotExists):
            return try await createIndex(name, table, columns, unique, ifNotExists)
        case .dropIndex(let names, let ifExists): return try await dropIndexes(names, ifExists)
        case .createView(let name, let columns, let query, let sql, let orReplace, let ifNotExists):
            return try await createView(name, columns, query, sql, orReplace, ifNotExists)
        case .dropView(let names, let ifExists): return try await dropViews(names, ifExists)
        case .insert(let i): return try await insert(i)
        case .update(let u): return try await update(u)
        case .delete(let d): return try await delete(d)
        case .truncate(let names):
            for n in names {
                guard let t = catalog.tables[n] else { throw SQLError(SQLError.undefinedTable, "relation \"\(n)\" does not exist") }
                if let other = catalog.tables.values.first(where: { o in !names.contains(o.name) && o.foreignKeys.contains { $0.table == n } }) {
                    throw SQLError(SQLError.featureNotSupported, "cannot truncate a table referenced in a foreign key constraint: table \"\(other.name)\" references \"\(n)\"")
                }
                try await deleteAll(t)
            }
            return StatementResult(tag: "TRUNCATE TABLE")
        case .reindex(let name):
            guard catalog.tables[name] != nil || catalog.indexOwner(name) != nil || name == "strata" else {
                throw SQLError(SQLError.undefinedObject, "relation \"\(name)\" does not exist")
            }
            return StatementResult(tag: "REINDEX")
        case .alterTable(let name, let ifExists, let actions):
            return try await alterTable(name, ifExists, actions)
        case .createRole, .alterRole, .renameRole, .dropRole:
            return try await runRoleStatement(statement)
        default:
            throw SQLError(SQLError.featureNotSupported, "statement not supported")
        }
    }

    // MARK: Catalog changes

    /// Records a catalog change: bumps the version (so every cache and concurrent
    /// transaction notices) and returns a fresh object id.
    func bumpCatalog() async throws -> UInt32 {
        var meta = CatalogMeta()
        if let bytes = try await tx.get(KeyLayout.metaKey) {
            meta = try JSONDecoder().decode(CatalogMeta.self, from: Data(bytes))
        }
        meta.version += 1
        let id = meta.nextId
        meta.nextId += 1
        tx.put(KeyLayout.metaKey, Catalog.encode(meta))
        session.catalogDirty = true
        return id
    }

    func save(_ t: TableInfo) { tx.put(KeyLayout.tableKey(t.name), Catalog.encode(t)) }

    func reloadCatalog() async throws { catalog = try await session.loadCatalog(source) }

    func createTable(_ c: CreateTable) async throws -> StatementResult {
        if catalog.nameInUse(c.name) {
            if c.ifNotExists { return StatementResult(tag: "CREATE TABLE") }
            throw SQLError(SQLError.duplicateTable, "relation \"\(c.name)\" already exists")
        }
        var columns: [ColumnInfo] = []
        var primaryKey: [Int] = []
        var checks: [CheckInfo] = []
        var uniques: [([Int], String?)] = []
        var foreignKeys: [([String], ForeignKeyDefinition, String?)] = []
        var queryRows: [[SQLValue]]? = nil
        if let q = c.asQuery {
            let planner = Planner(catalog: catalog)
            let prepared = try planner.prepare(q)
            let exec = Executor(engine: session.engine, source: source, snapshots: [], subqueries: prepared.subqueries, ctes: prepared.ctes, ctx: context())
            queryRows = try await exec.run(prepared.plan)
            columns = prepared.columns.map { ColumnInfo(name: $0.name, type: $0.type == .unknown ? .text : $0.type) }
        }
        for def in c.columns {
            if columns.contains(where: { $0.name == def.name }) {
                throw SQLError(SQLError.duplicateColumn, "column \"\(def.name)\" specified more than once")
            }
            var col = ColumnInfo(name: def.name, type: def.type.type)
            if def.type.type == .text, let n = def.type.modifiers.first { col.maxLength = n }
            col.notNull = def.notNull || def.primaryKey
            col.defaultSQL = def.defaultSQL
            let index = columns.count
            if def.primaryKey {
                guard primaryKey.isEmpty else { throw SQLError(SQLError.invalidTableDefinition, "multiple primary keys for table \"\(c.name)\" are not allowed") }
                primaryKey = [index]
            }
            if def.unique { uniques.append(([index], nil)) }
            for (k, check) in def.checks.enumerated() {
                checks.append(CheckInfo(name: "\(c.name)_\(def.name)_check\(k == 0 ? "" : String(k))", sql: check))
            }
            if let fk = def.references { foreignKeys.append(([def.name], fk, nil)) }
            columns.append(col)
        }
        func positions(_ names: [String]) throws -> [Int] {
            try names.map { n in
                guard let i = columns.firstIndex(where: { $0.name == n }) else {
                    throw SQLError(SQLError.undefinedColumn, "column \"\(n)\" named in key does not exist")
                }
                return i
            }
        }
        var pkName: String? = nil
        for con in c.constraints {
            switch con {
            case .primaryKey(let names, let name):
                guard primaryKey.isEmpty else { throw SQLError(SQLError.invalidTableDefinition, "multiple primary keys for table \"\(c.name)\" are not allowed") }
                primaryKey = try positions(names)
                pkName = name
                for p in primaryKey { columns[p].notNull = true }
            case .unique(let names, let name): uniques.append((try positions(names), name))
            case .check(let sql, let name): checks.append(CheckInfo(name: name ?? "\(c.name)_check\(checks.isEmpty ? "" : String(checks.count))", sql: sql))
            case .foreignKey(let cols, let fk, let name): foreignKeys.append((cols, fk, name))
            }
        }
        let id = try await bumpCatalog()
        var table = TableInfo(id: id, name: c.name, columns: columns, primaryKey: primaryKey, primaryKeyName: pkName)
        table.checks = checks
        for (cols, name) in uniques where cols != primaryKey {
            let n = name ?? "\(c.name)_\(cols.map { columns[$0].name }.joined(separator: "_"))_key"
            table.indexes.append(IndexInfo(id: table.nextIndexId, name: n, columns: cols, unique: true, isConstraint: true))
            table.nextIndexId += 1
        }
        for (cols, fk, name) in foreignKeys {
            table.foreignKeys.append(try foreignKey(table, try positions(cols), fk, name))
        }
        // Validate defaults and checks now, as PostgreSQL does.
        let rowScope = Scope(parent: nil)
        rowScope.add(c.name, table.visibleColumns.map { ResultColumn(name: columns[$0].name, type: columns[$0].type) })
        for check in checks { _ = try Planner(catalog: catalog).bind(try Parser.expressionOnly(check.sql), rowScope) }
        for col in columns { if let d = col.defaultSQL { _ = try Planner(catalog: catalog).bind(try Parser.expressionOnly(d), Scope(parent: nil)) } }
        save(table)
        try await reloadCatalog()
        if let rows = queryRows {
            for r in rows { _ = try await insertRow(table, r, onConflict: nil) }
            return StatementResult(tag: "SELECT \(rows.count)", rowsAffected: rows.count)
        }
        return StatementResult(tag: "CREATE TABLE")
    }

    /// Deletes a table's rows and index entries.
    func deleteAll(_ t: TableInfo) async throws { try await deleteKeys(withPrefix: KeyLayout.tableSpace(t.id)) }

    /// Deletes every key that starts with `prefix`.
    func deleteKeys(withPrefix prefix: [UInt8]) async throws {
        try await source.forEach(in: KeyRange.prefix(prefix), chunk: 4096) { key, _ in tx.delete(key) }
    }

    func dropTables(_ names: [String], _ ifExists: Bool, _ cascade: Bool) async throws -> StatementResult {
        for n in names {
            guard let t = catalog.tables[n] else {
                if ifExists { continue }
                if catalog.views[n] != nil { throw SQLError(SQLError.wrongObjectType, "\"\(n)\" is not a table") }
                throw SQLError(SQLError.undefinedTable, "table \"\(n)\" does not exist")
            }
            for other in catalog.tables.values where other.name != n && other.foreignKeys.contains(where: { $0.table == n }) {
                guard cascade else {
                    throw SQLError(SQLError.dependentObjectsStillExist, "cannot drop table \(n) because other objects depend on it: a foreign key of table \(other.name)")
                }
                var changed = other
                changed.foreignKeys.removeAll { $0.table == n }
                save(changed)
            }
            _ = try await bumpCatalog()
            try await deleteAll(t)
            tx.delete(KeyLayout.tableKey(n))
            try await reloadCatalog()
        }
        return StatementResult(tag: "DROP TABLE")
    }

    func createIndex(_ name: String?, _ tableName: String, _ columns: [String], _ unique: Bool, _ ifNotExists: Bool) async throws -> StatementResult {
        guard var table = catalog.tables[tableName] else {
            throw SQLError(SQLError.undefinedTable, "relation \"\(tableName)\" does not exist")
        }
        let cols = try columns.map { c in
            guard let i = table.column(named: c) else { throw SQLError(SQLError.undefinedColumn, "column \"\(c)\" does not exist") }
            return i
        }
        var indexName = name ?? "\(tableName)_\(columns.joined(separator: "_"))_idx"
        if name == nil {
            var k = 1
            while catalog.nameInUse(indexName) {
                indexName = "\(tableName)_\(columns.joined(separator: "_"))_idx\(k)"
                k += 1
            }
        }
        if catalog.nameInUse(indexName) {
            if ifNotExists { return StatementResult(tag: "CREATE INDEX") }
            throw SQLError(SQLError.duplicateTable, "relation \"\(indexName)\" already exists")
        }
        _ = try await bumpCatalog()
        let index = IndexInfo(id: table.nextIndexId, name: indexName, columns: cols, unique: unique)
        table.nextIndexId += 1
        table.indexes.append(index)
        // Build the index from the existing rows.
        for (key, row) in try await allRows(table) {
            try await checkUnique(table, index, row, rowKey: key)
            tx.put(table.indexKey(index, row, rowKey: key), key)
        }
        save(table)
        try await reloadCatalog()
        return StatementResult(tag: "CREATE INDEX")
    }

    func dropIndexes(_ names: [String], _ ifExists: Bool) async throws -> StatementResult {
        for n in names {
            guard let (t, idx) = catalog.indexOwner(n) else {
                if ifExists { continue }
                throw SQLError(SQLError.undefinedObject, "index \"\(n)\" does not exist")
            }
            if idx.isConstraint {
                throw SQLError(SQLError.dependentObjectsStillExist, "cannot drop index \(n) because constraint \(n) on table \(t.name) requires it")
            }
            _ = try await bumpCatalog()
            var table = t
            table.indexes.removeAll { $0.id == idx.id }
            try await deleteKeys(withPrefix: t.prefix(index: idx.id))
            save(table)
            try await reloadCatalog()
        }
        return StatementResult(tag: "DROP INDEX")
    }

    func createView(_ name: String, _ columns: [String], _ query: SelectStatement, _ sql: String, _ orReplace: Bool, _ ifNotExists: Bool) async throws -> StatementResult {
        if catalog.nameInUse(name) && !(orReplace && catalog.views[name] != nil) {
            if ifNotExists { return StatementResult(tag: "CREATE VIEW") }
            throw SQLError(SQLError.duplicateTable, "relation \"\(name)\" already exists")
        }
        let prepared = try Planner(catalog: catalog).prepare(query)
        if columns.count > prepared.columns.count {
            throw SQLError(SQLError.syntaxError, "CREATE VIEW specifies more column names than columns")
        }
        _ = try await bumpCatalog()
        tx.put(KeyLayout.viewKey(name), Catalog.encode(ViewInfo(name: name, sql: sql, columns: columns)))
        try await reloadCatalog()
        return StatementResult(tag: "CREATE VIEW")
    }

    func dropViews(_ names: [String], _ ifExists: Bool) async throws -> StatementResult {
        for n in names {
            guard catalog.views[n] != nil else {
                if ifExists { continue }
                if catalog.tables[n] != nil { throw SQLError(SQLError.wrongObjectType, "\"\(n)\" is not a view") }
                throw SQLError(SQLError.undefinedTable, "view \"\(n)\" does not exist")
            }
            _ = try await bumpCatalog()
            tx.delete(KeyLayout.viewKey(n))
            try await reloadCatalog()
        }
        return StatementResult(tag: "DROP VIEW")
    }

    func alterTable(_ name: String, _ ifExists: Bool, _ actions: [AlterAction]) async throws -> StatementResult {
        guard var table = catalog.tables[name] else {
            if ifExists { return StatementResult(tag: "ALTER TABLE") }
            throw SQLError(SQLError.undefinedTable, "relation \"\(name)\" does not exist")
        }
        _ = try await bumpCatalog()
        let originalName = table.name
        func column(_ n: String) throws -> Int {
            guard let p = table.column(named: n) else {
                throw SQLError(SQLError.undefinedColumn, "column \"\(n)\" of relation \"\(table.name)\" does not exist")
            }
            return p
        }
        func addUnique(_ cols: [Int], _ constraintName: String?) async throws {
            let n = constraintName ?? "\(table.name)_\(cols.map { table.columns[$0].name }.joined(separator: "_"))_key"
            if catalog.nameInUse(n) || table.indexes.contains(where: { $0.name == n }) {
                throw SQLError(SQLError.duplicateTable, "relation \"\(n)\" already exists")
            }
            let index = IndexInfo(id: table.nextIndexId, name: n, columns: cols, unique: true, isConstraint: true)
            table.nextIndexId += 1
            table.indexes.append(index)
            for (key, row) in try await allRows(table) {
                try await checkUnique(table, index, row, rowKey: key)
                tx.put(table.indexKey(index, row, rowKey: key), key)
            }
        }
        func validateRows() async throws {
            for (_, row) in try await allRows(table) {
                var r = row
                try validate(table, &r)
            }
        }
        for action in actions {
            switch action {
            case .addColumn(let def, let ifNotExists):
                if table.column(named: def.name) != nil {
                    if ifNotExists { continue }
                    throw SQLError(SQLError.duplicateColumn, "column \"\(def.name)\" of relation \"\(table.name)\" already exists")
                }
                if def.primaryKey || def.references != nil {
                    throw SQLError(SQLError.featureNotSupported, "adding a PRIMARY KEY or REFERENCES column is not supported yet")
                }
                var col = ColumnInfo(name: def.name, type: def.type.type)
                if def.type.type == .text, let n = def.type.modifiers.first { col.maxLength = n }
                col.notNull = def.notNull
                col.defaultSQL = def.defaultSQL
                table.columns.append(col)
                let p = table.columns.count - 1
                let value = try Cast.cast(try defaultValue(table, p), to: col.type, length: col.maxLength, explicit: false)
                if !value.isNull { table.columns[p].missing = RowEncoding.encode([value]) }
                for (k, check) in def.checks.enumerated() {
                    table.checks.append(CheckInfo(name: "\(table.name)_\(def.name)_check\(k == 0 ? "" : String(k))", sql: check))
                }
                if def.unique { try await addUnique([p], nil) }
                if col.notNull || !def.checks.isEmpty {
                    do { try await validateRows() } catch SQLError.notNullViolation {
                        throw SQLError(SQLError.notNullViolation, "column \"\(def.name)\" of relation \"\(table.name)\" contains null values")
                    }
                }
            case .dropColumn(let n, let ifExists):
                guard let p = table.column(named: n) else {
                    if ifExists { continue }
                    throw SQLError(SQLError.undefinedColumn, "column \"\(n)\" of relation \"\(table.name)\" does not exist")
                }
                if table.primaryKey.contains(p) {
                    throw SQLError(SQLError.dependentObjectsStillExist, "cannot drop column \(n) of table \(table.name) because the primary key depends on it")
                }
                for index in table.indexes where index.columns.contains(p) {
                    try await deleteKeys(withPrefix: table.prefix(index: index.id))
                }
                table.indexes.removeAll { $0.columns.contains(p) }
                table.columns[p].dropped = true
                table.columns[p].name = "........dropped.\(p)........"
                let scope = rowScope(table)
                table.checks.removeAll { check in
                    (try? Planner(catalog: catalog).bind(try Parser.expressionOnly(check.sql), scope)) == nil
                }
            case .renameColumn(let from, let to):
                let p = try column(from)
                if table.column(named: to) != nil {
                    throw SQLError(SQLError.duplicateColumn, "column \"\(to)\" of relation \"\(table.name)\" already exists")
                }
                table.columns[p].name = to
                let scope = rowScope(table)
                for check in table.checks where (try? Planner(catalog: catalog).bind(try Parser.expressionOnly(check.sql), scope)) == nil {
                    throw SQLError(SQLError.featureNotSupported, "cannot rename column \"\(from)\": CHECK constraint \(check.name) uses it")
                }
            case .renameTable(let newName):
                if catalog.nameInUse(newName) { throw SQLError(SQLError.duplicateTable, "relation \"\(newName)\" already exists") }
                table.name = newName
            case .addConstraint(let c):
                switch c {
                case .unique(let names, let n): try await addUnique(try names.map(column), n)
                case .check(let sql, let n):
                    _ = try Planner(catalog: catalog).bind(try Parser.expressionOnly(sql), rowScope(table))
                    table.checks.append(CheckInfo(name: n ?? "\(table.name)_check\(table.checks.isEmpty ? "" : String(table.checks.count))", sql: sql))
                    try await validateRows()
                case .primaryKey(let names, let n):
                    guard table.primaryKey.isEmpty else {
                        throw SQLError(SQLError.invalidTableDefinition, "multiple primary keys for table \"\(table.name)\" are not allowed")
                    }
                    let cols = try names.map(column)
                    let old = table
                    let rows = try await allRows(old)
                    for (key, row) in rows { removeRow(old, key, row) }
                    table.primaryKey = cols
                    table.primaryKeyName = n
                    for p in cols { table.columns[p].notNull = true }
                    for (_, row) in rows {
                        if case .inserted = try await insertRow(table, row, onConflict: nil) {} else {
                            throw SQLError(SQLError.internalError, "re-keying a row failed")
                        }
                    }
                case .foreignKey(let names, let fk, let n):
                    let info = try foreignKey(table, try names.map(column), fk, n)
                    table.foreignKeys.append(info)
                    for (_, row) in try await allRows(table) { try await checkReference(table, info, row) }
                }
            case .dropConstraint(let n, let ifExists):
                if let i = table.checks.firstIndex(where: { $0.name == n }) {
                    table.checks.remove(at: i)
                } else if let i = table.foreignKeys.firstIndex(where: { $0.name == n }) {
                    table.foreignKeys.remove(at: i)
                } else if let index = table.indexes.first(where: { $0.name == n && $0.isConstraint }) {
                    try await deleteKeys(withPrefix: table.prefix(index: index.id))
                    table.indexes.removeAll { $0.id == index.id }
                } else if n == table.primaryKeyConstraintName, !table.primaryKey.isEmpty {
                    throw SQLError(SQLError.featureNotSupported, "dropping a primary key is not supported yet")
                } else if !ifExists {
                    throw SQLError(SQLError.undefinedObject, "constraint \"\(n)\" of relation \"\(table.name)\" does not exist")
                }
            case .setNotNull(let n, let on):
                let p = try column(n)
                if !on && table.primaryKey.contains(p) {
                    throw SQLError(SQLError.invalidTableDefinition, "column \"\(n)\" is in a primary key")
                }
                table.columns[p].notNull = on
                if on {
                    do { try await validateRows() } catch SQLError.notNullViolation {
                        throw SQLError(SQLError.notNullViolation, "column \"\(n)\" of relation \"\(table.name)\" contains null values")
                    }
                }
            case .setDefault(let n, _, let sql):
                let p = try column(n)
                if let sql { _ = try Planner(catalog: catalog).bind(try Parser.expressionOnly(sql), Scope(parent: nil)) }
                table.columns[p].defaultSQL = sql
            }
        }
        if table.name != originalName { tx.delete(KeyLayout.tableKey(originalName)) }
        save(table)
        try await reloadCatalog()
        return StatementResult(tag: "ALTER TABLE")
    }

    // MARK: Rows

    /// Every row of `table` with its key, as physical column values.
    func allRows(_ table: TableInfo) async throws -> [([UInt8], [SQLValue])] {
        let decoder = try PhysicalRowDecoder(table)
        var out: [([UInt8], [SQLValue])] = []
        try await source.forEach(in: KeyRange.prefix(table.prefix()), chunk: 4096) { key, value in
            out.append((key, try decoder.decode(value)))
        }
        return out
    }

    /// One stored row of `table` as physical column values.
    func decodeRow(_ table: TableInfo, _ bytes: [UInt8]) throws -> [SQLValue] {
        try PhysicalRowDecoder(table).decode(bytes)
    }

    /// The key of another row holding the same values in unique index `index`, if any.
    func conflictingRow(_ table: TableInfo, _ index: IndexInfo, _ row: [SQLValue], rowKey: [UInt8]) async throws -> [UInt8]? {
        let values = index.columns.map { row[$0] }
        if values.contains(where: \.isNull) { return nil }
        let prefix = KeyEncoding.encode(values, prefix: table.prefix(index: index.id))
        for kv in try await tx.scan(KeyRange.prefix(prefix), limit: 2) where kv.value != rowKey { return kv.value }
        return nil
    }

    func checkUnique(_ table: TableInfo, _ index: IndexInfo, _ row: [SQLValue], rowKey: [UInt8]) async throws {
        guard index.unique else { return }
        if try await conflictingRow(table, index, row, rowKey: rowKey) != nil {
            throw table.uniqueViolation(index.name, index.columns, row)
        }
    }

    /// The default value of column `p` for a new row.
    func defaultValue(_ table: TableInfo, _ p: Int) throws -> SQLValue {
        guard let e = try catalog.binding(table).defaults[p] else { return .null }
        return try Evaluator.eval(e, [], context())
    }

    /// Checks NOT NULL and CHECK constraints and converts values to column types.
    func validate(_ table: TableInfo, _ row: inout [SQLValue]) throws {
        try validate(try catalog.binding(table), &row)
    }

    func validate(_ binding: TableBinding, _ row: inout [SQLValue]) throws {
        try binding.validate(&row) { self.context() }
    }

    func rowScope(_ table: TableInfo, alias: String? = nil) -> Scope { Writer.rowScope(table, alias: alias) }

    static func rowScope(_ table: TableInfo, alias: String? = nil) -> Scope {
        let scope = Scope(parent: nil)
        scope.add(alias ?? table.name, table.visibleColumns.map { ResultColumn(name: table.columns[$0].name, type: table.columns[$0].type) })
        return scope
    }

    func rowKey(_ table: TableInfo, _ row: [SQLValue]) -> [UInt8] {
        if table.primaryKey.isEmpty {
            return KeyEncoding.encode([.int(RowIdGenerator.shared.next())], prefix: table.prefix())
        }
        return KeyEncoding.encode(table.primaryKey.map { row[$0] }, prefix: table.prefix())
    }

    func writeRow(_ table: TableInfo, _ key: [UInt8], _ row: [SQLValue]) {
        tx.put(key, valueCapacity: RowEncoding.capacity(row)) { RowEncoding.encode(row, into: $0) }
        for index in table.indexes { tx.put(table.indexKey(index, row, rowKey: key), key) }
    }

    func removeRow(_ table: TableInfo, _ key: [UInt8], _ row: [SQLValue]) {
        tx.delete(key)
        for index in table.indexes { tx.delete(table.indexKey(index, row, rowKey: key)) }
    }

    enum InsertOutcome { case inserted([SQLValue]), skipped, updated([SQLValue]) }

    /// Inserts one row given as physical values (already defaulted).
    func insertRow(_ table: TableInfo, _ values: [SQLValue], onConflict: OnConflict?, alias: String? = nil) async throws -> InsertOutcome {
        var row = values
        try validate(table, &row)
        let key = rowKey(table, row)
        var conflict: [UInt8]? = nil
        var conflictName = table.primaryKeyConstraintName
        var conflictCols = table.primaryKey
        if try await tx.get(key) != nil {
            if table.primaryKey.isEmpty { throw EngineError(EngineError.serializationFailure, "row id collision; retry") }
            conflict = key
        } else {
            for index in table.indexes where index.unique {
                if let other = try await conflictingRow(table, index, row, rowKey: key) {
                    conflict = other
                    conflictName = index.name
                    conflictCols = index.columns
                    break
                }
            }
        }
        if let conflict {
            guard let onConflict else { throw table.uniqueViolation(conflictName, conflictCols, row) }
            if onConflict.updates.isEmpty { return .skipped }
            // DO UPDATE: the existing row, with EXCLUDED as the proposed one.
            guard let existingBytes = try await tx.get(conflict) else { return .skipped }
            let existing = try decodeRow(table, existingBytes)
            let scope = rowScope(table, alias: alias)
            scope.add("excluded", table.visibleColumns.map { ResultColumn(name: table.columns[$0].name, type: table.columns[$0].type) })
            let visibleOld = table.visibleColumns.map { existing[$0] }
            let visibleNew = table.visibleColumns.map { row[$0] }
            let combined = visibleOld + visibleNew
            let planner = Planner(catalog: catalog)
            if let w = onConflict.whereClause {
                let (cond, _) = try planner.bind(w, scope)
                if case .bool(true) = try Evaluator.eval(cond, combined, context()) {} else { return .skipped }
            }
            var updated = existing
            for a in onConflict.updates {
                guard let p = table.column(named: a.column) else { throw SQLError(SQLError.undefinedColumn, "column \"\(a.column)\" of relation \"\(table.name)\" does not exist") }
                if let v = a.value {
                    updated[p] = try Evaluator.eval(try planner.bind(v, scope).0, combined, context())
                } else {
                    updated[p] = try defaultValue(table, p)
                }
            }
            try await replaceRow(table, conflict, existing, updated)
            return .updated(updated)
        }
        for fk in table.foreignKeys { try await checkReference(table, fk, row) }
        writeRow(table, key, row)
        return .inserted(row)
    }

    /// Replaces a row (its key may change with its primary key), keeping indexes in step.
    func replaceRow(_ table: TableInfo, _ oldKey: [UInt8], _ old: [SQLValue], _ new: [SQLValue]) async throws {
        var row = new
        try validate(table, &row)
        let newKey = table.primaryKey.isEmpty ? oldKey : rowKey(table, row)
        if newKey != oldKey, try await tx.get(newKey) != nil {
            throw table.primaryKeyViolation(row)
        }
        for index in table.indexes where index.unique && index.columns.contains(where: { old[$0] != row[$0] }) {
            if let other = try await conflictingRow(table, index, row, rowKey: oldKey), other != newKey {
                throw table.uniqueViolation(index.name, index.columns, row)
            }
        }
        for fk in table.foreignKeys where fk.columns.contains(where: { old[$0] != row[$0] }) {
            try await checkReference(table, fk, row)
        }
        removeRow(table, oldKey, old)
        writeRow(table, newKey, row)
        try await referencedRowChanges(table, old, row)
    }

    func returning(_ items: [SelectItem], _ table: TableInfo, alias: String?) throws -> Returning? {
        try Writer.returning(items, table, alias: alias, catalog: catalog)
    }

    /// A RETURNING list bound over `table`'s row (also what Describe reports).
    static func returning(_ items: [SelectItem], _ table: TableInfo, alias: String?, catalog: Catalog) throws -> Returning? {
        if items.isEmpty { return nil }
        let scope = Writer.rowScope(table, alias: alias)
        let planner = Planner(catalog: catalog)
        var cols: [ResultColumn] = []
        var exprs: [BExpr] = []
        for item in items {
            switch item {
            case .star:
                for (i, p) in table.visibleColumns.enumerated() {
                    cols.append(ResultColumn(name: table.columns[p].name, type: table.columns[p].type))
                    exprs.append(.column(i))
                }
            case .expr(let e, let alias):
                let (b, t) = try planner.bind(e, scope)
                cols.append(ResultColumn(name: alias ?? planner.derivedName(e), type: t == .unknown ? .text : t))
                exprs.append(b)
            }
        }
        return Returning(columns: cols, exprs: exprs)
    }

    func insert(_ ins: Insert) async throws -> StatementResult {
        try await insert(ins, try planInsert(ins))
    }

    /// Resolves an INSERT's table, target columns, RETURNING list and VALUES expressions.
    func planInsert(_ ins: Insert) throws -> InsertPlan {
        guard let table = catalog.tables[ins.table] else {
            if catalog.views[ins.table] != nil { throw SQLError(SQLError.featureNotSupported, "cannot insert into view \"\(ins.table)\"") }
            throw SQLError(SQLError.undefinedTable, "relation \"\(ins.table)\" does not exist")
        }
        let targets: [Int] = try ins.columns.isEmpty ? table.visibleColumns : ins.columns.map { c in
            guard let p = table.column(named: c) else {
                throw SQLError(SQLError.undefinedColumn, "column \"\(c)\" of relation \"\(table.name)\" does not exist")
            }
            return p
        }
        if Set(targets).count != targets.count { throw SQLError(SQLError.duplicateColumn, "column specified more than once") }
        let returning = try returning(ins.returning, table, alias: ins.alias)
        var values: [[InsertPlan.Value]]? = nil
        if let q = ins.source, case .values(let rows) = q.body, q.orderBy.isEmpty, q.limit == nil, q.offset == nil, q.with.isEmpty {
            let planner = Planner(catalog: catalog)
            let empty = Scope(parent: nil)
            values = try rows.map { r in
                guard r.count <= targets.count else { throw SQLError(SQLError.syntaxError, "INSERT has more expressions than target columns") }
                return try r.enumerated().map { i, e in
                    if case .defaultValue = e { return .defaultValue }
                    let (b, t) = try planner.bind(e, empty)
                    let col = table.columns[targets[i]]
                    return .expr(b, castText: (t == .unknown || t == .text) && col.type != .text ? col.type : nil)
                }
            }
        }
        return InsertPlan(binding: try catalog.binding(table), targets: targets, values: values, returning: returning, onConflict: ins.onConflict != nil)
    }

    func insert(_ ins: Insert, _ plan: InsertPlan) async throws -> StatementResult {
        if plan.isSimple, let rows = plan.values {
            for s in plan.binding.sequences { try await session.cache.sequences.reserve(s, count: 1, engine: session.engine) }
            return try await insertOne(rows[0], plan)
        }
        let table = plan.binding.table
        let targets = plan.targets
        var sourceRows: [[SQLValue?]] = []
        if let rows = plan.values {
            let ctx = context()
            sourceRows.reserveCapacity(rows.count)
            for r in rows {
                var values: [SQLValue?] = []
                values.reserveCapacity(r.count)
                for slot in r {
                    switch slot {
                    case .defaultValue:
                        values.append(nil)
                    case .expr(let b, let castText):
                        var v = try Evaluator.eval(b, [], ctx)
                        if let type = castText, case .text(let s) = v {
                            v = try Cast.cast(.text(s), to: type, length: nil, explicit: true)
                        }
                        values.append(v)
                    }
                }
                sourceRows.append(values)
            }
        } else if let q = ins.source {
            let prepared = try Planner(catalog: catalog).prepare(q)
            guard prepared.columns.count <= targets.count else {
                throw SQLError(SQLError.syntaxError, "INSERT has more expressions than target columns")
            }
            let exec = Executor(engine: session.engine, source: source, snapshots: [], subqueries: prepared.subqueries, ctes: prepared.ctes, ctx: context())
            sourceRows = try await exec.run(prepared.plan).map { $0.map { Optional($0) } }
        } else {
            sourceRows = [[]]
        }
        for s in plan.binding.sequences { try await session.cache.sequences.reserve(s, count: sourceRows.count, engine: session.engine) }
        var count = 0
        var out: [[SQLValue]] = []
        for src in sourceRows {
            var row = [SQLValue](repeating: .null, count: table.columns.count)
            var given = 0
            for (i, v) in src.enumerated() {
                if let v {
                    row[targets[i]] = v
                    given += 1
                }
            }
            if given < plan.binding.visible.count {
                var isGiven = [Bool](repeating: false, count: table.columns.count)
                for (i, v) in src.enumerated() where v != nil { isGiven[targets[i]] = true }
                for p in plan.binding.visible where !isGiven[p] { row[p] = try defaultValue(table, p) }
            }
            switch try await insertRow(table, row, onConflict: ins.onConflict, alias: ins.alias) {
            case .skipped: continue
            case .inserted(let r), .updated(let r):
                count += 1
                if let returning = plan.returning {
                    let visible = plan.binding.visible.map { r[$0] }
                    out.append(try returning.exprs.map { try Evaluator.eval($0, visible, context()) })
                }
            }
        }
        return StatementResult(tag: count == 1 ? "INSERT 0 1" : "INSERT 0 \(count)", columns: plan.returning?.columns ?? [], rows: out, rowsAffected: count)
    }

    /// The common prepared INSERT (see `InsertPlan.insertOne`), reading a block from storage
    /// when the key's existence check needs one.
    func insertOne(_ values: [InsertPlan.Value], _ plan: InsertPlan) async throws -> StatementResult {
        var row: [SQLValue] = []
        var outcome = try plan.insertOne(values, tx: tx, parameters: parameters, context: context(), now: now, row: &row)
        if case .needsRead(let key) = outcome {
            outcome = try plan.insertOne(values, tx: tx, parameters: parameters, context: context(), now: now, row: &row, uncached: try await tx.get(key))
        }
        guard case .done(let result) = outcome else {
            throw SQLError(SQLError.internalError, "insert could not read its key")
        }
        return result
    }

    /// The scan of the rows a WHERE clause picks (with their keys), bound with `planner`.
    func matchingScan(_ table: TableInfo, alias: String?, _ whereClause: Expr?, _ planner: Planner) throws -> ScanSpec {
        let scope = rowScope(table, alias: alias)
        var conds: [BExpr] = []
        if let w = whereClause {
            let (b, t) = try planner.bind(w, scope)
            planner.splitBound(try planner.coerce(b, t, to: .boolean, "argument of WHERE"), &conds)
        }
        return ScanSpec(table: table, version: .current, offset: 0, width: scope.width + 1, access: planner.accessPath(table, 0, conds),
                        filter: planner.conjunction(conds), withKey: true)
    }

    /// The rows `spec` reads, each with its key, laid out physically, read before any change.
    func matchingRows(_ spec: ScanSpec, _ exec: Executor) async throws -> [([UInt8], [SQLValue])] {
        // The scan already decoded each row; lay its visible values out physically (dropped
        // columns read as NULL, as new rows write them) instead of reading the row again.
        let table = spec.table
        let visible = table.visibleColumns
        var out: [([UInt8], [SQLValue])] = []
        for r in try await exec.run(.scan(spec)) {
            guard case .bytes(let key) = r[spec.width - 1] else { continue }
            var physical = [SQLValue](repeating: .null, count: table.columns.count)
            for (i, p) in visible.enumerated() { physical[p] = r[i] }
            out.append((key, physical))
        }
        return out
    }

    /// Locks the rows an UPDATE or DELETE by primary key is about to change (at most
    /// `Writer.maxLockedRows` of them), so that transactions of this process changing one
    /// row wait for each other instead of all but one failing at commit (see
    /// ``Transaction/lock(_:stop:)``). Other scans stay optimistic.
    func lockRows(_ spec: ScanSpec, _ exec: Executor) async throws {
        guard case .points(_, let lists) = spec.access, case .current = spec.version, lists.count <= Writer.maxLockedRows else { return }
        var keys: [[UInt8]] = []
        for list in lists {
            guard let values = try await exec.keyValues(list, spec.table, spec.table.primaryKey) else { continue }
            keys.append(KeyEncoding.encode(values, prefix: spec.table.prefix()))
        }
        var stop: (@Sendable () throws -> Void)? = nil
        if let flag = session.cancelFlag { stop = { try flag.check() } }
        try await tx.lock(keys, stop: stop)
    }

    static let maxLockedRows = 64

    /// Binds an UPDATE once, for every execution of a prepared one.
    func planUpdate(_ u: Update) throws -> UpdatePlan {
        guard let table = catalog.tables[u.table] else { throw SQLError(SQLError.undefinedTable, "relation \"\(u.table)\" does not exist") }
        if !u.from.isEmpty { throw SQLError(SQLError.featureNotSupported, "UPDATE ... FROM is not supported yet") }
        let scope = rowScope(table, alias: u.alias)
        let planner = Planner(catalog: catalog)
        var sets: [UpdatePlan.Set] = []
        for a in u.assignments {
            guard let p = table.column(named: a.column) else {
                throw SQLError(SQLError.undefinedColumn, "column \"\(a.column)\" of relation \"\(table.name)\" does not exist")
            }
            sets.append(UpdatePlan.Set(column: p, value: try a.value.map { try planner.bind($0, scope).0 }))
        }
        let returning = try returning(u.returning, table, alias: u.alias)
        let scan = try matchingScan(table, alias: u.alias, u.whereClause, planner)
        return UpdatePlan(sets: sets, returning: returning, scan: scan, subqueries: planner.subqueries, ctes: planner.ctes)
    }

    func update(_ u: Update) async throws -> StatementResult {
        try await update(try planUpdate(u))
    }

    func update(_ plan: UpdatePlan) async throws -> StatementResult {
        let table = plan.scan.table
        let exec = Executor(engine: session.engine, source: source, snapshots: [], subqueries: plan.subqueries, ctes: plan.ctes, ctx: context())
        var setSubs: [Int: [Int]] = [:]
        for set in plan.sets {
            guard let e = set.value else { continue }
            let subs = exec.subqueryIndexes(e)
            if !subs.isEmpty { setSubs[set.column] = subs }
        }
        var out: [[SQLValue]] = []
        try await lockRows(plan.scan, exec)
        let rows = try await matchingRows(plan.scan, exec)
        for (key, old) in rows {
            let visible = table.visibleColumns.map { old[$0] }
            var new = old
            for set in plan.sets {
                if let e = set.value {
                    new[set.column] = try await exec.eval(e, visible, setSubs[set.column] ?? [])
                } else {
                    new[set.column] = try defaultValue(table, set.column)
                }
            }
            try await replaceRow(table, key, old, new)
            if let exprs = plan.returning?.exprs {
                let v = table.visibleColumns.map { new[$0] }
                out.append(try exprs.map { try Evaluator.eval($0, v, context()) })
            }
        }
        return StatementResult(tag: "UPDATE \(rows.count)", columns: plan.returning?.columns ?? [], rows: out, rowsAffected: rows.count)
    }

    /// Binds a DELETE once, for every execution of a prepared one.
    func planDelete(_ d: Delete) throws -> DeletePlan {
        guard let table = catalog.tables[d.table] else { throw SQLError(SQLError.undefinedTable, "relation \"\(d.table)\" does not exist") }
        let returning = try returning(d.returning, table, alias: d.alias)
        let planner = Planner(catalog: catalog)
        let scan = try matchingScan(table, alias: d.alias, d.whereClause, planner)
        return DeletePlan(returning: returning, scan: scan, subqueries: planner.subqueries, ctes: planner.ctes)
    }

    func delete(_ d: Delete) async throws -> StatementResult {
        try await delete(try planDelete(d))
    }

    func delete(_ plan: DeletePlan) async throws -> StatementResult {
        let table = plan.scan.table
        let exec = Executor(engine: session.engine, source: source, snapshots: [], subqueries: plan.subqueries, ctes: plan.ctes, ctx: context())
        var out: [[SQLValue]] = []
        try await lockRows(plan.scan, exec)
        let rows = try await matchingRows(plan.scan, exec)
        for (key, old) in rows {
            guard try await tx.get(key) != nil else { continue }  // removed by a cascade already
            try await referencedRowChanges(table, old, nil)
            removeRow(table, key, old)
            if let exprs = plan.returning?.exprs {
                let v = table.visibleColumns.map { old[$0] }
                out.append(try exprs.map { try Evaluator.eval($0, v, context()) })
            }
        }
        return StatementResult(tag: "DELETE \(rows.count)", columns: plan.returning?.columns ?? [], rows: out, rowsAffected: rows.count)
    }
}

/// An UPDATE bound against one catalog: what each assignment sets, the scan that finds
/// the rows, RETURNING, and the subqueries they use. A class: a prepared statement hands
/// its plan out on every execution (one retain, not one per array in the scan).
final class UpdatePlan: Sendable {
    struct Set: Sendable {
        var column: Int
        /// nil means DEFAULT.
        var value: BExpr?
    }
    let sets: [Set]
    let returning: Returning?
    let scan: ScanSpec
    let subqueries: [SubqueryPlan]
    let ctes: [Plan]

    init(sets: [Set], returning: Returning?, scan: ScanSpec, subqueries: [SubqueryPlan], ctes: [Plan]) {
        self.sets = sets
        self.returning = returning
        self.scan = scan
        self.subqueries = subqueries
        self.ctes = ctes
    }
}

/// A DELETE bound against one catalog (a class, as ``UpdatePlan``).
final class DeletePlan: Sendable {
    let returning: Returning?
    let scan: ScanSpec
    let subqueries: [SubqueryPlan]
    let ctes: [Plan]

    init(returning: Returning?, scan: ScanSpec, subqueries: [SubqueryPlan], ctes: [Plan]) {
        self.returning = returning
        self.scan = scan
        self.subqueries = subqueries
        self.ctes = ctes
    }
}

extension Writer {
    /// Resolves a FOREIGN KEY definition of `table` (which may reference itself).
    func foreignKey(_ table: TableInfo, _ cols: [Int], _ def: ForeignKeyDefinition, _ name: String?) throws -> ForeignKeyInfo {
        guard let target = def.table == table.name ? table : catalog.tables[def.table] else {
            throw SQLError(SQLError.undefinedTable, "relation \"\(def.table)\" does not exist")
        }
        let refCols: [Int]
        if def.columns.isEmpty {
            guard !target.primaryKey.isEmpty else {
                throw SQLError(SQLError.invalidForeignKey, "there is no primary key for referenced table \"\(target.name)\"")
            }
            refCols = target.primaryKey
        } else {
            refCols = try def.columns.map { c in
                guard let p = target.column(named: c) else {
                    throw SQLError(SQLError.undefinedColumn, "column \"\(c)\" referenced in foreign key constraint does not exist")
                }
                return p
            }
        }
        guard refCols.count == cols.count else {
            throw SQLError(SQLError.invalidForeignKey, "number of referencing and referenced columns for foreign key disagree")
        }
        guard refCols == target.primaryKey || target.indexes.contains(where: { $0.unique && $0.columns == refCols }) else {
            throw SQLError(SQLError.invalidForeignKey, "there is no unique constraint matching given keys for referenced table \"\(target.name)\"")
        }
        for (c, r) in zip(cols, refCols) {
            let a = table.columns[c].type
            let b = target.columns[r].type
            guard a == b || (a.isNumeric && b.isNumeric) else {
                throw SQLError(SQLError.datatypeMismatch, "foreign key columns \"\(table.columns[c].name)\" and \"\(target.columns[r].name)\" are of incompatible types: \(a) and \(b)")
            }
        }
        let n = name ?? "\(table.name)_\(cols.map { table.columns[$0].name }.joined(separator: "_"))_fkey"
        return ForeignKeyInfo(name: n, columns: cols, table: target.name, refColumns: refCols, onDelete: def.onDelete, onUpdate: def.onUpdate)
    }

    /// Checks that the row `row` of `table` references an existing row (unless a key column is NULL).
    func checkReference(_ table: TableInfo, _ fk: ForeignKeyInfo, _ row: [SQLValue]) async throws {
        let values = fk.columns.map { row[$0] }
        if values.contains(where: \.isNull) { return }
        guard let target = fk.table == table.name ? table : catalog.tables[fk.table] else {
            throw SQLError(SQLError.undefinedTable, "relation \"\(fk.table)\" does not exist")
        }
        let converted = try zip(values, fk.refColumns).map { try Cast.cast($0, to: target.columns[$1].type, length: nil, explicit: true) }
        var found = false
        if fk.refColumns == target.primaryKey {
            found = try await tx.get(KeyEncoding.encode(converted, prefix: target.prefix())) != nil
        } else if let index = target.indexes.first(where: { $0.unique && $0.columns == fk.refColumns }) {
            found = !(try await tx.scan(KeyRange.prefix(KeyEncoding.encode(converted, prefix: target.prefix(index: index.id))), limit: 1).isEmpty)
        }
        if !found {
            let names = fk.columns.map { table.columns[$0].name }.joined(separator: ", ")
            let shown = values.map { $0.text ?? "null" }.joined(separator: ", ")
            throw SQLError(SQLError.foreignKeyViolation, "insert or update on table \"\(table.name)\" violates foreign key constraint \"\(fk.name)\": Key (\(names))=(\(shown)) is not present in table \"\(target.name)\".")
        }
    }

    /// Applies the referencing tables' ON DELETE / ON UPDATE actions when a row of `table`
    /// is deleted (`new` nil) or its referenced columns change.
    func referencedRowChanges(_ table: TableInfo, _ old: [SQLValue], _ new: [SQLValue]?) async throws {
        for child in catalog.tables.values {
            for fk in child.foreignKeys where fk.table == table.name {
                let oldKey = fk.refColumns.map { old[$0] }
                if oldKey.contains(where: \.isNull) { continue }
                if let new, fk.refColumns.allSatisfy({ old[$0] == new[$0] }) { continue }
                let action = new == nil ? fk.onDelete : fk.onUpdate
                let childTable = catalog.tables[child.name] ?? child
                for (key, row) in try await referencingRows(childTable, fk, oldKey) {
                    if child.name == table.name, let new, key == KeyEncoding.encode(table.primaryKey.map { new[$0] }, prefix: table.prefix()) { continue }
                    switch action {
                    case .noAction, .restrict:
                        throw SQLError(SQLError.foreignKeyViolation, "update or delete on table \"\(table.name)\" violates foreign key constraint \"\(fk.name)\" on table \"\(child.name)\"")
                    case .cascade:
                        if let new {
                            var changed = row
                            for (c, r) in zip(fk.columns, fk.refColumns) { changed[c] = new[r] }
                            try await replaceRow(childTable, key, row, changed)
                        } else {
                            try await referencedRowChanges(childTable, row, nil)
                            removeRow(childTable, key, row)
                        }
                    case .setNull, .setDefault:
                        var changed = row
                        for c in fk.columns { changed[c] = action == .setNull ? .null : try defaultValue(childTable, c) }
                        try await replaceRow(childTable, key, row, changed)
                    }
                }
            }
        }
    }

    /// The rows of `child` whose foreign key `fk` holds `values`.
    func referencingRows(_ child: TableInfo, _ fk: ForeignKeyInfo, _ values: [SQLValue]) async throws -> [([UInt8], [SQLValue])] {
        let converted = try zip(values, fk.columns).map { try Cast.cast($0, to: child.columns[$1].type, length: nil, explicit: true) }
        let decoder = try PhysicalRowDecoder(child)
        if let index = child.indexes.first(where: { Array($0.columns.prefix(fk.columns.count)) == fk.columns }) {
            var out: [([UInt8], [SQLValue])] = []
            for kv in try await tx.scan(KeyRange.prefix(KeyEncoding.encode(converted, prefix: child.prefix(index: index.id))), limit: .max) {
                if let bytes = try await tx.get(kv.value) { out.append((kv.value, try decoder.decode(bytes))) }
            }
            return out
        }
        if !child.primaryKey.isEmpty, Array(child.primaryKey.prefix(fk.columns.count)) == fk.columns {
            return try await tx.scan(KeyRange.prefix(KeyEncoding.encode(converted, prefix: child.prefix())), limit: .max).map { ($0.key, try decoder.decode($0.value)) }
        }
        return try await allRows(child).filter { _, row in zip(fk.columns, converted).allSatisfy { row[$0] == $1 } }
    }
}

extension SQLError {
    /// A FOREIGN KEY definition is invalid (42830).
    public static let invalidForeignKey = Code(sqlState: "42830", name: "invalid foreign key")
}

extension Parser {
    /// Parses text that must be exactly one expression (stored defaults and checks).
    static func expressionOnly(_ sql: String) throws -> Expr {
        var p = try Parser(sql)
        let e = try p.expression()
        guard p.current.kind == .end else { throw p.unexpected() }
        return e
    }
}

extension SQLError {
    /// The table definition is invalid, e.g. two primary keys (42P16).
    public static let invalidTableDefinition = Code(sqlState: "42P16", name: "invalid table definition")
}

/// A RETURNING list bound over a table's visible columns.
struct Returning: Sendable {
    let columns: [ResultColumn]
    let exprs: [BExpr]
}
