import StrataStore

/// The writes of one committed transaction (or group of them), as the change feed delivers it.
public struct Change: Sendable, Equatable {
    /// The commit's sequence number.
    public var seq: UInt64
    /// The commit's timestamp (microseconds since 1970).
    public var timestamp: UInt64
    /// The writer that committed it.
    public var writer: String
    /// Its writes, sorted by key.
    public var mutations: [Mutation]
}

extension Engine {
    /// Committed changes with sequence numbers after `since`, in commit order, from
    /// this process and every other one. Iteration waits for new commits (woken by
    /// local commits, and polling the store every `pollInterval`) until the task is
    /// cancelled. Entries are read as the consumer asks for them, so a slow consumer
    /// never loses changes and nothing is buffered.
    public func changes(since: UInt64, pollInterval: Duration = .milliseconds(100)) -> ChangeFeed {
        ChangeFeed(engine: self, since: since, pollInterval: pollInterval)
    }
}

/// The committed changes after a sequence number, as an `AsyncSequence`.
public struct ChangeFeed: AsyncSequence, Sendable {
    /// Each element is one commit's writes.
    public typealias Element = Change
    let engine: Engine
    let since: UInt64
    let pollInterval: Duration

    public func makeAsyncIterator() -> Iterator {
        Iterator(engine: engine, next: since + 1, pollInterval: pollInterval)
    }

    /// Reads one log entry per step; returns nil only when the task is cancelled.
    public struct Iterator: AsyncIteratorProtocol {
        let engine: Engine
        var next: UInt64
        let pollInterval: Duration

        /// The next commit's changes, waiting for one if needed.
        public mutating func next() async throws -> Change? {
            while !Task.isCancelled {
                let key = StoreLayout.logKey(engine.branch, next)
                guard let bytes = try await storageErrors({ try await engine.store.getIfPresent(key) }) else {
                    await engine.waitForCommit(after: next - 1, timeout: pollInterval)
                    if engine.head < next { _ = try? await engine.refresh() }
                    continue
                }
                let entry = try engine.decodeEntry(bytes, seq: next)
                next += 1
                guard let m = try await storageErrors({ try await engine.mutations(of: entry) }) else { continue }
                return Change(seq: entry.seq, timestamp: entry.timestamp, writer: entry.writer, mutations: m.mutations)
            }
            return nil
        }
    }
}

/// A summary of one log entry, for `strata log`.
public struct LogRecord: Sendable, Equatable {
    /// The entry's sequence number.
    public var seq: UInt64
    /// Its timestamp (microseconds since 1970).
    public var timestamp: UInt64
    /// The writer that created it.
    public var writer: String
    /// The SHA-256 of the entry's bytes (what the next entry names as its parent).
    public var hash: ContentHash
    /// "commit", "flush" or "compaction".
    public var kind: String
    /// Number of keys written (commits only).
    public var writes: Int
    /// Number of the transactions in it that other processes relayed to its writer.
    public var relayed: Int
}

extension Engine {
    /// Lists the entries of `branch`'s log from `from` on, without opening an engine.
    public static func log(_ store: any ObjectStore, branch: String = "main", from: UInt64 = 1, limit: Int = .max) async throws -> [LogRecord] {
        let store = retrying(store)
        return try await storageErrors {
            var out: [LogRecord] = []
            var seq = max(1, from)
            while out.count < limit, let bytes = try await store.getIfPresent(StoreLayout.logKey(branch, seq)) {
                let e = try LogEntry.decode(bytes)
                let (kind, writes): (String, Int)
                switch e.body {
                case .inline(let m): (kind, writes) = ("commit", m.count)
                case .batchObject(_, _, let count): (kind, writes) = ("commit", count)
                case .structural(let s): (kind, writes) = (s.kind == .flush ? "flush" : "compaction", 0)
                }
                out.append(LogRecord(seq: e.seq, timestamp: e.timestamp, writer: e.writer, hash: ContentHash(of: bytes), kind: kind, writes: writes,
                    relayed: e.relayed.count))
                seq += 1
            }
            return out
        }
    }
}
