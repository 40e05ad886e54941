import StrataStore
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A versioned key-value store on an ``ObjectStore``: the storage engine of Strata.
///
/// Every commit is an entry in the branch's log, created with put-if-absent and
/// hash-chained to its parent; there is no write-ahead log and no lock server, so
/// any number of processes may open the same store. Reads see a snapshot at a
/// commit sequence number; every version is kept (by default), so any past state
/// can be read.
///
/// ```swift
/// let engine = try await Engine.open(path: "./data")
/// try await engine.put(Array("greeting".utf8), Array("hello".utf8))
/// let value = try await engine.get(Array("greeting".utf8))
/// ```
public final class Engine: Sendable {
    /// The store holding the database.
    public let store: any ObjectStore
    /// The settings this engine was opened with.
    public let options: EngineOptions
    /// This process's name in the log.
    public let writerID: String
    /// Held by the SQL layer while it re-runs a transaction whose commit lost a race, so
    /// that such re-runs happen one at a time (see ``AsyncLock``).
    public let replayLock = AsyncLock()
    /// Keys locked by this process's transactions (see ``Transaction/lock(_:stop:)``).
    let rowLocks = RowLocks()
    let cache: BlockCache
    let current: Mutex<Version>
    let recent = Mutex(RecentWrites())
    let queue = Mutex(CommitQueue())
    let pendingEntry = Mutex<PendingEntry?>(nil)
    /// Transactions begun and not yet discarded (see ``putLogEntry(_:_:)``).
    let openTransactions = Atomic<Int>(0)
    let timestampCache = Mutex<[UInt64: UInt64]>([:])
    let maintenanceState = Mutex(MaintenanceState())
    let signal = CommitSignal()
    let isClosed = Atomic<Bool>(false)
    let poller = Mutex<Task<Void, Never>?>(nil)
    let pollFailure = Mutex<String?>(nil)
    let relay = Mutex(RelayState())
    let relayNumbers = Atomic<UInt64>(0)
    let relayCatchUp = AsyncLock()

    /// Why the last background poll for other processes' commits failed; nil after a
    /// poll that succeeded. Polling keeps going after a failure.
    public var lastPollError: String? { pollFailure.withLock { $0 } }
    /// While this process flushes up to `from`, the writes of later commits, so that
    /// the memtable after the flush is built from them instead of by walking the old one.
    let flushSideLog = Mutex<(from: UInt64, commits: [(seq: UInt64, writes: MutationBatch)])?>(nil)

    var branch: String { options.branch }

    private init(store: any ObjectStore, options: EngineOptions, cache: BlockCache, version: Version) {
        self.store = store
        self.options = options
        self.cache = cache
        self.current = Mutex(version)
        var id = options.writerName ?? ""
        if id.isEmpty {
            var host = [CChar](repeating: 0, count: 256)
            gethostname(&host, 255)
            let h = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            id = "\(h.isEmpty ? "host" : h)-\(getpid())-\(String(UInt32.random(in: 0..<UInt32.max), radix: 16))"
        }
        self.writerID = String(id.prefix(200))
    }

    deinit {
        // An engine dropped without close() stops listening for relayed commits.
        relay.withLock { r in
            r.listener?.channel.close(promise: nil)
            r.target?.close()
        }
    }

    // MARK: Opening

    /// Opens the database in a local directory, creating it if needed.
    public static func open(path: String, options: EngineOptions = .init()) async throws -> Engine {
        let store: DirectoryStore
        do {
            store = try DirectoryStore(path: path)
        } catch let e as StoreError {
            throw EngineError(EngineError.storage, e.description)
        }
        return try await open(store, options: options)
    }

