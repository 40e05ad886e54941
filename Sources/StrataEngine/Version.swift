/// The engine's structure at one committed sequence number: the live segments
/// (newest first, with disjoint sequence ranges) and the memtable holding every
/// version above the watermark. Immutable; a commit or flush makes a new one.
final class Version: Sendable {
    /// The newest applied log entry, its hash and timestamp.
    let head: UInt64
    let headHash: ContentHash
    let headTimestamp: UInt64
    /// Every version with sequence <= watermark is in `segments`; the rest are in `memtable`.
    let watermark: UInt64
    /// Versions below this sequence may have been dropped by compaction.
    let horizon: UInt64
    /// Sequence of the newest structural entry (flush or compaction); 0 if none.
    let structureSeq: UInt64
    let segments: [SegmentReader]
    let memtable: Memtable

    init(
        head: UInt64, headHash: ContentHash, headTimestamp: UInt64, watermark: UInt64, horizon: UInt64,
        structureSeq: UInt64, segments: [SegmentReader], memtable: Memtable
    ) {
        self.head = head
        self.headHash = headHash
        self.headTimestamp = headTimestamp
        self.watermark = watermark
        self.horizon = horizon
        self.structureSeq = structureSeq
        self.segments = segments.sorted { $0.ref.maxSeq > $1.ref.maxSeq }
        self.memtable = memtable
    }

    var manifest: Manifest {
        Manifest(watermark: watermark, horizon: horizon, segments: segments.map(\.ref))
    }
}
