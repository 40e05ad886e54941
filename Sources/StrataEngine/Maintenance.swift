import StrataStore

/// Whether background maintenance is running, and its task.
struct MaintenanceState {
    var running = false
    var task: Task<Void, Never>?
}

extension Engine {
    func needsFlush(_ v: Version) -> Bool {
        (v.head > v.watermark && v.head - v.watermark >= options.checkpointInterval)
            || v.memtable.bytes >= options.memtableBytes
    }

    /// More segments than `maxSegments`, beyond those a database of this size needs
    /// at `maxSegmentBytes` each.
    func needsCompaction(_ v: Version) -> Bool {
        let bytes = v.segments.reduce(0) { $0 + $1.ref.size }
        return v.segments.count > options.maxSegments + bytes / max(1, options.maxSegmentBytes)
    }

    /// Starts a background flush or compaction when a threshold is crossed and none is running.
    func scheduleMaintenanceIfNeeded() {
        guard options.automaticMaintenance, !isClosed.load(ordering: .relaxed) else { return }
        let v = version
        guard needsFlush(v) || needsCompaction(v) else { return }
        // A process that relays its commits leaves flushes and compactions to the relay,
        // which crosses the same thresholds at the same commits: racing it with the same
        // change would only lose, again and again, reading the log after every loss. It
        // steps in only when the relay falls far behind.
        if relay.withLock({ $0.target != nil }), v.head - v.watermark < 4 * options.checkpointInterval,
            v.memtable.bytes < 4 * options.memtableBytes
        {
            return
        }
        let start = maintenanceState.withLock { s -> Bool in
            if s.running { return false }
            s.running = true
            return true
        }
        guard start else { return }
        let task = Task {
            await self.runMaintenance()
            self.maintenanceState.withLock {
                $0.running = false
                $0.task = nil
            }
        }
        maintenanceState.withLock { s in if s.running { s.task = task } }
    }

    private func runMaintenance() async {
        var rounds = 0
        while !isClosed.load(ordering: .relaxed) && rounds < 64 {
            rounds += 1
            let v = version
            do {
                if needsFlush(v) {
                    try await flush()
                } else if needsCompaction(v) {
                    try await compact()
                } else {
                    return
                }
            } catch {
                // Another process did the same work first, or the store failed; the next
                // commit that crosses a threshold tries again.
                return
            }
        }
    }

    /// Writes every commit in the memtable to a new segment and records it with a
    /// flush entry, whose manifest is the new checkpoint.
    public func flush() async throws {
        try await storageErrors {
            for _ in 0..<16 {
                // Start recording later commits at the same instant the target is chosen.
                let v = current.withLock { v -> Version in
                    flushSideLog.withLock { $0 = (v.head, []) }
                    return v
                }
                guard v.head > v.watermark else {
                    flushSideLog.withLock { $0 = nil }
                    return
                }
                let target = v.head
                var writer = SegmentWriter(blockSize: options.blockSize, expectedKeys: v.memtable.count)
                v.memtable.forEach { n in
                    let s = Memtable.seq(n)
                    if s > v.watermark && s <= target {
                        writer.add(key: Memtable.key(n), seq: s, kind: Memtable.kind(n), value: Memtable.value(n))
                    }
                }
                var adds: [SegmentRef] = []
                if writer.count > 0 {
                    let (bytes, ref) = writer.finish()
                    try await store.put(StoreLayout.objectKey(ref.hash), bytes)
                    adds = [ref]
                }
                let manifest = Manifest(watermark: target, horizon: v.horizon, segments: adds + v.segments.map(\.ref))
                let change = StructuralChange(
                    kind: .flush, watermark: target, horizon: v.horizon, manifest: try await putManifest(manifest),
                    removes: [], adds: adds)
                do {
                    let seq = try await submit(CommitRequest(.structural(change, baseStructure: v.structureSeq)))
                    try await store.put(StoreLayout.checkpointKey(branch, seq), Array(change.manifest.hex.utf8))
                    return
                } catch EngineError.structureChanged {
                    flushSideLog.withLock { $0 = nil }
                    if version.watermark >= target { return }
                } catch {
                    flushSideLog.withLock { $0 = nil }
                    throw error
                }
            }
        }
    }

