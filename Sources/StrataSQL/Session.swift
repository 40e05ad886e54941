import FoundationEssentials
import StrataEngine
import Synchronization

/// The outcome of one statement: its command tag, and rows for queries and RETURNING.
public struct StatementResult: Sendable, Equatable {
    /// PostgreSQL's command tag, e.g. `SELECT 3`, `INSERT 0 1`, `CREATE TABLE`.
    public var tag: String
    /// The result columns (empty for statements that return no rows).
    public var columns: [ResultColumn]
    /// The result rows.
    public var rows: [[SQLValue]]
    /// Rows inserted, updated or deleted (0 for other statements).
    public var rowsAffected: Int

    init(tag: String, columns: [ResultColumn] = [], rows: [[SQLValue]] = [], rowsAffected: Int = 0) {
        self.tag = tag
        self.columns = columns
        self.rows = rows
        self.rowsAffected = rowsAffected
    }
}

/// Catalogs by version, shared by the sessions of one engine: DDL is rare, so statements
/// normally find the catalog here after reading one key. Share one cache only among
/// sessions of the same engine.
public final class SchemaCache: Sendable {
    private let entries = Mutex<[UInt64: Catalog]>([:])
    /// The catalog for the most recently seen catalog record, by its exact bytes.
    private let last = Mutex<(bytes: [UInt8], catalog: Catalog)?>(nil)

    func get(metaBytes: [UInt8]) -> Catalog? {
        last.withLock { l in l.flatMap { $0.bytes == metaBytes ? $0.catalog : nil } }
    }

    func remember(metaBytes: [UInt8], _ catalog: Catalog) {
        last.withLock { $0 = (metaBytes, catalog) }
    }

    /// Sequence values this process has reserved, shared by its sessions.
    let sequences = SequenceAllocator()

    /// Creates an empty cache.
    public init() {}

    func get(_ version: UInt64) -> Catalog? { entries.withLock { $0[version] } }

    func put(_ catalog: Catalog) {
        entries.withLock {
            if $0.count > 64 { $0.removeAll() }
            $0[catalog.version] = catalog
        }
    }
}

/// Hands out row ids for tables without a primary key: increasing within a process and
/// (being microsecond-based with a per-process counter) very unlikely to collide across
/// processes; a collision is caught by the insert's existence check and retried as 40001.
final class RowIdGenerator: Sendable {
    static let shared = RowIdGenerator()
    private let last = Mutex<Int64>(0)

    func next() -> Int64 {
        let now = Int64(Engine.nowMicros) << 8 | Int64.random(in: 0..<64)
        return last.withLock {
            $0 = max($0 + 1, now)
            return $0
        }
    }
}

/// Settings `set_config` changed during a statement, kept by the session if it succeeds.
final class SettingChanges {
    var values: [String: String] = [:]
}

/// A SQL session on an engine: runs statements, keeps an explicit transaction between
/// them, and retries autocommit statements that lose a serialization race.
///
/// Not thread-safe: one session serves one connection or task at a time.
public final class Session {
    /// The engine the session runs on.
    public let engine: Engine
    let cache: SchemaCache
    var transaction: Transaction?
    /// When the explicit transaction began (SQL time).
    var transactionTime: Int64?
    var transactionFailed = false
    /// Open savepoints, oldest first, with the write set and catalog state when taken.
    var savepoints: [(name: String, point: TransactionSavepoint, catalogDirty: Bool)] = []
    /// The explicit transaction's queries and changes with what they returned, to replay
    /// if its commit loses a race (see ``TransactionReplay``); nil when it cannot be replayed.
    var transactionLog: TransactionReplay?
    /// Commits that lost a race and succeeded by replaying their transaction.
    public internal(set) var replayedCommits = 0
    var catalogDirty = false
    /// Scratch space for the bulk-load path's rows (see `InsertPlan.insertOne`).
    var insertRow: [SQLValue] = []
    /// The catalog the current transaction read (while it has changed none).
    var transactionCatalog: (Transaction, Catalog)?
    /// The catalog at the last snapshot a statement read.
    var snapshotCatalog: (UInt64, Catalog)?
    /// Settings changed with SET.
    public var settings: [String: String] = [:]
    /// The role the session is logged in as (set by the server); nil when embedded.
    public var user: String?
    /// What `set_config` changed in the running statement.
    let settingChanges = SettingChanges()
    /// Cancels the running statement when set (the server's CancelRequest).
    public var cancelFlag: CancelFlag?
    /// The name clients know the database by (`strata serve --database`), for `current_database()`.
    public var database = "strata"
    /// Statements of simple queries by shape (see ``StatementCache``).
    let statementCache = StatementCache()
    /// Whether simple statements are looked up by shape (off only to compare against).
    var cachesStatements = true

