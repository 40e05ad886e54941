/// How long old versions are kept.
public enum Retention: Sendable, Equatable {
    /// Keep every version forever (the default): any past state can be read.
    case keepAll
    /// Keep the versions needed to read the last `n` commits; older snapshots are refused.
    case commits(UInt64)
}

/// Settings of an ``Engine``.
public struct EngineOptions: Sendable {
    /// The branch whose log this engine follows.
    public var branch = "main"
    /// Flush (and so write a checkpoint) once this many log entries are above the watermark,
    /// so that opening never replays more than about this many entries.
    public var checkpointInterval: UInt64 = 1000
    /// Flush once the memtable's arena reaches this many bytes.
    public var memtableBytes = 64 << 20
    /// Byte budget of the in-memory block cache.
    public var blockCacheBytes = 64 << 20
    /// Target size of a segment data block.
    public var blockSize = 32768
    /// Compaction starts a new output segment after this many bytes, so that its
    /// memory use stays bounded however large the database grows.
    public var maxSegmentBytes = 64 << 20
    /// Compact once more than this many segments are live.
    public var maxSegments = 8
    /// Commits whose batch encodes to at most this many bytes are stored inside the log entry.
    public var inlineBatchLimit = 64 << 10
    /// At most this many transactions share one log entry.
    public var maxGroupSize = 1024
    /// Versions kept for time travel.
    public var retention: Retention = .keepAll
    /// Flush and compact in the background when thresholds are crossed.
    public var automaticMaintenance = true
    /// When set, the engine polls the store for other processes' commits this often.
    public var pollInterval: Duration? = nil
    /// When set, this process relays commits (see ``RelayListener``): it listens on a free
    /// TCP port of this host address (for processes on one machine, `127.0.0.1`) and
    /// publishes it in the store; after losing the race for a log position to a process
    /// that relays, it sends its transactions there, so that the processes' transactions
    /// share log entries instead of racing one round trip at a time.
    public var relayHost: String? = nil
    /// Names this process in the log's writer column; a random id when nil.
    public var writerName: String? = nil

    /// The defaults.
    public init() {}
}
