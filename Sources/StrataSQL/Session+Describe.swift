/// A table's shape, for `\d` in the shell and for tools.
public struct TableDescription: Sendable, Equatable {
    /// A column: name, type, whether NULL is allowed, and the default's SQL.
    public struct Column: Sendable, Equatable {
        public var name: String
        public var type: String
        public var nullable: Bool
        public var defaultSQL: String?
    }
    /// The table's name.
    public var name: String
    /// The visible columns in order.
    public var columns: [Column]
    /// The primary key's columns (empty when rows are keyed by a hidden row id).
    public var primaryKey: [String]
    /// Secondary indexes: name, columns, unique.
    public var indexes: [(name: String, columns: [String], unique: Bool)]
    /// CHECK constraints: name and SQL.
    public var checks: [(name: String, sql: String)]

    public static func == (a: TableDescription, b: TableDescription) -> Bool {
        a.name == b.name && a.columns == b.columns && a.primaryKey == b.primaryKey
            && a.indexes.map(\.name) == b.indexes.map(\.name) && a.checks.map(\.name) == b.checks.map(\.name)
    }
}

extension Session {
    /// The names of tables and views, sorted, with their kind (`table` or `view`).
    public func relations() async throws -> [(name: String, kind: String)] {
        let c = try await catalog(currentSource())
        return (c.tables.keys.map { ($0, "table") } + c.views.keys.map { ($0, "view") }).sorted { $0.0 < $1.0 }
    }

    /// The description of table `name`, or nil when there is no such table.
    public func describe(_ name: String) async throws -> TableDescription? {
        let c = try await catalog(currentSource())
        guard let t = c.tables[name] else { return nil }
        return TableDescription(
            name: t.name,
            columns: t.visibleColumns.map { p in
                let col = t.columns[p]
                let type = col.maxLength.map { "character varying(\($0))" } ?? col.type.description
                return TableDescription.Column(name: col.name, type: type, nullable: !col.notNull, defaultSQL: col.defaultSQL)
            },
            primaryKey: t.primaryKey.map { t.columns[$0].name },
            indexes: t.indexes.map { ($0.name, $0.columns.map { t.columns[$0].name }, $0.unique) },
            checks: t.checks.map { ($0.name, $0.sql) })
    }

    func currentSource() -> ReadSource {
        transaction.map { .transaction($0) } ?? .snapshot(engine.snapshot())
    }
}

extension Session {
    /// What a prepared statement takes and returns, without running it (the extended
    /// protocol's Describe): a type per parameter as far as its context tells (`id = $1`,
    /// `$1::date`, an INSERT's target column; nil when nothing does), and the result columns
    /// of a query (nil for statements that return no rows).
    public func describe(_ prepared: PreparedStatement) async throws -> (parameters: [SQLType?], columns: [ResultColumn]?) {
        var count = 0
        for token in try Lexer.tokenize(prepared.sql) {
            if case .parameter(let n) = token.kind { count = max(count, n) }
        }
        return try await describe(prepared.statement, parameterCount: count)
    }

    /// ``describe(_:)`` of a statement with `parameterCount` parameters.
    func describe(_ statement: Statement, parameterCount count: Int) async throws -> (parameters: [SQLType?], columns: [ResultColumn]?) {
        var inferred: [Int: SQLType] = [:]
        var columns: [ResultColumn]? = nil
        let catalog = try await catalog(currentSource())
        switch statement {
        case .select(let q):
            let temporal: [TemporalClause: (TableVersion, Catalog)]
            do {
                temporal = try await resolveTemporal(statement, []).0
            } catch {
                // A clause takes a parameter (`AS OF VERSION $1`), unknown until Bind:
                // describe the columns as today's catalog has them.
                var clauses: [TemporalClause] = []
                TemporalCollector.collect(statement, into: &clauses)
                temporal = Dictionary(clauses.map { c in
                    switch c {
                    case .asOfVersion, .asOfTimestamp: (c, (TableVersion.current, catalog))
                    default: (c, (TableVersion.history(from: 0, to: 0), catalog))
                    }
                }, uniquingKeysWith: { a, _ in a })
            }
            let planner = Planner(catalog: catalog, temporal: temporal)
            columns = try planner.prepare(q).columns
            inferred = planner.inferredParameters
        case .insert(let ins):
            // A parameter that is a whole VALUES item takes its target column's type.
            if let table = catalog.tables[ins.table], let q = ins.source, case .values(let rows) = q.body {
                let targets = ins.columns.isEmpty ? table.visibleColumns : ins.columns.compactMap { table.column(named: $0) }
                for row in rows {
                    for (i, e) in row.enumerated() where i < targets.count {
                        if case .parameter(let n) = e, inferred[n - 1] == nil { inferred[n - 1] = table.columns[targets[i]].type }
                    }
                }
            }
            if let table = catalog.tables[ins.table] {
                columns = try Writer.returning(ins.returning, table, alias: ins.alias, catalog: catalog)?.columns
            }
        case .update(let up):
            // `SET column = $n` takes the column's type; WHERE parameters take their context's.
            if let table = catalog.tables[up.table] {
                for a in up.assignments {
                    if case .parameter(let n)? = a.value, let p = table.column(named: a.column), inferred[n - 1] == nil {
                        inferred[n - 1] = table.columns[p].type
                    }
                }
                if up.from.isEmpty { inferWhere(up.whereClause, table, up.alias, catalog, &inferred) }
                columns = try Writer.returning(up.returning, table, alias: up.alias, catalog: catalog)?.columns
            }
        case .delete(let del):
            if let table = catalog.tables[del.table] {
                inferWhere(del.whereClause, table, del.alias, catalog, &inferred)
                columns = try Writer.returning(del.returning, table, alias: del.alias, catalog: catalog)?.columns
            }
        default:
            break
        }
        return ((0..<count).map { inferred[$0] }, columns)
    }

    /// Parameter types a WHERE clause over `table`'s rows implies (`id = $1`).
    func inferWhere(_ whereClause: Expr?, _ table: TableInfo, _ alias: String?, _ catalog: Catalog, _ inferred: inout [Int: SQLType]) {
        guard let whereClause else { return }
        let planner = Planner(catalog: catalog)
        guard (try? planner.bind(whereClause, Writer.rowScope(table, alias: alias))) != nil else { return }
        for (n, t) in planner.inferredParameters where inferred[n] == nil { inferred[n] = t }
    }
}
