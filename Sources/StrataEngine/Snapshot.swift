/// A consistent, read-only view of the database right after one commit.
///
/// A snapshot stays valid however much is committed or compacted after it
/// (down to the retention horizon): reads never block writers.
public struct Snapshot: Sendable {
    let version: Version
    /// The commit sequence number this snapshot reads at.
    public let seq: UInt64
    let engine: Engine

    /// The value of `key`, or nil when absent.
    public func get(_ key: [UInt8]) async throws -> [UInt8]? {
        try await storageErrors { try await ReadPath.get(version, key, seq: seq) }
    }

    /// The pairs in `range`, ascending (or descending when `reverse`), at most `limit`.
    public func scan(_ range: KeyRange = .all, reverse: Bool = false, limit: Int = .max) async throws -> [KeyValue] {
        var out: [KeyValue] = []
        try await forEach(range, reverse: reverse) { k, v in
            out.append(KeyValue(key: Array(k), value: Array(v)))
            return out.count < limit
        }
        return out
    }

    /// Calls `body` with each key and value in `range` until it returns false, without
    /// copying: the buffers are valid only during the call.
    public func forEach(
        _ range: KeyRange = .all, reverse: Bool = false,
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool
    ) async throws {
        let scanner = Scanner(version: version, seq: seq, range: range, reverse: reverse)
        try await storageErrors { try await scanner.run(body) }
    }

    /// The timestamp of this snapshot's commit (microseconds since 1970).
    public func timestamp() async throws -> UInt64 { try await engine.timestamp(of: seq) }
}

/// A read-write transaction: reads at its snapshot, buffers writes, and records
/// what it read so that the commit can check nothing it read has changed since.
///
/// Transactions are serializable: a commit fails with
/// ``EngineError/serializationFailure`` if another commit after the snapshot wrote
/// a key this one read or a key inside a range it scanned.
public final class Transaction {
    /// The snapshot reads come from.
    public let snapshot: Snapshot
    private var writes: [[UInt8]: Mutation] = [:]
    private var readKeys: Set<[UInt8]> = []
    private var readRanges: [KeyRange] = []

    init(snapshot: Snapshot) { self.snapshot = snapshot }

    /// The value of `key` as this transaction sees it (its own writes included).
    public func get(_ key: [UInt8]) async throws -> [UInt8]? {
        if let m = writes[key] { return m.kind == .put ? m.value : nil }
        readKeys.insert(key)
        return try await snapshot.get(key)
    }

    /// The pairs in `range` as this transaction sees them, at most `limit`.
    public func scan(_ range: KeyRange = .all, reverse: Bool = false, limit: Int = .max) async throws -> [KeyValue] {
        readRanges.append(range)
        let own = writes.values.filter { range.contains($0.key) }
            .sorted { reverse ? compareBytes($0.key, $1.key) > 0 : compareBytes($0.key, $1.key) < 0 }
        let base = try await snapshot.scan(range, reverse: reverse, limit: own.isEmpty ? limit : limit &+ own.count)
        if own.isEmpty { return base }
        var out: [KeyValue] = []
        var i = 0
        var j = 0
        func before(_ a: [UInt8], _ b: [UInt8]) -> Bool { reverse ? compareBytes(a, b) > 0 : compareBytes(a, b) < 0 }
        while (i < base.count || j < own.count) && out.count < limit {
            if j >= own.count || (i < base.count && before(base[i].key, own[j].key)) {
                out.append(base[i])
                i += 1
            } else {
                if i < base.count && base[i].key == own[j].key { i += 1 }
                if own[j].kind == .put { out.append(KeyValue(key: own[j].key, value: own[j].value)) }
                j += 1
            }
        }
        return out
    }

    /// Sets `key` to `value` when the transaction commits.
    public func put(_ key: [UInt8], _ value: [UInt8]) {
        writes[key] = Mutation(key: key, kind: .put, value: value)
    }

