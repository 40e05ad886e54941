import StrataStore
import Synchronization

/// One transaction (or structural change) waiting to be committed.
final class CommitRequest: Sendable {
    enum Payload: Sendable {
        /// Writes, with the snapshot they were based on and what was read there, and keys
        /// read later than the snapshot (locked ones), each with the commit it was read at.
        case data(writes: MutationBatch, snapshot: UInt64, readKeys: [[UInt8]], readRanges: [KeyRange], lockedReads: [([UInt8], UInt64)])
        /// A flush or compaction, valid only if no other structural entry landed since `baseStructure`.
        case structural(StructuralChange, baseStructure: UInt64)
    }

    let payload: Payload
    /// Requests of higher priority go first in a group (see ``Transaction/commitPriority``).
    let priority: Int
    /// Set when another process relayed this transaction here.
    let relay: RelayTag?
    /// Never relayed: committed by this process itself.
    let direct: Bool
    /// Releases the transaction's row locks once its writes are in a log entry being
    /// written (see ``Engine/publishPending(_:seq:)``); nil when it holds none.
    let releaseLocks: (@Sendable () -> Void)?
    private let outcome = Mutex<(result: Result<UInt64, any Error>?, waiters: [@Sendable (Result<UInt64, any Error>) -> Void])>((nil, []))

    init(
        _ payload: Payload, priority: Int = 0, relay: RelayTag? = nil, direct: Bool = false,
        releaseLocks: (@Sendable () -> Void)? = nil
    ) {
        self.payload = payload
        self.priority = priority
        self.relay = relay
        self.direct = direct
        self.releaseLocks = releaseLocks
    }

    /// Sets the result (the first one set wins) and hands it to everyone waiting for it.
    func complete(_ result: Result<UInt64, any Error>) {
        let waiters = outcome.withLock { s -> [@Sendable (Result<UInt64, any Error>) -> Void] in
            if s.result != nil { return [] }
            s.result = result
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w(result) }
    }

    /// The result if the request is already complete: the leader's own request
    /// usually is, and reading it directly saves a suspension and a thread hop.
    var completedResult: Result<UInt64, any Error>? { outcome.withLock { $0.result } }

    /// Calls `handler` with the result, at once if there is one, else on the thread that
    /// completes the request (which must not be kept waiting).
    func onCompletion(_ handler: @escaping @Sendable (Result<UInt64, any Error>) -> Void) {
        let ready = outcome.withLock { s -> Result<UInt64, any Error>? in
            if let r = s.result { return r }
            s.waiters.append(handler)
            return nil
        }
        if let ready { handler(ready) }
    }

    /// Waits for the result. Several tasks may wait (a transaction handed to a relay that
    /// declines it is queued here again while its submitter still waits).
    func wait() async throws -> UInt64 {
        try await withCheckedThrowingContinuation { c in onCompletion { c.resume(with: $0) } }
    }
}

/// The writes of the log entry the leader is writing, while their transactions' locks
/// are already released (see ``Engine/pendingWrite(_:)``).
struct PendingEntry {
    let seq: UInt64
    let writers: [(CommitRequest, MutationBatch)]
}

/// Transactions waiting for the leader, which commits them together.
struct CommitQueue {
    var pending: [CommitRequest] = []
    var leaderActive = false
}

extension Engine {
    /// Commits `request`: through another process's relay while this process relays
    /// (see ``RelayListener``), else in this process.
    func submit(_ request: CommitRequest) async throws -> UInt64 {
        if isClosed.load(ordering: .relaxed) { throw EngineError(EngineError.closed, "the engine is closed") }
        let seq: UInt64
        if let client = relayTarget(for: request) {
            seq = try await commitRelayingOrLocally(request, via: client).get()
        } else {
            seq = try await submitLocally(request)
        }
        scheduleMaintenanceIfNeeded()
        return seq
    }