    /// Creates a session on `engine`; sessions of one engine may share `cache`.
    public init(engine: Engine, cache: SchemaCache = SchemaCache()) {
        self.engine = engine
        self.cache = cache
    }

    /// True while an explicit transaction (BEGIN ... COMMIT) is open.
    public var inTransaction: Bool { transaction != nil }
    /// True while the open transaction has failed: statements are refused until ROLLBACK.
    public var isTransactionFailed: Bool { transaction != nil && transactionFailed }

    /// Marks the open transaction failed after an error: statements are refused until
    /// ROLLBACK, and its row locks go at once (PostgreSQL's aborted transactions keep none).
    func failTransaction() {
        transactionFailed = true
        transaction?.releaseLocks()
    }

    /// Runs every statement in `sql`; returns one result per statement.
    /// Parameters `$1`, `$2`, ... take `parameters` in order.
    public func execute(_ sql: String, _ parameters: [SQLValue] = []) async throws -> [StatementResult] {
        if parameters.isEmpty, let cached = await cachedStatement(sql) {
            switch cached {
            case .prepared(let prepared, let values): return [try await execute(prepared, values)]
            case .parsed(let statement): return [try await execute(statement)]
            }
        }
        let statements = try Parser.parse(sql)
        var out: [StatementResult] = []
        for s in statements { out.append(try await execute(s, parameters)) }
        return out
    }

    /// Runs one parsed statement.
    public func execute(_ statement: Statement, _ parameters: [SQLValue] = []) async throws -> StatementResult {
        try await execute(statement, parameters, prepared: nil)
    }

    /// Runs one statement; `prepared` (when given) keeps its plans across executions.
    /// Settings changed by `set_config` take effect when it succeeds.
    func execute(_ statement: Statement, _ parameters: [SQLValue], prepared: PreparedStatement?) async throws -> StatementResult {
        try await around(statement, parameters, prepared) { try await executeStatement(statement, parameters, prepared: prepared) }
    }

    /// What every statement gets, however it runs: `statement_timeout`, `set_config`'s
    /// changes kept if it succeeds, and a place in the explicit transaction's replay log.
    func around(
        _ statement: Statement, _ parameters: [SQLValue], _ prepared: PreparedStatement?, _ body: () async throws -> StatementResult
    ) async throws -> StatementResult {
        settingChanges.values.removeAll()
        let result = try await withStatementTimeout(body)
        applySettingChanges()
        record(statement, parameters, result, prepared: prepared)
        return result
    }

    /// Runs `body` with `statement_timeout` armed: when the setting is above zero, the
    /// executor stops the statement with 57014 once it has run that long.
    func withStatementTimeout<T>(_ body: () async throws -> T) async throws -> T {
        guard let text = settings["statement_timeout"], let limit = Session.milliseconds(text), limit > 0 else {
            cancelFlag?.reset()
            return try await body()
        }
        let flag: CancelFlag
        if let cancelFlag { flag = cancelFlag } else { flag = CancelFlag(); cancelFlag = flag }
        flag.reset()
        flag.setTimeout(milliseconds: limit)
        defer { flag.setTimeout(milliseconds: 0) }
        return try await body()
    }

