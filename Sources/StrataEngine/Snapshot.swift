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
        if let found = try cachedGet(key) { return found.value }
        return try await storageErrors { try await ReadPath.get(version, key, seq: seq) }
    }

    /// The value of `key` when answering needs no storage read (the memtable and cached
    /// blocks decide it); nil when a block must be loaded. No `await` on the hot path.
    public func cachedGet(_ key: [UInt8]) throws -> CachedRead? {
        ReadPath.cachedGet(version, key, seq: seq)
    }

    /// ``cachedGet(_:)`` for many keys: in ascending order (as a join's sorted lookups
    /// are) faster than one by one. Calls `body` once per key with its index in `keys`
    /// and the answer, whose bytes are valid only during the call (nothing is copied).
    public func cachedGetMany(_ keys: [[UInt8]], _ body: (Int, CachedValue) throws -> Void) rethrows {
        try ReadPath.cachedGetMany(version, keys, seq: seq, body)
    }

    /// ``cachedGetMany(_:_:)`` with the values copied out; nil marks a key whose block is not cached.
    public func cachedGetMany(_ keys: [[UInt8]]) -> [CachedRead?] {
        var out = [CachedRead?](repeating: nil, count: keys.count)
        cachedGetMany(keys) { i, answer in out[i] = answer.read }
        return out
    }

    /// About how many stored versions lie in `range` (older versions and deletions
    /// count too), answered from indexes and memory without reading data; any answer of
    /// at least `limit` means "`limit` or more". For choosing plans, not for results.
    public func estimatedCount(_ range: KeyRange, limit: Int) -> Int {
        ReadPath.estimatedCount(version, range, seq: seq, limit: limit)
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

/// One key's answer from ``Snapshot/cachedGetMany(_:_:)``.
public enum CachedValue {
    /// The value's bytes, valid only during the call that passes them.
    case found(UnsafeRawBufferPointer)
    /// No visible version, or a deletion.
    case absent
    /// The block that could hold the key is not in memory: a storage read must answer.
    case uncached

    /// The answer copied out; nil when uncached.
    public var read: CachedRead? {
        switch self {
        case .found(let bytes): CachedRead(value: Array(bytes))
        case .absent: CachedRead(value: nil)
        case .uncached: nil
        }
    }
}

/// The answer of ``Snapshot/cachedGet(_:)``: the value, or nil when the key is absent.
public struct CachedRead: Sendable {
    /// The value; nil when absent or deleted.
    public let value: [UInt8]?
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
    /// The write set: the newest mutation per key, in first-write order.
    private var writes = WriteSet()
    /// Keys read (possibly repeated; compacted now and then).
    private var readKeys: [[UInt8]] = []
    /// Among transactions committed together whose writes and reads conflict, those with
    /// a higher priority are validated first and win. The SQL layer raises it for a
    /// transaction it re-runs after a lost race, so that it is not beaten again.
    public var commitPriority = 0
    private var readKeysCompactedAt = 1024
    /// True while `readKeys` is strictly ascending.
    private var readKeysAscending = true
    private var readRanges: [KeyRange] = []
    /// Keys this transaction has locked (see ``lock(_:stop:)``), released when it ends.
    private var lockedKeys: [ByteKey] = []
    /// The values of locked keys, read at the newest commit when locked, with that
    /// commit's sequence: validated from there instead of from the snapshot. A value
    /// read from the entry being written names its writer, which must commit there.
    private var lockedReads: [ByteKey: (value: [UInt8]?, seq: UInt64, writer: CommitRequest?)] = [:]
    private let lockOwner: UInt64

    init(snapshot: Snapshot) {
        self.snapshot = snapshot
        lockOwner = snapshot.engine.rowLocks.newOwner()
        snapshot.engine.openTransactions.add(1, ordering: .relaxed)
    }

    deinit {
        releaseLocks()
        snapshot.engine.openTransactions.subtract(1, ordering: .relaxed)
    }

    /// The value of `key` as this transaction sees it (its own writes included).
    public func get(_ key: [UInt8]) async throws -> [UInt8]? {
        if let m = writes[key] { return m.kind == .put ? m.value : nil }
        if !lockedReads.isEmpty, let r = lockedReads[ByteKey(key)] { return r.value }
        noteRead(key)
        return try await snapshot.get(key)
    }

    /// `get` answered from memory (see ``Snapshot/cachedGet(_:)``); nil when storage must be read.
    public func cachedGet(_ key: [UInt8]) throws -> CachedRead? {
        if let m = writes[key] { return CachedRead(value: m.kind == .put ? m.value : nil) }
        if !lockedReads.isEmpty, let r = lockedReads[ByteKey(key)] { return CachedRead(value: r.value) }
        noteRead(key)
        return try snapshot.cachedGet(key)
    }

    /// Locks `keys` for this transaction (waiting while another transaction of this
    /// process holds one) and reads each at the newest commit: later reads of a locked key
    /// see that value, and the commit checks only that nothing changed it after that
    /// commit. For keys about to be updated: concurrent updates of one row then wait
    /// instead of failing at commit. Locks are held until the transaction commits or is
    /// released. `stop` is asked every 10 ms while waiting, and ends the wait by throwing.
    ///
    /// - Throws: ``EngineError/deadlock`` when waiting would close a cycle.
    public func lock(_ keys: [[UInt8]], stop: (@Sendable () throws -> Void)? = nil) async throws {
        let locks = snapshot.engine.rowLocks
        // In key order: two statements locking the same rows cannot deadlock each other.
        for key in keys.sorted(by: { compareBytes($0, $1) < 0 }) {
            let k = ByteKey(key)
            if lockedReads[k] != nil { continue }
            lockedKeys.append(k)
            try await locks.lock(k, owner: lockOwner, stop: stop)
            // The holder may have released the lock early, while its entry is being
            // written: read its write there (checked at commit, see ``awaitWriters()``).
            if let p = snapshot.engine.pendingWrite(key) {
                lockedReads[k] = p
            } else {
                let newest = snapshot.engine.snapshot()
                lockedReads[k] = (try await newest.get(key), newest.seq, nil)
            }
        }
    }

    /// Waits for the writers of values read from entries that were being written, and
    /// fails unless each committed where it was read (otherwise this transaction saw a
    /// write that never committed, or committed elsewhere in the log).
    func awaitWriters() async throws {
        for (_, r) in lockedReads {
            guard let writer = r.writer else { continue }
            let landed = try? await writer.wait()
            if landed != r.seq {
                throw EngineError(EngineError.serializationFailure, "could not serialize access due to a concurrent update")
            }
        }
    }

    /// Releases the transaction's locks without ending it, for its commit request (see
    /// ``CommitRequest/releaseLocks``); nil when it holds none.
    var lockReleaser: (@Sendable () -> Void)? {
        if lockedKeys.isEmpty { return nil }
        let (locks, keys, owner) = (snapshot.engine.rowLocks, lockedKeys, lockOwner)
        return { locks.release(keys, owner: owner) }
    }

    /// Releases the transaction's locks (done by commit, and when it is discarded).
    public func releaseLocks() {
        lockReleaser?()
        lockedKeys = []
    }

    /// True when the transaction read a locked key at a commit newer than its snapshot.
    var readsPastSnapshot: Bool { lockedReads.values.contains { $0.seq > snapshot.seq } }

    /// ``cachedGet(_:)`` for many keys, best ascending (see ``Snapshot/cachedGetMany(_:_:)``):
    /// own writes answer first; every key is recorded as read. `body` is called once per
    /// key, not necessarily in order.
    public func cachedGetMany(_ keys: [[UInt8]], _ body: (Int, CachedValue) throws -> Void) rethrows {
        var pending: [Int] = []
        var pendingKeys: [[UInt8]] = []
        for (i, key) in keys.enumerated() {
            if let m = writes[key] {
                if m.kind == .put { try m.value.withUnsafeBytes { try body(i, .found($0)) } } else { try body(i, .absent) }
            } else if !lockedReads.isEmpty, let r = lockedReads[ByteKey(key)] {
                if let v = r.value { try v.withUnsafeBytes { try body(i, .found($0)) } } else { try body(i, .absent) }
            } else {
                noteRead(key)
                pending.append(i)
                pendingKeys.append(key)
            }
        }
        if pending.count == keys.count { return try snapshot.cachedGetMany(keys, body) }
        try snapshot.cachedGetMany(pendingKeys) { j, answer in try body(pending[j], answer) }
    }

    /// ``cachedGetMany(_:_:)`` with the values copied out; nil marks a key whose block is not cached.
    public func cachedGetMany(_ keys: [[UInt8]]) -> [CachedRead?] {
        var out = [CachedRead?](repeating: nil, count: keys.count)
        cachedGetMany(keys) { i, answer in out[i] = answer.read }
        return out
    }

    private func noteRead(_ key: [UInt8]) {
        // Keys read in ascending order (a bulk load's existence checks) stay sorted and
        // unique as they arrive: nothing to compact.
        if readKeysAscending, let last = readKeys.last, compareBytes(last, key) >= 0 { readKeysAscending = false }
        readKeys.append(key)
        if readKeysAscending {
            if readKeys.count >= readKeysCompactedAt { readKeysCompactedAt = readKeys.count * 2 }
            return
        }
        if readKeys.count >= readKeysCompactedAt {
            readKeys.sort { compareBytes($0, $1) < 0 }
            var unique: [[UInt8]] = []
            unique.reserveCapacity(readKeys.count)
            for k in readKeys where unique.last != k { unique.append(k) }
            readKeys = unique
            readKeysAscending = true
            readKeysCompactedAt = max(1024, readKeys.count * 2)
        }
    }

    /// The pairs in `range` as this transaction sees them, at most `limit`.
    public func scan(_ range: KeyRange = .all, reverse: Bool = false, limit: Int = .max) async throws -> [KeyValue] {
        readRanges.append(range)
        let own = writes.mutations(in: range, reverse: reverse)
        // Own deletes may hide base rows: read up to `limit` more (saturating: `limit` is often .max).
        let (wanted, overflow) = limit.addingReportingOverflow(own.count)
        let base = try await snapshot.scan(range, reverse: reverse, limit: overflow ? .max : wanted)
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

    /// Calls `body` with each pair in `range` as this transaction sees it, without copying
    /// (the buffers are valid only during the call), until `body` returns false. Records
    /// as read only the part of the range actually visited.
    public func forEach(
        _ range: KeyRange, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool
    ) async throws {
        if !writes.isEmpty && !writes.mutations(in: range, reverse: false).isEmpty {
            for kv in try await scan(range) {  // scan records the range as read
                let more = try kv.key.withUnsafeBytes { k in try kv.value.withUnsafeBytes { v in try body(k, v) } }
                if !more { return }
            }
            return
        }
        var stoppedAt: [UInt8]? = nil
        defer {
            if let stoppedAt {
                readRanges.append(KeyRange(lower: range.lower, upper: stoppedAt + [0]))
            } else {
                readRanges.append(range)
            }
        }
        try await snapshot.forEach(range) { k, v in
            if try body(k, v) { return true }
            stoppedAt = Array(k)
            return false
        }
    }

    /// Sets `key` to `value` when the transaction commits.
    public func put(_ key: [UInt8], _ value: [UInt8]) {
        writes.set(.put, key, value)
    }

    /// Sets `key` to a value of at most `valueCapacity` bytes that `write` puts at the
    /// pointer it is given, returning how many it wrote: a value (an encoded row) goes
    /// straight into the write set without an array of its own.
    public func put(_ key: [UInt8], valueCapacity: Int, _ write: (UnsafeMutableRawPointer) -> Int) {
        writes.set(.put, key, valueCapacity: valueCapacity, write)
    }

    /// Deletes `key` when the transaction commits.
    public func delete(_ key: [UInt8]) {
        writes.set(.delete, key, [])
    }

    /// True when the transaction has written nothing.
    public var isReadOnly: Bool { writes.isEmpty }

    /// The transaction's writes so far, to return to with ``rollback(to:)`` (SQL SAVEPOINT).
    /// What was read stays recorded: validation stays at least as strict.
    public func savepoint() -> TransactionSavepoint { TransactionSavepoint(writes: writes) }

    /// Forgets every write made after `savepoint` was taken.
    public func rollback(to savepoint: TransactionSavepoint) { writes = savepoint.writes }

    func request(releasingLocksEarly: Bool = false) -> CommitRequest {
        CommitRequest(
            .data(writes: writes.sorted(), snapshot: snapshot.seq, readKeys: readKeys, readRanges: readRanges,
                  lockedReads: lockedReads.map { ($0.key.bytes, $0.value.seq) }),
            priority: commitPriority, releaseLocks: releasingLocksEarly ? lockReleaser : nil)
    }
}

/// A transaction's write set at one moment, from ``Transaction/savepoint()``.
public struct TransactionSavepoint: Sendable {
    let writes: WriteSet
}

/// A transaction's buffered writes, as records in batch format (see ``MutationBatch``)
/// appended to one byte buffer: the newest record per key in first-write order, with a
/// hash index for reading one's own writes once keys stop arriving in ascending order.
/// Keys written in ascending order (a bulk load) need no sort, no index and no copy at
/// commit: the buffer becomes the commit's batch as it is.
struct WriteSet: Sendable {
    /// Every record written, superseded ones included.
    private var records = RecordBuffer()
    /// Where each key's newest record starts, in first-write order.
    private var offsets: [Int] = []
    /// Positions in `offsets` by key; built only once keys stop arriving in ascending order
    /// (until then `offsets` is in key order and searched by bisection).
    private var index: [ByteKey: Int]? = nil
    /// How many records in `records` a later write of the same key replaced.
    private var superseded = 0

    var isEmpty: Bool { offsets.isEmpty }

    /// The position in `offsets` of `key`'s record, or nil when the key was not written.
    private func position(_ key: [UInt8]) -> Int? {
        if offsets.isEmpty { return nil }
        if let index { return index[ByteKey(key)] }
        return records.withUnsafeBytes { base in
            key.withUnsafeBytes { k -> Int? in
                if compareBytes(MutationBatch.key(base, offsets, offsets.count - 1), k) < 0 { return nil }  // past the last write
                let i = MutationBatch.lowerBound(base, offsets, k)
                return i < offsets.count && compareBytes(MutationBatch.key(base, offsets, i), k) == 0 ? i : nil
            }
        }
    }

    subscript(key: [UInt8]) -> Mutation? {
        position(key).map { i in records.withUnsafeBytes { MutationBatch.mutation($0, at: offsets[i]) } }
    }

    /// Records `kind` for `key` with a value of at most `valueCapacity` bytes that `write`
    /// puts at the pointer it is given, returning how many it wrote.
    mutating func set(_ kind: EntryKind, _ key: [UInt8], valueCapacity: Int, _ write: (UnsafeMutableRawPointer) -> Int) {
        let offset = records.count
        let lengthSlot = MutationBatch.varintSize(UInt64(valueCapacity))
        let start = records.reserve(1 + MutationBatch.varintSize(UInt64(key.count)) + key.count + lengthSlot + valueCapacity)
        start.storeBytes(of: kind.rawValue, as: UInt8.self)
        var p = MutationBatch.putVarint(UInt64(key.count), at: start + 1)
        key.withUnsafeBytes { k in
            if k.count > 0 { p.copyMemory(from: k.baseAddress!, byteCount: k.count) }
        }
        p += key.count
        let value = p + lengthSlot
        let n = write(value)
        precondition(n >= 0 && n <= valueCapacity, "value larger than its capacity")
        p = MutationBatch.putVarint(UInt64(n), at: p)
        if p != value && n > 0 { p.copyMemory(from: value, byteCount: n) }  // the length took fewer bytes than reserved
        records.commit(p + n - start)
        place(key, at: offset)
    }

    /// Records `kind` for `key` with `value`.
    mutating func set(_ kind: EntryKind, _ key: [UInt8], _ value: [UInt8]) {
        set(kind, key, valueCapacity: value.count) { p in
            value.withUnsafeBytes { v in
                if v.count > 0 { p.copyMemory(from: v.baseAddress!, byteCount: v.count) }
            }
            return value.count
        }
    }

    /// Makes the record just appended at `offset` the newest one for `key`.
    private mutating func place(_ key: [UInt8], at offset: Int) {
        if index == nil {
            guard let last = offsets.last else {
                offsets.append(offset)
                return
            }
            let c = records.withUnsafeBytes { base in
                key.withUnsafeBytes { compareBytes(MutationBatch.record(base, at: last).key, $0) }
            }
            if c < 0 {
                offsets.append(offset)
                return
            }
            if let i = c == 0 ? offsets.count - 1 : position(key) {
                offsets[i] = offset
                superseded += 1
                return
            }
            var built: [ByteKey: Int] = [:]
            built.reserveCapacity(offsets.count * 2)
            records.withUnsafeBytes { base in
                for (n, o) in offsets.enumerated() { built[ByteKey(Array(MutationBatch.record(base, at: o).key))] = n }
            }
            index = built
        }
        let k = ByteKey(key)
        if let old = index![k] {
            offsets[old] = offset
            superseded += 1
        } else {
            index![k] = offsets.count
            offsets.append(offset)
        }
    }

    /// The positions in `offsets` in key order.
    private func order() -> [Int] {
        let positions = Array(offsets.indices)
        if index == nil { return positions }
        return records.withUnsafeBytes { base in
            positions.sorted { compareBytes(MutationBatch.key(base, offsets, $0), MutationBatch.key(base, offsets, $1)) < 0 }
        }
    }

    /// The writes as a batch: the buffer itself when keys came in ascending order and
    /// none was written twice, else the newest records copied out in key order.
    func sorted() -> MutationBatch {
        if index == nil && superseded == 0 { return MutationBatch(sortedRecords: records.bytes, offsets: offsets) }
        var out: [UInt8] = []
        var outOffsets: [Int] = []
        outOffsets.reserveCapacity(offsets.count)
        records.withUnsafeBytes { base in
            for p in order() {
                let start = offsets[p]
                outOffsets.append(out.count)
                out.append(contentsOf: base[start..<MutationBatch.record(base, at: start).end])
            }
        }
        return MutationBatch(sortedRecords: out, offsets: outOffsets)
    }

    /// The mutations inside `range`, in scan order.
    func mutations(in range: KeyRange, reverse: Bool) -> [Mutation] {
        if offsets.isEmpty { return [] }
        var out: [Mutation] = []
        records.withUnsafeBytes { base in
            let positions: [Int]
            if index == nil {
                let from = range.lower.withUnsafeBytes { MutationBatch.lowerBound(base, offsets, $0) }
                positions = Array(from..<offsets.count)
            } else {
                positions = order()
            }
            for p in positions {
                guard range.contains(MutationBatch.record(base, at: offsets[p]).key) else {
                    if index == nil { break }  // in key order: past the range's end
                    continue
                }
                out.append(MutationBatch.mutation(base, at: offsets[p]))
            }
        }
        if reverse { out.reverse() }
        return out
    }
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
        defer { tx.releaseLocks() }
        try await tx.awaitWriters()
        if tx.isReadOnly {
            // Reads of locked keys past the snapshot must still be checked: nothing is
            // logged, the transaction is placed at the newest commit.
            if tx.readsPastSnapshot { return try validateReadOnly(tx.request()) }
            return tx.snapshot.seq
        }
        return try await submit(tx.request(releasingLocksEarly: true))
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