    /// Commits `request` in this process: the first caller to find no leader becomes the
    /// leader and commits everything queued, in groups that share one log entry.
    func submitLocally(_ request: CommitRequest) async throws -> UInt64 {
        if isClosed.load(ordering: .relaxed) { throw EngineError(EngineError.closed, "the engine is closed") }
        if enqueue(request) { await leadCommits() }
        let seq: UInt64
        if let done = request.completedResult {
            seq = try done.get()
        } else {
            seq = try await request.wait()
        }
        return seq
    }

    /// Queues `request` for the leader; true when there was none and the caller must lead.
    func enqueue(_ request: CommitRequest) -> Bool {
        queue.withLock { q -> Bool in
            q.pending.append(request)
            if q.leaderActive { return false }
            q.leaderActive = true
            return true
        }
    }

    func leadCommits() async {
        var lastGroup = 0
        while true {
            // The writers of the last group were just woken and most will submit again at
            // once: a few yields let them join this group instead of waiting a round trip
            // for the next (with 64 writers this nearly doubles throughput on a slow store).
            var yields = 0
            while yields < 8, lastGroup > 1, queue.withLock({ $0.pending.count }) < lastGroup / 2 {
                await Task.yield()
                yields += 1
            }
            let group = queue.withLock { q -> [CommitRequest] in
                if q.pending.isEmpty {
                    q.leaderActive = false
                    return []
                }
                // A structural change goes alone; data requests share an entry.
                if case .structural = q.pending[0].payload { return [q.pending.removeFirst()] }
                var n = 0
                while n < q.pending.count && n < options.maxGroupSize {
                    if case .structural = q.pending[n].payload { break }
                    n += 1
                }
                let g = Array(q.pending[0..<n])
                q.pending.removeFirst(n)
                return g
            }
            if group.isEmpty { return }
            lastGroup = group.count
            await commitGroup(group)
        }
    }

    /// Validates the group against everything committed since each snapshot, then
    /// tries to create the next log entry; on losing the race, catches up and retries.
    private func commitGroup(_ group: [CommitRequest]) async {
        // Members that conflict cannot all commit; the ones that already lost a race go
        // first so that a transaction re-run after losing is not beaten again by fresh
        // ones (the order within a group is free: its members ran concurrently).
        var pending = group
        if pending.contains(where: { $0.priority != 0 }) {
            pending = pending.enumerated().sorted { ($0.element.priority, -$0.offset) > ($1.element.priority, -$1.offset) }.map(\.element)
        }
        var transientFailures = 0
        while !pending.isEmpty {
            // While this process relays, its transactions go to the relay, not into the race.
            if relayEnabled, let client = relayTarget() {
                relayAway(&pending, via: client)
                if pending.isEmpty { return }
            }
            let v = version
            var accepted: [CommitRequest] = []
            var groupWrites: [MutationBatch] = []
            for (n, r) in pending.enumerated() {
                if let error = validate(r, against: v, groupWrites: groupWrites) {
                    r.complete(.failure(error))
                } else {
                    accepted.append(r)
                    // Later members are checked against this one's writes (none follow the last).
                    if n < pending.count - 1, case .data(let w, _, _, _, _) = r.payload { groupWrites.append(w) }
                }
            }
            pending = accepted
            let seq = v.head + 1
            // A relayed transaction may not land past its deadline (its sender may be
            // reading the log to learn whether it did).
            pending.removeAll { r in
                guard let tag = r.relay, tag.deadline < seq else { return false }
                r.complete(.failure(RelayDeclined()))
                return true
            }
            guard !pending.isEmpty else { return }

            let entry: LogEntry
            let prepared: Prepared
            do {
                (entry, prepared) = try await buildEntry(pending, seq: seq, on: v)
            } catch {
                for r in pending { r.complete(.failure(error)) }
                return
            }
            let bytes = entry.encode()
            let key = StoreLayout.logKey(branch, seq)
            // Lock waiters may go on now, reading these writes (see ``publishPending``).
            let published = publishPending(pending, seq: seq)
            defer { if published { unpublishPending() } }
            var won = false
            do {
                try await putLogEntry(key, bytes)
                won = true
            } catch StoreError.alreadyExists {
                won = false
            } catch let e as StoreError where e.isRetryable {
                // The outcome is unknown: read what is there before doing anything else.
                transientFailures += 1
                if let there = try? await store.getIfPresent(key) {
                    won = there == bytes
                } else if transientFailures < 8 {
                    try? await Task.sleep(for: .milliseconds(5 << min(transientFailures, 6)))
                    continue
                } else {
                    for r in pending { r.complete(.failure(EngineError(EngineError.storage, e.description))) }
                    return
                }
            } catch {
                let e = (error as? StoreError).map { EngineError(EngineError.storage, $0.description) } ?? error
                for r in pending { r.complete(.failure(e)) }
                return
            }
            if won {
                do {
                    try apply(entry, bytes: bytes, prepared)
                    for r in pending { r.complete(.success(seq)) }
                } catch {
                    for r in pending { r.complete(.failure(error)) }
                }
                return
            }
            // Another writer took this sequence number: learn what it (and whoever followed)
            // wrote, then revalidate and try the next free one.
            do {
                try await storageErrors { try await catchUp(readingAhead: true) }
                if version.head < seq {
                    throw corrupt("log entry \(seq) exists but cannot be read")
                }
            } catch {
                for r in pending { r.complete(.failure(error)) }
                return
            }
            // Another process is winning: if it relays, send this group's transactions
            // there instead of racing it again.
            if pending.contains(where: \.isRelayable), let client = await considerRelaying() {
                relayAway(&pending, via: client)
            }
        }
    }

