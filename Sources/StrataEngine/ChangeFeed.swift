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
    /// this process and every other one; the sequence waits for new commits (woken
    /// by local commits, and polling the store every `pollInterval`) until cancelled.
    public func changes(since: UInt64, pollInterval: Duration = .milliseconds(100)) -> AsyncThrowingStream<Change, any Error> {
        let (stream, continuation) = AsyncThrowingStream<Change, any Error>.makeStream(bufferingPolicy: .bufferingNewest(4096))
        let task = Task {
            var next = since + 1
            do {
                while !Task.isCancelled {
                    guard let bytes = try await storageErrors({ try await store.getIfPresent(StoreLayout.logKey(branch, next)) }) else {
                        await waitForCommit(after: next - 1, timeout: pollInterval)
                        if head < next { _ = try? await refresh() }
                        continue
                    }
                    let entry = try decodeEntry(bytes, seq: next)
                    switch entry.body {
                    case .inline(let m):
                        continuation.yield(Change(seq: entry.seq, timestamp: entry.timestamp, writer: entry.writer, mutations: m))
                    case .batchObject(let h, _, _):
                        let m = try BatchCoding.decode(try await storageErrors { try await readObject(store, h) })
                        continuation.yield(Change(seq: entry.seq, timestamp: entry.timestamp, writer: entry.writer, mutations: m))
                    case .structural:
                        break
                    }
                    next += 1
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
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
}

extension Engine {
    /// Lists the entries of `branch`'s log from `from` on, without opening an engine.
    public static func log(_ store: any ObjectStore, branch: String = "main", from: UInt64 = 1, limit: Int = .max) async throws -> [LogRecord] {
        try await storageErrors {
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
                out.append(LogRecord(seq: e.seq, timestamp: e.timestamp, writer: e.writer, hash: ContentHash(of: bytes), kind: kind, writes: writes))
                seq += 1
            }
            return out
        }
    }
}