    /// A duration setting as PostgreSQL writes it (`500`, `500ms`, `2s`, `1min`, `1h`), in milliseconds.
    static func milliseconds(_ text: String) -> Int? {
        let t = text.trimmingSpaces().lowercased()
        let digits = t.prefix { $0.isNumber }
        guard let n = Int(digits) else { return nil }
        switch String(t.dropFirst(digits.count)).trimmingSpaces() {
        case "", "ms": return n
        case "s": return n * 1000
        case "min": return n * 60_000
        case "h": return n * 3_600_000
        default: return nil
        }
    }

    /// Keeps what `set_config` changed in the statement that just succeeded.
    func applySettingChanges() {
        if settingChanges.values.isEmpty { return }
        settings.merge(settingChanges.values) { _, new in new }
        settingChanges.values.removeAll()
    }

    func executeStatement(_ statement: Statement, _ parameters: [SQLValue], prepared: PreparedStatement?) async throws -> StatementResult {
        switch statement {
        case .begin:
            if transaction != nil { return StatementResult(tag: "BEGIN") }  // PostgreSQL warns and continues
            transaction = engine.beginTransaction()
            transactionTime = Session.statementTime()
            transactionFailed = false
            catalogDirty = false
            savepoints = []
            transactionLog = TransactionReplay()
            return StatementResult(tag: "BEGIN")
        case .commit:
            guard let tx = transaction else { return StatementResult(tag: "COMMIT") }
            transaction = nil
            if transactionFailed {
                tx.releaseLocks()
                return StatementResult(tag: "ROLLBACK")
            }
            let log = transactionLog
            transactionLog = nil
            do {
                _ = try await engine.commit(tx)
            } catch EngineError.serializationFailure where log?.steps.isEmpty == false {
                try await replay(log!)
            }
            return StatementResult(tag: "COMMIT")
        case .rollback:
            transaction?.releaseLocks()
            transaction = nil
            transactionFailed = false
            savepoints = []
            return StatementResult(tag: "ROLLBACK")
        case .savepoint(let name):
            guard let tx = transaction else {
                throw SQLError(SQLError.noActiveTransaction, "SAVEPOINT can only be used in transaction blocks")
            }
            if transactionFailed {
                throw SQLError(SQLError.inFailedTransaction, "current transaction is aborted, commands ignored until end of transaction block")
            }
            savepoints.append((name, tx.savepoint(), catalogDirty))
            return StatementResult(tag: "SAVEPOINT")
        case .releaseSavepoint(let name), .rollbackToSavepoint(let name):
            guard let tx = transaction else {
                throw SQLError(SQLError.noActiveTransaction, "\(statement == .releaseSavepoint(name) ? "RELEASE" : "ROLLBACK TO") SAVEPOINT can only be used in transaction blocks")
            }
            guard let i = savepoints.lastIndex(where: { $0.name == name }) else {
                failTransaction()
                throw SQLError(SQLError.invalidSavepoint, "savepoint \"\(name)\" does not exist")
            }
            if case .releaseSavepoint = statement {
                if transactionFailed {
                    throw SQLError(SQLError.inFailedTransaction, "current transaction is aborted, commands ignored until end of transaction block")
                }
                savepoints.removeSubrange(i...)
                return StatementResult(tag: "RELEASE")
            }
            tx.rollback(to: savepoints[i].point)
            catalogDirty = savepoints[i].catalogDirty
            savepoints.removeSubrange((i + 1)...)
            transactionFailed = false
            return StatementResult(tag: "ROLLBACK")
        case .set(let name, let value):
            settings[name] = value
            return StatementResult(tag: "SET")
        case .show(let name):
            let value = settings[name] ?? Session.defaults[name]
            guard let value else { throw SQLError(SQLError.undefinedObject, "unrecognized configuration parameter \"\(name)\"") }
            return StatementResult(tag: "SHOW", columns: [ResultColumn(name: name, type: .text)], rows: [[.text(value)]])
        case .noOp(let tag):
            return StatementResult(tag: tag)
        case .deallocate(let name):
            // Prepared statements belong to the server's connection, which drops them; an
            // embedded session has none.
            return StatementResult(tag: name == nil ? "DEALLOCATE ALL" : "DEALLOCATE")
        case .copy:
            // The data moves over the wire protocol; the server drives beginCopyIn and copyOut.
            throw SQLError(SQLError.featureNotSupported, "COPY FROM STDIN and TO STDOUT need a client connected through strata serve")
        default:
            break
        }
        if let tx = transaction {
            if transactionFailed {
                throw SQLError(SQLError.inFailedTransaction, "current transaction is aborted, commands ignored until end of transaction block")
            }
            do {
                return try await run(statement, parameters, .transaction(tx), tx, prepared: prepared)
            } catch {
                failTransaction()
                throw error
            }
        }
        if case .select = statement {
            return try await run(statement, parameters, .snapshot(engine.snapshot()), nil)
        }
        if case .explain = statement {
            return try await run(statement, parameters, .snapshot(engine.snapshot()), nil)
        }
        var attempt = 0
        while true {
            attempt += 1
            let tx = engine.beginTransaction()
            defer { tx.releaseLocks() }
            catalogDirty = false
            do {
                let result = try await run(statement, parameters, .transaction(tx), tx, prepared: prepared)
                _ = try await engine.commit(tx)
                return result
            } catch let e as CodedError where attempt < 10 && (e.code == EngineError.serializationFailure || e.code == EngineError.deadlock) {
                tx.releaseLocks()  // not held through the back-off
                _ = try? await engine.refresh()
                try? await Task.sleep(for: .microseconds(Int.random(in: 0...(200 << min(attempt, 8)))))
            }
        }
    }