    /// Makes the writes of `group`, about to be written as entry `seq`, readable to
    /// transactions that lock their keys, and releases the group's row locks: a waiter
    /// for a hot row goes on while the entry is written and made durable, instead of
    /// after (early lock release). The waiter's read depends on this entry: its commit
    /// first waits for the writer's outcome and fails (40001) unless the writer committed
    /// at `seq` (see ``Transaction/lock(_:stop:)``). Nothing it sees can become durable
    /// before this entry, which precedes any entry of its own in the log. Returns whether
    /// anything was published; the caller unpublishes after applying or losing the entry.
    private func publishPending(_ group: [CommitRequest], seq: UInt64) -> Bool {
        guard group.contains(where: { $0.releaseLocks != nil }) else { return false }
        var writers: [(CommitRequest, MutationBatch)] = []
        for r in group {
            if case .data(let writes, _, _, _, _) = r.payload { writers.append((r, writes)) }
        }
        pendingEntry.withLock { $0 = PendingEntry(seq: seq, writers: writers) }
        for r in group { r.releaseLocks?() }
        return true
    }

    private func unpublishPending() {
        pendingEntry.withLock { $0 = nil }
    }

    /// The newest write to `key` in the entry being written, with that entry's sequence
    /// and the transaction that wrote it; nil when that entry does not write `key`.
    func pendingWrite(_ key: [UInt8]) -> (value: [UInt8]?, seq: UInt64, writer: CommitRequest)? {
        pendingEntry.withLock { p in
            guard let p else { return nil }
            for (r, writes) in p.writers.reversed() {
                if let m = writes.lookup(key) { return (m.kind == .put ? m.value : nil, p.seq, r) }
            }
            return nil
        }
    }

    /// Creates a log entry. A local journal's append holds its thread in `fdatasync` for
    /// 50-300 µs, and the leader's thread may be an event loop serving other sessions:
    /// while other transactions are open, the append runs on the global executor, so
    /// that they go on meanwhile (with early lock release, pgbench TPC-B with 4 clients:
    /// +37%). Alone, it runs here, saving two thread hops per commit.
    private func putLogEntry(_ key: String, _ bytes: [UInt8]) async throws {
        if openTransactions.load(ordering: .relaxed) > 1 {
            try await withTaskExecutorPreference(globalConcurrentExecutor) { try await store.putIfAbsent(key, bytes) }
        } else {
            try await store.putIfAbsent(key, bytes)
        }
    }