    /// Opens the database in `store`: reads the newest checkpoint, then replays the
    /// log entries after its watermark (at most about `checkpointInterval` of them).
    public static func open(_ store: any ObjectStore, options: EngineOptions = .init()) async throws -> Engine {
        let store = retrying(store)
        guard !options.branch.isEmpty, options.branch.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f && $0 != 0x2f }) else {
            throw EngineError(EngineError.invalidArgument, "invalid branch name '\(options.branch)'")
        }
        return try await storageErrors {
            let cache = BlockCache(capacity: options.blockCacheBytes)
            var segments: [SegmentReader] = []
            var watermark: UInt64 = 0
            var horizon: UInt64 = 0
            var checkpointSeq: UInt64 = 0
            let pointers = try await store.listAll(prefix: StoreLayout.checkpointPrefix(options.branch))
            if let last = pointers.compactMap({ p in StoreLayout.seq(fromKey: p.key).map { ($0, p.key) } }).max(by: { $0.0 < $1.0 }) {
                let text = String(decoding: try await store.get(last.1), as: UTF8.self)
                guard let h = ContentHash(hex: text) else { throw corrupt("checkpoint \(last.1) is malformed") }
                let manifest = try Manifest.decode(try await readObject(store, h))
                segments = try await SegmentReader.openAll(manifest.segments, store: store, cache: cache)
                watermark = manifest.watermark
                horizon = manifest.horizon
                checkpointSeq = last.0
            }
            var prevHash = ContentHash.zero
            var prevTimestamp: UInt64 = 0
            if watermark > 0 {
                let bytes = try await store.get(StoreLayout.logKey(options.branch, watermark))
                prevHash = ContentHash(of: bytes)
                prevTimestamp = try LogEntry.decode(bytes).timestamp
            }
            let version = Version(
                head: watermark, headHash: prevHash, headTimestamp: prevTimestamp, watermark: watermark,
                horizon: horizon, structureSeq: checkpointSeq, segments: segments, memtable: Memtable())
            let engine = Engine(store: store, options: options, cache: cache, version: version)
            engine.recent.withLock { $0.coveredFrom = watermark + 1 }
            try await engine.catchUp()
            if let host = options.relayHost {
                do {
                    try await engine.startRelay(host: host)
                } catch let e as StoreError {
                    throw e
                } catch {
                    throw EngineError(EngineError.invalidArgument, "cannot listen for relayed commits on \(host): \(error)")
                }
            }
            engine.startPolling()
            engine.scheduleMaintenanceIfNeeded()
            return engine
        }
    }

    /// `store` with transient failures of its idempotent operations retried, which
    /// everything the engine does goes through.
    static func retrying(_ store: any ObjectStore) -> any ObjectStore {
        store is RetryingStore ? store : RetryingStore(store)
    }

    /// Waits until background flushes and compactions in progress have finished.
    public func waitForMaintenance() async {
        while let task = maintenanceState.withLock({ $0.task }) { await task.value }
    }

    /// Stops polling and background work and waits for work in progress.
    public func close() async {
        isClosed.store(true, ordering: .relaxed)
        poller.withLock { $0?.cancel() }
        await stopRelay()
        await waitForMaintenance()
    }

    // MARK: State

    var version: Version { current.withLock { $0 } }

    /// The sequence number of the newest commit this process knows of.
    public var head: UInt64 { version.head }

    /// The oldest sequence number that can still be read.
    public var horizon: UInt64 { version.horizon }

    /// Numbers that describe the engine's structure, for tests and tools.
    public var statistics: EngineStatistics {
        let v = version
        let (hits, misses) = cache.stats
        let (relayingTo, relayedIn) = relay.withLock { ($0.target?.writer, $0.served) }
        return EngineStatistics(
            head: v.head, watermark: v.watermark, segments: v.segments.count, memtableEntries: v.memtable.count,
            memtableBytes: v.memtable.bytes, blockCacheBytes: cache.bytes, blockCacheHits: hits, blockCacheMisses: misses,
            relayingTo: relayingTo, relayedIn: relayedIn)
    }

    // MARK: Refresh

    /// Reads and applies log entries other processes committed; returns the new head.
    @discardableResult
    public func refresh() async throws -> UInt64 {
        try await storageErrors { try await catchUp() }
        return head
    }

    /// Applies every log entry after the current head that exists in the store: one GET
    /// for the next entry (two with `readingAhead`, for a process that knows one exists),
    /// then a window that doubles (up to 32 GETs at once) while every entry in it exists.
    /// A process that lost the race for a log position is so a round trip or two behind
    /// the winner, not one per entry; and one that is refreshing while another writes
    /// back to back catches up instead of chasing the head one GET per entry forever (on
    /// a server that answers one request at a time, it never did).
    func catchUp(readingAhead: Bool = false) async throws {
        var window = readingAhead ? 2 : 1
        while true {
            let from = version.head + 1
            let found = try await withThrowingTaskGroup(of: (Int, [UInt8]?).self) { group in
                for i in 0..<window {
                    group.addTask { (i, try await self.store.getIfPresent(StoreLayout.logKey(self.branch, from + UInt64(i)))) }
                }
                var found = [[UInt8]?](repeating: nil, count: window)
                for try await (i, bytes) in group { found[i] = bytes }
                return found
            }
            for (i, bytes) in found.enumerated() {
                guard let bytes else { return }
                let seq = from + UInt64(i)
                if seq <= version.head { continue }
                let entry = try decodeEntry(bytes, seq: seq)
                try apply(entry, bytes: bytes, try await prepare(entry, reference: version))
            }
            window = min(window * 2, 32)
        }
    }

    func decodeEntry(_ bytes: [UInt8], seq: UInt64) throws -> LogEntry {
        let key = StoreLayout.logKey(branch, seq)
        let entry: LogEntry
        do {
            entry = try LogEntry.decode(bytes)
        } catch let e as EngineError {
            throw EngineError(e.code, "\(key): \(e.message)")
        }
        guard entry.seq == seq else { throw corrupt("\(key) holds sequence \(entry.seq)") }
        return entry
    }

    /// What applying an entry needs that must be fetched first.
    enum Prepared {
        case data(MutationBatch)
        case structural([SegmentReader])
    }

    /// The writes of a commit entry (fetching its batch object if it has one); nil for
    /// a flush or compaction.
    func mutations(of entry: LogEntry) async throws -> MutationBatch? {
        switch entry.body {
        case .inline(let m): return m
        case .batchObject(let h, _, _): return try MutationBatch.decode(try await readObject(store, h))
        case .structural: return nil
        }
    }

    func prepare(_ entry: LogEntry, reference: Version) async throws -> Prepared {
        guard case .structural(let s) = entry.body else { return .data(try await mutations(of: entry) ?? MutationBatch()) }
        var readers: [SegmentReader] = []
        if entry.seq > reference.structureSeq {
            readers = try await SegmentReader.openAll(s.adds, store: store, cache: cache)
        }
        return .structural(readers)
    }

    /// Applies one log entry to the in-memory state; entries already applied are ignored.
    func apply(_ entry: LogEntry, bytes: [UInt8], _ prepared: Prepared) throws {
        let hash = ContentHash(of: bytes)
        let applied: Bool = try current.withLock { v in
            if entry.seq <= v.head { return false }
            guard entry.seq == v.head + 1 else { throw corrupt("log entry \(entry.seq) applied after \(v.head)") }
            guard entry.parent == v.headHash else {
                throw corrupt("log entry \(entry.seq) does not chain to entry \(v.head): hash mismatch")
            }
            switch (entry.body, prepared) {
            case (.structural(let s), .structural(let readers)):
                if entry.seq <= v.structureSeq {
                    // Already reflected in the checkpoint this engine opened from.
                    v = Version(
                        head: entry.seq, headHash: hash, headTimestamp: entry.timestamp, watermark: v.watermark,
                        horizon: v.horizon, structureSeq: v.structureSeq, segments: v.segments, memtable: v.memtable)
                } else {
                    let kept = v.segments.filter { !s.removes.contains($0.ref.hash) }
                    guard kept.count == v.segments.count - s.removes.count else {
                        throw corrupt("log entry \(entry.seq) removes a segment that is not live")
                    }
                    var memtable = v.memtable
                    if s.watermark > v.watermark {
                        memtable = Memtable()
                        let fresh = memtable
                        let side = flushSideLog.withLock { log in
                            defer { log = nil }
                            return log?.from == s.watermark ? log?.commits : nil
                        }
                        if let side {
                            // This process's own flush: only the commits since it began stay.
                            for c in side where c.seq > s.watermark { fresh.apply(c.writes, seq: c.seq) }
                        } else {
                            v.memtable.forEach { n in
                                if Memtable.seq(n) > s.watermark {
                                    fresh.insert(Memtable.key(n), seq: Memtable.seq(n), kind: Memtable.kind(n), value: Memtable.value(n))
                                }
                            }
                        }
                    }
                    v = Version(
                        head: entry.seq, headHash: hash, headTimestamp: entry.timestamp,
                        watermark: max(v.watermark, s.watermark), horizon: max(v.horizon, s.horizon),
                        structureSeq: entry.seq, segments: kept + readers, memtable: memtable)
                }
                recent.withLock { $0.record(seq: entry.seq, writes: MutationBatch()) }
            case (_, .data(let mutations)):
                v.memtable.apply(mutations, seq: entry.seq)
                flushSideLog.withLock { log in
                    if log != nil && entry.seq > log!.from { log!.commits.append((entry.seq, mutations)) }
                }
                v = Version(
                    head: entry.seq, headHash: hash, headTimestamp: entry.timestamp, watermark: v.watermark,
                    horizon: v.horizon, structureSeq: v.structureSeq, segments: v.segments, memtable: v.memtable)
                recent.withLock { $0.record(seq: entry.seq, writes: mutations) }
            default:
                throw corrupt("log entry \(entry.seq): prepared data does not match entry")
            }
            noteApplied(entry, bytes: bytes)
            return true
        }
        if applied {
            timestampCache.withLock { c in
                if c.count > 100_000 { c.removeAll(keepingCapacity: true) }
                c[entry.seq] = entry.timestamp
            }
            signal.notify()
        }
    }

    // MARK: Reads

    /// A snapshot of the newest state this process knows of.
    public func snapshot() -> Snapshot {
        let v = version
        return Snapshot(version: v, seq: v.head, engine: self)
    }

    /// A snapshot of the state right after commit `seq`.
    public func snapshot(at seq: UInt64) throws -> Snapshot {
        let v = version
        guard seq <= v.head else {
            throw EngineError(EngineError.noSuchVersion, "version \(seq) does not exist yet (newest is \(v.head))")
        }
        guard seq >= v.horizon else {
            throw EngineError(EngineError.snapshotTooOld, "version \(seq) is older than the retention horizon \(v.horizon)")
        }
        return Snapshot(version: v, seq: seq, engine: self)
    }

    /// A snapshot of the state as of `timestamp` (microseconds since 1970): the
    /// newest commit made at or before that time.
    public func snapshot(atTimestamp timestamp: UInt64) async throws -> Snapshot {
        try snapshot(at: try await sequence(atTimestamp: timestamp))
    }

    /// The newest commit sequence with a timestamp at or before `timestamp` (0 if none).
    public func sequence(atTimestamp timestamp: UInt64) async throws -> UInt64 {
        let v = version
        if v.head == 0 || timestamp >= v.headTimestamp { return v.head }
        var lo: UInt64 = 0  // timestamp(lo) <= t (0 stands for "before everything")
        var hi = v.head  // timestamp(hi) > t
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2
            if try await self.timestamp(of: mid) <= timestamp { lo = mid } else { hi = mid }
        }
        return lo
    }

    /// The timestamp of commit `seq`, from memory or its log entry.
    public func timestamp(of seq: UInt64) async throws -> UInt64 {
        if seq == 0 { return 0 }
        if let t = timestampCache.withLock({ $0[seq] }) { return t }
        return try await storageErrors {
            let bytes = try await store.get(StoreLayout.logKey(branch, seq))
            let t = try decodeEntry(bytes, seq: seq).timestamp
            timestampCache.withLock { $0[seq] = t }
            return t
        }
    }

    /// The value of `key` now, or at commit `seq`; nil when absent.
    public func get(_ key: [UInt8], at seq: UInt64? = nil) async throws -> [UInt8]? {
        let s = try seq.map { try snapshot(at: $0) } ?? snapshot()
        return try await s.get(key)
    }

    /// The keys and values in `range` now, or at commit `seq`.
    public func scan(_ range: KeyRange = .all, at seq: UInt64? = nil, reverse: Bool = false, limit: Int = .max) async throws -> [KeyValue] {
        let s = try seq.map { try snapshot(at: $0) } ?? snapshot()
        return try await s.scan(range, reverse: reverse, limit: limit)
    }

    /// Every retained version of `key`, newest first, with its commit's sequence and timestamp.
    public func history(_ key: [UInt8]) async throws -> [VersionRecord] {
        let v = version
        return try await storageErrors {
            var out: [VersionRecord] = []
            for h in try await ReadPath.history(v, key, seq: v.head) where h.seq >= v.horizon {
                out.append(VersionRecord(seq: h.seq, timestamp: try await timestamp(of: h.seq), kind: h.kind, value: h.value))
            }
            return out
        }
    }

    // MARK: Polling

    private func startPolling() {
        guard let interval = options.pollInterval else { return }
        // Polls start at a fixed rate (not a fixed pause after each poll), so a commit is
        // seen at most one interval plus one round trip after it lands.
        let task = Task { [weak self] in
            let clock = ContinuousClock()
            var next = clock.now + interval
            while !Task.isCancelled {
                try? await Task.sleep(until: next, clock: clock)
                next = max(next + interval, clock.now)
                guard let self, !self.isClosed.load(ordering: .relaxed) else { return }
                do {
                    _ = try await self.refresh()
                    self.pollFailure.withLock { $0 = nil }
                } catch {
                    self.pollFailure.withLock { $0 = "\(error)" }
                }
            }
        }
        poller.withLock { $0 = task }
    }

    /// Waits until the head passes `seq` or `timeout` elapses.
    func waitForCommit(after seq: UInt64, timeout: Duration) async {
        if head > seq { return }
        await signal.wait(timeout: timeout) { [weak self] in (self?.head ?? .max) > seq }
    }

    /// Wall-clock microseconds since 1970.
    static func wallClockMicros() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec / 1000)
    }
}