    static let defaults: [String: String] = [
        "server_version": "15.0", "server_version_num": "150000", "server_encoding": "UTF8", "client_encoding": "UTF8", "datestyle": "ISO, MDY",
        "timezone": "UTC", "transaction_isolation": "serializable", "standard_conforming_strings": "on",
        "integer_datetimes": "on", "intervalstyle": "postgres", "search_path": "public", "statement_timeout": "0",
    ]

    /// The catalog as `source` sees it.
    func catalog(_ source: ReadSource) async throws -> Catalog {
        if case .transaction(let tx) = source {
            if catalogDirty { return try await loadCatalog(source) }
            // The transaction's first read of the catalog is tracked; later reads see the same.
            if let (t, c) = transactionCatalog, t === tx { return c }
            let c = try await sharedCatalog(source)
            transactionCatalog = (tx, c)
            return c
        }
        // A commit sequence always shows the same catalog.
        if case .snapshot(let snap) = source {
            if let (seq, c) = snapshotCatalog, seq == snap.seq { return c }
            let c = try await sharedCatalog(source)
            snapshotCatalog = (snap.seq, c)
            return c
        }
        return try await sharedCatalog(source)
    }

    /// The catalog `source` sees, through the shared cache.
    func sharedCatalog(_ source: ReadSource) async throws -> Catalog {
        let meta = try await source.get(KeyLayout.metaKey)
        guard let meta else { return Catalog.empty }
        if let c = cache.get(metaBytes: meta) { return c }
        let version = (try? JSONDecoder().decode(CatalogMeta.self, from: Data(meta)))?.version ?? 0
        if let c = cache.get(version) {
            cache.remember(metaBytes: meta, c)
            return c
        }
        let c = try await loadCatalog(source)
        cache.put(c)
        cache.remember(metaBytes: meta, c)
        return c
    }

    func loadCatalog(_ source: ReadSource) async throws -> Catalog {
        try Catalog.decode(try await source.scan(KeyRange.prefix(KeyLayout.catalogPrefix), limit: .max))
    }