    /// Sends the group's own data transactions to the relay; each completes when it answers.
    private func relayAway(_ pending: inout [CommitRequest], via client: RelayClient) {
        pending.removeAll { r in
            guard r.isRelayable else { return false }
            Task { r.complete(await self.commitRelayingOrLocally(r, via: client)) }
            return true
        }
    }

    private func buildEntry(_ group: [CommitRequest], seq: UInt64, on v: Version) async throws -> (LogEntry, Prepared) {
        let timestamp = max(Engine.wallClockMicros(), v.headTimestamp + 1)
        if group.count == 1, case .structural(let change, _) = group[0].payload {
            let entry = LogEntry(seq: seq, timestamp: timestamp, parent: v.headHash, writer: writerID, body: .structural(change))
            let readers = try await SegmentReader.openAll(change.adds, store: store, cache: cache)
            return (entry, .structural(readers))
        }
        // Later transactions in the group are ordered after earlier ones: their writes win.
        let mutations = MutationBatch.merged(group.compactMap { r in
            if case .data(let w, _, _, _, _) = r.payload { return w } else { return nil }
        })
        let batch = mutations.encoded()
        let body: LogEntry.Body
        if batch.count <= options.inlineBatchLimit {
            body = .inline(mutations)
        } else {
            let h = ContentHash(of: batch)
            try await storageErrors { try await store.put(StoreLayout.objectKey(h), batch) }
            body = .batchObject(h, size: batch.count, count: mutations.count)
        }
        let relayed = group.compactMap { r in r.relay.map { RelayedCommit(writer: $0.writer, number: $0.number) } }
        return (
            LogEntry(seq: seq, timestamp: timestamp, parent: v.headHash, writer: writerID, body: body, relayed: relayed),
            .data(mutations)
        )
    }

    /// Checks a transaction that wrote nothing but read locked keys past its snapshot:
    /// it is placed at the newest commit, so everything it read must still hold there.
    func validateReadOnly(_ r: CommitRequest) throws -> UInt64 {
        let v = version
        if let error = validate(r, against: v, groupWrites: []) { throw error }
        return v.head
    }

    /// Returns the serialization failure for `r`, or nil when it may commit after `v`
    /// and after the group's earlier (already accepted) requests.
    private func validate(_ r: CommitRequest, against v: Version, groupWrites: [MutationBatch]) -> (any Error)? {
        switch r.payload {
        case .structural(_, let base):
            if v.structureSeq != base {
                return EngineError(EngineError.structureChanged, "another flush or compaction committed first")
            }
            return nil
        case .data(_, let snapshot, let readKeys, let readRanges, let lockedReads):
            if readKeys.isEmpty && readRanges.isEmpty && lockedReads.isEmpty { return nil }
            func conflicts(_ written: MutationBatch, seq: UInt64) -> Bool {
                if written.intersects(readKeys: readKeys, readRanges: readRanges) { return true }
                for (key, readAt) in lockedReads where seq > readAt && written.intersects(readKeys: [key], readRanges: []) {
                    return true
                }
                return false
            }
            for w in groupWrites where conflicts(w, seq: .max) {
                return EngineError(EngineError.serializationFailure, "could not serialize access due to a concurrent update")
            }
            if snapshot >= v.head { return nil }
            let failure: (any Error)? = recent.withLock { rw in
                guard let commits = rw.commits(after: snapshot) else {
                    return EngineError(EngineError.serializationFailure, "transaction snapshot \(snapshot) is too old to validate")
                }
                for c in commits where c.seq <= v.head && conflicts(c.writes, seq: c.seq) {
                    return EngineError(
                        EngineError.serializationFailure,
                        "could not serialize access due to a concurrent update (commit \(c.seq))")
                }
                return nil
            }
            return failure
        }
    }
}