/// Numbers that describe an engine's structure.
public struct EngineStatistics: Sendable, Equatable {
    /// The newest applied commit.
    public var head: UInt64
    /// Every commit at or below this is in segments.
    public var watermark: UInt64
    /// Live segments.
    public var segments: Int
    /// Versions held in the memtable.
    public var memtableEntries: Int
    /// Arena bytes the memtable holds.
    public var memtableBytes: Int
    /// Bytes of decoded blocks in the cache.
    public var blockCacheBytes: Int
    /// Block cache lookups that found the block.
    public var blockCacheHits: Int
    /// Block cache lookups that did not.
    public var blockCacheMisses: Int
    /// The writer whose relay this process sends its transactions to, if any.
    public var relayingTo: String?
    /// Transactions of other processes this process's relay has committed.
    public var relayedIn: Int
}

/// Reads an immutable object and checks that its bytes hash to its name.
func readObject(_ store: any ObjectStore, _ hash: ContentHash) async throws -> [UInt8] {
    let bytes = try await store.get(StoreLayout.objectKey(hash))
    guard ContentHash(of: bytes) == hash else { throw corrupt("object \(StoreLayout.objectKey(hash)) does not match its hash") }
    return bytes
}

/// Runs `body`, turning store failures into ``EngineError/storage`` errors.
func storageErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let e as StoreError {
        throw EngineError(EngineError.storage, e.description)
    }
}