    /// Resolves `FOR SYSTEM_TIME` clauses to snapshots and their catalogs.
    func resolveTemporal(_ statement: Statement, _ parameters: [SQLValue]) async throws -> ([TemporalClause: (TableVersion, Catalog)], [Snapshot]) {
        var clauses: [TemporalClause] = []
        TemporalCollector.collect(statement, into: &clauses)
        if clauses.isEmpty { return ([:], []) }
        var out: [TemporalClause: (TableVersion, Catalog)] = [:]
        var snapshots: [Snapshot] = []
        let ctx = EvalContext(params: parameters, statementTime: 0)
        let planner = Planner(catalog: .empty)
        func value(_ e: Expr) throws -> SQLValue {
            try Evaluator.eval(try planner.bind(e, Scope(parent: nil)).0, [], ctx)
        }
        func sequence(_ e: Expr, version: Bool) async throws -> UInt64 {
            let v = try value(e)
            if version {
                guard case .int(let n) = try Cast.cast(v, to: .bigint, length: nil, explicit: true), n >= 0 else {
                    throw SQLError(SQLError.invalidParameterValue, "AS OF VERSION needs a non-negative commit number")
                }
                return UInt64(n)
            }
            guard case .timestamptz(let t) = try Cast.cast(v, to: .timestamptz, length: nil, explicit: true) else {
                throw SQLError(SQLError.invalidParameterValue, "AS OF TIMESTAMP needs a timestamp")
            }
            let unix = t + DateTime.epochShift * DateTime.microsPerDay
            guard unix >= 0 else { return 0 }
            return try await engine.sequence(atTimestamp: UInt64(unix))
        }
        for c in clauses where out[c] == nil {
            switch c {
            case .asOfVersion(let e), .asOfTimestamp(let e):
                var isVersion = false
                if case .asOfVersion = c { isVersion = true }
                let seq = try await sequence(e, version: isVersion)
                let snap: Snapshot
                do {
                    snap = try engine.snapshot(at: seq)
                } catch let error as EngineError {
                    throw SQLError(error.code, error.message)
                }
                snapshots.append(snap)
                out[c] = (.snapshot(snapshots.count - 1), try await catalog(.snapshot(snap)))
            case .range(let a, let b, let inclusive, let isVersion):
                let from = try await sequence(a, version: isVersion)
                var to = try await sequence(b, version: isVersion)
                if !inclusive && to > 0 { to -= 1 }
                out[c] = (.history(from: from, to: to), try await catalog(.snapshot(engine.snapshot())))
            case .all:
                out[c] = (.history(from: 0, to: engine.head), try await catalog(.snapshot(engine.snapshot())))
            }
        }
        return (out, snapshots)
    }

    func run(_ statement: Statement, _ parameters: [SQLValue], _ source: ReadSource, _ tx: Transaction?, prepared: PreparedStatement? = nil) async throws -> StatementResult {
        let catalog = try await catalog(source)
        switch statement {
        case .select(let q):
            if let prepared, !prepared.isTemporal {
                // A prepared query run again (a transaction's replay) keeps its plan.
                let query = try prepared.plan.entry.get(catalog) { try Planner(catalog: catalog).prepare(q) }
                return try await runPrepared(query, parameters, source)
            }
            let (temporal, snapshots) = try await resolveTemporal(statement, parameters)
            let prepared = try Planner(catalog: catalog, temporal: temporal).prepare(q)
            return try await runPrepared(prepared, parameters, source, snapshots: snapshots)
        case .explain(let inner):
            guard case .select(let q) = inner else { throw SQLError(SQLError.featureNotSupported, "EXPLAIN supports queries only") }
            let (temporal, _) = try await resolveTemporal(inner, parameters)
            let prepared = try Planner(catalog: catalog, temporal: temporal).prepare(q)
            let lines = Explain.lines(prepared.plan)
            return StatementResult(tag: "EXPLAIN", columns: [ResultColumn(name: "QUERY PLAN", type: .text)], rows: lines.map { [.text($0)] })
        default:
            guard let tx else { throw SQLError(SQLError.internalError, "a write without a transaction") }
            let writer = Writer(session: self, tx: tx, catalog: catalog, parameters: parameters, now: now())
            if let prepared {
                switch statement {
                case .insert(let ins):
                    let plan = try prepared.plan.insert.get(catalog) { try writer.planInsert(ins) }
                    return try await writer.insert(ins, plan)
                case .update(let up):
                    return try await writer.update(try prepared.plan.update.get(catalog) { try writer.planUpdate(up) })
                case .delete(let del):
                    return try await writer.delete(try prepared.plan.delete.get(catalog) { try writer.planDelete(del) })
                default:
                    break
                }
            }
            return try await writer.run(statement)
        }
    }
}