    /// Merges segments into one, dropping versions older than the retention horizon
    /// that newer ones shadow. With `all`, merges every segment; otherwise a run of
    /// the newest segments of similar total size (size-tiered).
    public func compact(all: Bool = false) async throws {
        try await storageErrors {
            for _ in 0..<16 {
                let v = version
                let segs = v.segments
                guard segs.count >= 2 || (all && segs.count == 1 && retentionHorizon(v) > v.horizon) else { return }
                var n = segs.count
                if !all {
                    n = 1
                    var sum = segs[0].ref.size
                    while n < segs.count && segs[n].ref.size <= 2 * sum {
                        sum += segs[n].ref.size
                        n += 1
                    }
                    n = max(n, 2)
                }
                let run = Array(segs[0..<n])
                let horizon = retentionHorizon(v)
                let adds = try await merge(run, horizon: horizon, bottom: n == segs.count)
                let manifest = Manifest(
                    watermark: v.watermark, horizon: horizon, segments: adds + segs[n...].map(\.ref))
                let change = StructuralChange(
                    kind: .compaction, watermark: v.watermark, horizon: horizon, manifest: try await putManifest(manifest),
                    removes: run.map(\.ref.hash), adds: adds)
                do {
                    let seq = try await submit(CommitRequest(.structural(change, baseStructure: v.structureSeq)))
                    try await store.put(StoreLayout.checkpointKey(branch, seq), Array(change.manifest.hex.utf8))
                    return
                } catch EngineError.structureChanged {
                    continue
                }
            }
        }
    }

    func retentionHorizon(_ v: Version) -> UInt64 {
        switch options.retention {
        case .keepAll: return v.horizon
        case .commits(let n): return max(v.horizon, v.head > n ? v.head - n : 0)
        }
    }

    private func putManifest(_ m: Manifest) async throws -> ContentHash {
        let bytes = m.encode()
        let h = ContentHash(of: bytes)
        try await store.put(StoreLayout.objectKey(h), bytes)
        return h
    }

    /// Merges the segments' entries in (key, sequence descending) order into new
    /// segments of at most about `maxSegmentBytes` each (split only between keys),
    /// stores them, and returns their references.
    private func merge(_ run: [SegmentReader], horizon: UInt64, bottom: Bool) async throws -> [SegmentRef] {
        struct Cursor {
            let seg: SegmentReader
            var index = 0
            var block: DecodedBlock?
            var pos = 0
        }
        var cursors: [Cursor] = []
        for seg in run where seg.blockCount > 0 {
            var c = Cursor(seg: seg)
            c.block = try await seg.block(0)
            cursors.append(c)
        }
        let expected = run.reduce(0) { $0 + $1.ref.count }
        var writer = SegmentWriter(blockSize: options.blockSize, expectedKeys: expected)
        var parts: [SegmentRef] = []
        func store(_ w: inout SegmentWriter) async throws {
            guard w.count > 0 else { return }
            let (bytes, ref) = w.finish()
            try await self.store.put(StoreLayout.objectKey(ref.hash), bytes)
            parts.append(ref)
        }
        var lastKey: [UInt8] = []
        var keptAtOrBelowHorizon = false
        var first = true
        while true {
            var best = -1
            for i in cursors.indices where cursors[i].block != nil {
                if best < 0 {
                    best = i
                    continue
                }
                let a = cursors[i].block!, b = cursors[best].block!
                let c = compareBytes(a.key(cursors[i].pos), b.key(cursors[best].pos))
                if c < 0 || (c == 0 && a.seq(cursors[i].pos) > b.seq(cursors[best].pos)) { best = i }
            }
            if best < 0 { break }
            let blk = cursors[best].block!
            let p = cursors[best].pos
            let key = blk.key(p)
            let seq = blk.seq(p)
            if first || lastKey.withUnsafeBytes({ compareBytes($0, key) != 0 }) {
                lastKey = Array(key)
                keptAtOrBelowHorizon = false
                first = false
            }
            var keep = true
            if seq <= horizon {
                if keptAtOrBelowHorizon {
                    keep = false
                } else {
                    keptAtOrBelowHorizon = true
                    // A tombstone at the bottom shadows nothing: drop it.
                    keep = !(bottom && blk.kind(p) == .delete)
                }
            }
            if keep {
                if writer.byteSize >= options.maxSegmentBytes && !writer.isLastKey(key) {
                    try await store(&writer)
                    writer = SegmentWriter(blockSize: options.blockSize, expectedKeys: expected)
                }
                writer.add(key: key, seq: seq, kind: blk.kind(p), value: blk.value(p))
            }
            cursors[best].pos += 1
            if cursors[best].pos >= blk.count {
                cursors[best].index += 1
                cursors[best].pos = 0
                cursors[best].block = cursors[best].index < cursors[best].seg.blockCount
                    ? try await cursors[best].seg.block(cursors[best].index) : nil
            }
        }
        try await store(&writer)
        return parts
    }
}