/// The write sets of recent commits, for checking a transaction's reads against
/// what committed after its snapshot.
struct RecentWrites {
    /// Every commit with sequence >= coveredFrom is recorded.
    var coveredFrom: UInt64 = 1
    var entries: [(seq: UInt64, writes: MutationBatch)] = []
    var start = 0
    var keyCount = 0
    static let maxKeys = 1_000_000
    static let maxEntries = 100_000

    mutating func record(seq: UInt64, writes: MutationBatch) {
        entries.append((seq, writes))
        keyCount += writes.count
        while (keyCount > Self.maxKeys || entries.count - start > Self.maxEntries) && start < entries.count - 1 {
            keyCount -= entries[start].writes.count
            coveredFrom = entries[start].seq + 1
            start += 1
        }
        if start > 4096 && start * 2 > entries.count {
            entries.removeFirst(start)
            start = 0
        }
    }

    /// The recorded commits after `seq`, or nil if some of them are no longer recorded.
    func commits(after seq: UInt64) -> ArraySlice<(seq: UInt64, writes: MutationBatch)>? {
        guard seq + 1 >= coveredFrom else { return nil }
        var lo = start
        var hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if entries[mid].seq <= seq { lo = mid + 1 } else { hi = mid }
        }
        return entries[lo...]
    }
}

/// Wakes tasks waiting for a new commit.
final class CommitSignal: Sendable {
    private struct State {
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var next = 0
    }
    private let state = Mutex(State())

    func notify() {
        let ws = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            let w = Array(s.waiters.values)
            s.waiters.removeAll()
            return w
        }
        for w in ws { w.resume() }
    }

    private func resume(_ id: Int) {
        let w = state.withLock { $0.waiters.removeValue(forKey: id) }
        w?.resume()
    }

    /// Returns after the next `notify`, after `timeout`, or at once if `ready()` holds.
    func wait(timeout: Duration, ready: @escaping @Sendable () -> Bool) async {
        let id = state.withLock { s -> Int in
            s.next += 1
            return s.next
        }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            self?.resume(id)
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                state.withLock { $0.waiters[id] = c }
                if ready() || Task.isCancelled { resume(id) }
            }
        } onCancel: {
            self.resume(id)
        }
        timer.cancel()
    }
}

extension Engine {
    /// Wall-clock microseconds since 1970, the clock commit timestamps use.
    public static var nowMicros: UInt64 { wallClockMicros() }
}