/// Finds every `FOR SYSTEM_TIME` clause in a statement.
enum TemporalCollector {
    static func collect(_ s: Statement, into out: inout [TemporalClause]) {
        switch s {
        case .select(let q): collect(q, &out)
        case .explain(let inner): collect(inner, into: &out)
        case .insert(let i): if let q = i.source { collect(q, &out) }
        case .createTable(let c): if let q = c.asQuery { collect(q, &out) }
        default: break
        }
    }

    static func collect(_ q: SelectStatement, _ out: inout [TemporalClause]) {
        for c in q.with { collect(c.query, &out) }
        collect(q.body, &out)
        for o in q.orderBy { collect(o.expr, &out) }
    }

    static func collect(_ s: SetExpr, _ out: inout [TemporalClause]) {
        switch s {
        case .select(let core):
            for r in core.from { collect(r, &out) }
            for i in core.items { if case .expr(let e, _) = i { collect(e, &out) } }
            if let w = core.whereClause { collect(w, &out) }
            if let h = core.having { collect(h, &out) }
        case .values(let rows): for r in rows { for e in r { collect(e, &out) } }
        case .setOperation(_, _, let a, let b):
            collect(a, &out)
            collect(b, &out)
        case .query(let q): collect(q, &out)
        }
    }

    static func collect(_ r: TableRef, _ out: inout [TemporalClause]) {
        switch r {
        case .table(_, _, _, let t): if let t { out.append(t) }
        case .subquery(let q, _, _): collect(q, &out)
        case .function: break
        case .join(_, let a, let b, let on, _, _):
            collect(a, &out)
            collect(b, &out)
            if let on { collect(on, &out) }
        }
    }

    static func collect(_ e: Expr, _ out: inout [TemporalClause]) {
        Planner.walk(e) { sub in
            switch sub {
            case .exists(let q), .subquery(let q), .inSubquery(_, let q, _), .quantified(_, _, _, let q): collect(q, &out)
            default: break
            }
        }
    }
}

extension StatementResult {
    /// A text-columned result, for tools that print tables of their own.
    public static func make(columns: [String], rows: [[SQLValue]]) -> StatementResult {
        StatementResult(tag: "SELECT \(rows.count)", columns: columns.map { ResultColumn(name: $0, type: .text) }, rows: rows)
    }
}

/// A statement parsed once and run many times with different parameters; a query's
/// plan is kept and reused while the catalog stays the same.
public struct PreparedStatement: Sendable {
    /// The parsed statement.
    public let statement: Statement
    /// The SQL it came from.
    public let sql: String
    let plan = PlanCache()
    /// True when the statement has `FOR SYSTEM_TIME` clauses (resolved per execution).
    let isTemporal: Bool

    /// Wraps `statement`, already parsed from `sql`.
    public init(statement: Statement, sql: String) {
        self.statement = statement
        self.sql = sql
        var clauses: [TemporalClause] = []
        TemporalCollector.collect(statement, into: &clauses)
        isTemporal = !clauses.isEmpty
    }
}

/// The last plans of a prepared statement, each with the catalog it was made for.
final class PlanCache: Sendable {
    /// The plan of a prepared query.
    let entry = PlanSlot<PreparedQuery>()
    /// The bound form of a prepared INSERT.
    let insert = PlanSlot<InsertPlan>()
    /// The bound form of a prepared UPDATE.
    let update = PlanSlot<UpdatePlan>()
    /// The bound form of a prepared DELETE.
    let delete = PlanSlot<DeletePlan>()
}

/// One cached plan, valid while the catalog it was made for is current.
final class PlanSlot<P: Sendable>: Sendable {
    private let value = Mutex<(Catalog, P)?>(nil)

    /// The cached plan if it was made for `catalog`.
    func get(_ catalog: Catalog) -> P? {
        value.withLock { v in v.flatMap { $0.0 === catalog ? $0.1 : nil } }
    }

