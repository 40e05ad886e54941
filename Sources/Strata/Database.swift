@_exported import StrataEngine
@_exported import StrataSQL
import StrataStore

/// A Strata database, embedded in the process: open it, run SQL, read past states.
///
/// ```swift
/// let db = try await Database.open("./app-data")          // or "memory:"
/// try await db.execute("CREATE TABLE IF NOT EXISTS notes (id BIGINT PRIMARY KEY, body TEXT)")
/// try await db.execute("INSERT INTO notes VALUES ($1, $2)", [1, "hello"])
/// for row in try await db.query("SELECT id, body FROM notes") {
///     print(row["id"], row["body"])
/// }
/// ```
///
/// A `Database` is safe to share between tasks; each call runs in its own
/// transaction unless it is made inside ``transaction(maxAttempts:_:)``.
public final class Database: Sendable {
    /// The storage engine underneath, for key-value access, history and maintenance.
    public let engine: Engine
    let cache = SchemaCache()

    init(engine: Engine) { self.engine = engine }

    /// Opens (creating if needed) the database at `location`: a directory path, an
    /// S3 URL (`s3://bucket/prefix?endpoint=...&region=...`, the bucket must exist), or
    /// `memory:` for a database that lives only in this process.
    public static func open(_ location: String, options: EngineOptions = EngineOptions()) async throws -> Database {
        if location == "memory:" {
            return Database(engine: try await Engine.open(MemoryStore(), options: options))
        }
        let store: any ObjectStore
        do {
            store = try StoreLocation.open(location)
        } catch let e as StoreError {
            throw EngineError(EngineError.storage, e.description)
        }
        return Database(engine: try await Engine.open(store, options: options))
    }

    /// Flushes nothing (every commit is already durable) and stops background work.
    public func close() async { await engine.close() }

    /// The newest commit sequence number this process knows of.
    public var version: UInt64 { engine.head }

    func session() -> Session { Session(engine: engine, cache: cache) }

    /// Runs one or more statements; returns the rows affected by the last one.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [SQLValue] = []) async throws -> Int {
        try await session().execute(sql, parameters).last?.rowsAffected ?? 0
    }

    /// Runs a query (the last statement of `sql`) and returns its rows.
    public func query(_ sql: String, _ parameters: [SQLValue] = []) async throws -> [Row] {
        guard let result = try await session().execute(sql, parameters).last else { return [] }
        return Row.rows(result)
    }

    /// Runs a query and decodes each row into `T`, matching columns to coding keys by name.
    public func query<T: Decodable>(_ type: T.Type, _ sql: String, _ parameters: [SQLValue] = []) async throws -> [T] {
        try await query(sql, parameters).map { try $0.decode(T.self) }
    }

    /// The rows of a query as an asynchronous sequence.
    public func stream(_ sql: String, _ parameters: [SQLValue] = []) -> AsyncThrowingStream<Row, any Error> {
        let engine = engine
        let cache = cache
        return AsyncThrowingStream { continuation in
            let task = Task {
                let session = Session(engine: engine, cache: cache)
                do {
                    if let result = try await session.execute(sql, parameters).last {
                        for row in Row.rows(result) {
                            if Task.isCancelled { break }
                            continuation.yield(row)
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Row changes committed after version `since`, by this process and every other one
    /// on the store, in commit order: each inserted, updated or deleted row with its
    /// table, commit version and time. Iteration waits for new commits (polling the
    /// store every `pollInterval`) until the task is cancelled; commits are read as the
    /// consumer asks for them, so a slow consumer loses nothing and nothing piles up.
    public func changes(since: UInt64, pollInterval: Duration = .milliseconds(100)) -> RowChangeFeed {
        RowChangeFeed(engine: engine, feed: engine.changes(since: since, pollInterval: pollInterval))
    }

    /// Runs `body` in one serializable transaction and commits it. When another commit
    /// conflicts (SQLSTATE 40001) the whole body runs again, up to `maxAttempts` times,
    /// so it must not have side effects outside the database.
    @discardableResult
    public func transaction<T>(maxAttempts: Int = 20, _ body: (DatabaseTransaction) async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            let tx = DatabaseTransaction(session: session())
            _ = try await tx.session.execute(.begin)
            do {
                let value = try await body(tx)
                _ = try await tx.session.execute(.commit)
                return value
            } catch EngineError.serializationFailure where attempt < maxAttempts {
                _ = try? await tx.session.execute(.rollback)
                _ = try? await engine.refresh()
                try? await Task.sleep(for: .microseconds(Int.random(in: 0...min(100_000, 500 << min(attempt, 8)))))
            } catch {
                _ = try? await tx.session.execute(.rollback)
                throw error
            }
        }
    }
}

/// An open transaction inside ``Database/transaction(maxAttempts:_:)``: statements see
/// each other's writes and commit together.
public final class DatabaseTransaction {
    let session: Session

    init(session: Session) { self.session = session }

    /// Runs statements in the transaction; returns the rows affected by the last one.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [SQLValue] = []) async throws -> Int {
        try await session.execute(sql, parameters).last?.rowsAffected ?? 0
    }

    /// Runs a query in the transaction.
    public func query(_ sql: String, _ parameters: [SQLValue] = []) async throws -> [Row] {
        guard let result = try await session.execute(sql, parameters).last else { return [] }
        return Row.rows(result)
    }

    /// Runs a query in the transaction and decodes its rows.
    public func query<T: Decodable>(_ type: T.Type, _ sql: String, _ parameters: [SQLValue] = []) async throws -> [T] {
        try await query(sql, parameters).map { try $0.decode(T.self) }
    }
}

/// The row changes after a version, as an `AsyncSequence` (see ``Database/changes(since:pollInterval:)``).
public struct RowChangeFeed: AsyncSequence, Sendable {
    /// Each element is one changed row.
    public typealias Element = RowChange
    let engine: Engine
    let feed: ChangeFeed

    public func makeAsyncIterator() -> Iterator { Iterator(engine: engine, commits: feed.makeAsyncIterator()) }

    /// Decodes one commit at a time and hands out its rows.
    public struct Iterator: AsyncIteratorProtocol {
        let engine: Engine
        var commits: ChangeFeed.Iterator
        var pending: [RowChange] = []

        /// The next changed row, waiting for a commit if needed; nil when the task is cancelled.
        public mutating func next() async throws -> RowChange? {
            while pending.isEmpty {
                guard let change = try await commits.next() else { return nil }
                pending = try await RowChangeDecoder.decode(change, engine: engine).reversed()
            }
            return pending.removeLast()
        }
    }
}