    /// Deletes `key` when the transaction commits.
    public func delete(_ key: [UInt8]) {
        writes[key] = Mutation(key: key, kind: .delete, value: [])
    }

    /// True when the transaction has written nothing.
    public var isReadOnly: Bool { writes.isEmpty }

    /// The transaction's writes so far, to return to with ``rollback(to:)`` (SQL SAVEPOINT).
    /// What was read stays recorded: validation stays at least as strict.
    public func savepoint() -> TransactionSavepoint { TransactionSavepoint(writes: writes) }

    /// Forgets every write made after `savepoint` was taken.
    public func rollback(to savepoint: TransactionSavepoint) { writes = savepoint.writes }

    func request() -> CommitRequest {
        var muts = Array(writes.values)
        muts.sort { compareBytes($0.key, $1.key) < 0 }
        return CommitRequest(
            .data(writes: muts, snapshot: snapshot.seq, readKeys: Array(readKeys), readRanges: readRanges))
    }
}

/// A transaction's write set at one moment, from ``Transaction/savepoint()``.
public struct TransactionSavepoint: Sendable {
    let writes: [[UInt8]: Mutation]
}

extension Engine {
    /// Runs `body` on a snapshot of the newest known state.
    public func read<T>(_ body: (Snapshot) async throws -> T) async throws -> T {
        try await body(snapshot())
    }

    /// Starts a transaction that reads at `snapshot` (default: the newest known state).
    /// Commit it with ``commit(_:)``; dropping it discards its writes.
    public func beginTransaction(at snapshot: Snapshot? = nil) -> Transaction {
        Transaction(snapshot: snapshot ?? self.snapshot())
    }

    /// Commits a transaction begun with ``beginTransaction(at:)``.
    ///
    /// - Returns: the commit's sequence number (the snapshot's, if it wrote nothing).
    /// - Throws: ``EngineError/serializationFailure`` when a commit after the snapshot
    ///   wrote a key it read or a key in a range it scanned.
    public func commit(_ tx: Transaction) async throws -> UInt64 {
        if tx.isReadOnly { return tx.snapshot.seq }
        return try await submit(tx.request())
    }

    /// Runs `body` once in a transaction and commits it.
    ///
    /// - Returns: the body's result and the commit's sequence number (the snapshot's,
    ///   for a transaction that wrote nothing).
    /// - Throws: ``EngineError/serializationFailure`` when a concurrent commit changed
    ///   what the transaction read; nothing was written then.
    @discardableResult
    public func write<T>(_ body: (Transaction) async throws -> T) async throws -> (value: T, seq: UInt64) {
        let tx = beginTransaction()
        let value = try await body(tx)
        return (value, try await commit(tx))
    }

    /// Runs `body` in a transaction, retrying up to `maxAttempts` times on
    /// serialization failure (refreshing from the store and backing off in between).
    @discardableResult
    public func transaction<T>(maxAttempts: Int = 20, _ body: (Transaction) async throws -> T) async throws -> T {
        try await transactionWithSequence(maxAttempts: maxAttempts, body).value
    }

    /// Like ``transaction(maxAttempts:_:)``, also returning the commit's sequence number.
    @discardableResult
    public func transactionWithSequence<T>(maxAttempts: Int = 20, _ body: (Transaction) async throws -> T) async throws -> (value: T, seq: UInt64) {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await write(body)
            } catch EngineError.serializationFailure where attempt < maxAttempts {
                try await refresh()
                let cap = min(100_000, 500 << min(attempt, 8))
                try? await Task.sleep(for: .microseconds(Int.random(in: 0...cap)))
            }
        }
    }

    /// Sets one key in its own transaction; returns the commit's sequence number.
    @discardableResult
    public func put(_ key: [UInt8], _ value: [UInt8]) async throws -> UInt64 {
        try await write { $0.put(key, value) }.seq
    }

    /// Deletes one key in its own transaction; returns the commit's sequence number.
    @discardableResult
    public func delete(_ key: [UInt8]) async throws -> UInt64 {
        try await write { $0.delete(key) }.seq
    }
}