    /// The cached plan if it was made for `catalog`; otherwise `make()`, cached.
    func get(_ catalog: Catalog, orMake make: () throws -> P) rethrows -> P {
        if let p = get(catalog) { return p }
        let p = try make()
        value.withLock { $0 = (catalog, p) }
        return p
    }
}

extension Session {
    /// Parses `sql` (exactly one statement) for repeated execution.
    public func prepare(_ sql: String) throws -> PreparedStatement {
        PreparedStatement(statement: try Parser.parseOne(sql), sql: sql)
    }

    /// Runs a prepared statement with `parameters`.
    public func execute(_ prepared: PreparedStatement, _ parameters: [SQLValue] = []) async throws -> StatementResult {
        try await around(prepared.statement, parameters, prepared) { try await executePrepared(prepared, parameters) }
    }

    private func executePrepared(_ prepared: PreparedStatement, _ parameters: [SQLValue]) async throws -> StatementResult {
        if let tx = transaction, !transactionFailed, !catalogDirty, let (t, catalog) = transactionCatalog, t === tx,
           let plan = prepared.plan.insert.get(catalog), plan.isSimple, plan.binding.sequences.isEmpty {
            // The bulk-load path: a prepared single-row INSERT inside a transaction whose
            // catalog is known needs no planning and, when memory answers, no await.
            do {
                let time = now()
                if case .done(let result) = try plan.insertOne(
                    plan.values![0], tx: tx, parameters: parameters, context: context(parameters, statementTime: time), now: time, row: &insertRow) {
                    return result
                }
            } catch {
                failTransaction()
                throw error
            }
        }
        // `execute(_:_:)` already wrapped this in `around`: run the statement itself, or it
        // would be logged twice for a replay (which then ran an UPDATE twice and never matched).
        guard case .select(let q) = prepared.statement, !transactionFailed else {
            return try await executeStatement(prepared.statement, parameters, prepared: prepared)
        }
        guard !prepared.isTemporal else { return try await executeStatement(prepared.statement, parameters, prepared: nil) }
        let source = currentSource()
        let catalog = try await catalog(source)
        let query = try prepared.plan.entry.get(catalog) { try Planner(catalog: catalog).prepare(q) }
        do {
            if let point = query.point,
               let rows = try point.run(source, context(parameters, statementTime: now())) {
                return StatementResult(tag: "SELECT \(rows.count)", columns: query.columns, rows: rows)
            }
            return try await runPrepared(query, parameters, source)
        } catch {
            if transaction != nil { failTransaction() }
            throw error
        }
    }

    /// What expressions of a statement see of the session: parameters, the time, the role, settings.
    func context(_ parameters: [SQLValue], statementTime: Int64) -> EvalContext {
        let ctx = EvalContext(params: parameters, statementTime: statementTime)
        ctx.user = user ?? "strata"
        ctx.settings = settings
        ctx.database = database
        ctx.sequences = cache.sequences
        ctx.cancel = cancelFlag
        ctx.settingChanges = settingChanges
        return ctx
    }

    /// The time `now()` and `current_timestamp` return: as in PostgreSQL, the start of the
    /// transaction (one clock read per transaction, not per statement).
    func now() -> Int64 {
        if transaction != nil, let t = transactionTime { return t }
        return Session.statementTime()
    }

    /// Now, as SQL timestamps count it (microseconds since 2000-01-01 UTC).
    static func statementTime() -> Int64 {
        Int64(Engine.nowMicros) - DateTime.epochShift * DateTime.microsPerDay
    }

    func runPrepared(_ prepared: PreparedQuery, _ parameters: [SQLValue], _ source: ReadSource, snapshots: [Snapshot] = []) async throws -> StatementResult {
        let exec = Executor(engine: engine, source: source, snapshots: snapshots, subqueries: prepared.subqueries, ctes: prepared.ctes,
                            ctx: context(parameters, statementTime: now()))
        let rows = try await exec.run(prepared.plan)
        return StatementResult(tag: rows.count == 1 ? "SELECT 1" : "SELECT \(rows.count)", columns: prepared.columns, rows: rows)
    }
}
