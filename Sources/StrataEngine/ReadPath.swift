/// Point reads, range scans and version history over one ``Version`` at a
/// snapshot sequence: the memtable first, then segments newest first.
enum ReadPath {
    /// The newest version of `key` with sequence <= `seq`, copied out; nil if absent or deleted.
    static func get(_ version: Version, _ key: [UInt8], seq: UInt64) async throws -> [UInt8]? {
        if let read = key.withUnsafeBytes({ memtableRead(version.memtable, $0, seq) }) { return read.value }
        for seg in version.segments where seg.ref.minSeq <= seq {
            guard let b = key.withUnsafeBytes({ seg.candidateBlock($0, seq) }) else { continue }
            let block = try await seg.block(b)
            if let read = key.withUnsafeBytes({ block.read($0, seq) }) { return read.value }
        }
        return nil
    }

    /// `get` answered from memory: nil when a segment block that could hold `key` is not cached.
    static func cachedGet(_ version: Version, _ key: [UInt8], seq: UInt64) -> CachedRead? {
        key.withUnsafeBytes { k -> CachedRead? in
            if let read = memtableRead(version.memtable, k, seq) { return read }
            for seg in version.segments where seg.ref.minSeq <= seq {
                guard let b = seg.candidateBlock(k, seq) else { continue }
                guard let block = seg.cachedBlock(b) else { return nil }
                if let read = block.read(k, seq) { return read }
            }
            return CachedRead(value: nil)
        }
    }

    /// The memtable's answer for `key` at `seq`; nil when it holds no visible version.
    static func memtableRead(_ memtable: Memtable, _ key: UnsafeRawBufferPointer, _ seq: UInt64) -> CachedRead? {
        guard let n = memtable.get(key, snapshot: seq) else { return nil }
        return CachedRead(value: Memtable.kind(n) == .put ? Array(Memtable.value(n)) : nil)
    }

    /// `cachedGet` for many keys, fastest in ascending order: each segment keeps the block of the
    /// previous key and searches its index forward from there, a key in that same block
    /// needs neither the bloom filter nor the cache, and a cached block answers without
    /// the bloom filter. Calls `body` once per key, in order, with the value's bytes (valid
    /// only during the call) — nothing is copied.
    static func cachedGetMany(
        _ version: Version, _ keys: [[UInt8]], seq: UInt64, _ body: (Int, CachedValue) throws -> Void
    ) rethrows {
        let segments = version.segments.filter { $0.ref.minSeq <= seq }
        var current = [(index: Int, block: DecodedBlock?)](repeating: (0, nil), count: segments.count)
        let memtable = version.memtable
        try memtable.withFinger { finger in
            for (n, key) in keys.enumerated() {
                // Keys out of order only cost speed: the forward searches start over.
                if n > 0 && compareBytes(keys[n - 1], key) > 0 {
                    for si in current.indices { current[si] = (0, nil) }
                    memtable.resetFinger(finger)
                }
                try key.withUnsafeBytes { k in
                    if let node = memtable.get(k, snapshot: seq, finger: finger) {
                        return try body(n, Memtable.kind(node) == .put ? .found(Memtable.value(node)) : .absent)
                    }
                    for (si, seg) in segments.enumerated() {
                        if !seg.covers(k) { continue }
                        let b = seg.findBlock(k, seq, from: current[si].index)
                        if b >= seg.blockCount { continue }
                        let block: DecodedBlock
                        if b == current[si].index, let held = current[si].block {
                            block = held
                        } else if let cached = seg.cachedBlock(b) {
                            block = cached
                            current[si] = (b, cached)
                        } else {
                            if seg.mayContain(k) { return try body(n, .uncached) }
                            continue
                        }
                        let i = block.find(k, seq)
                        if i >= 0 { return try body(n, block.kind(i) == .put ? .found(block.value(i)) : .absent) }
                    }
                    try body(n, .absent)
                }
            }
        }
    }

    /// About how many versions lie in `range`, at least `limit` meaning "`limit` or more":
    /// segments count from their block index (blocks overlapping the range times the
    /// segment's entries per block), the memtable by walking at most `limit` nodes. No I/O.
    static func estimatedCount(_ version: Version, _ range: KeyRange, seq: UInt64, limit: Int) -> Int {
        var total = 0
        for seg in version.segments where seg.ref.minSeq <= seq && seg.blockCount > 0 {
            let first = range.lower.withUnsafeBytes { seg.findBlock($0, .max) }
            let end = range.upper.map { u in u.withUnsafeBytes { min(seg.blockCount, seg.findBlock($0, .max) + 1) } } ?? seg.blockCount
            if end > first { total += (end - first) * seg.ref.count / seg.blockCount }
            if total >= limit { return total }
        }
        return total + version.memtable.count(range, limit: limit - total)
    }

    /// Every stored version of `key` (newest first) with sequence <= `seq`.
    static func history(_ version: Version, _ key: [UInt8], seq: UInt64) async throws -> [(seq: UInt64, kind: EntryKind, value: [UInt8])] {
        try await versions(version, KeyRange(lower: key, upper: key + [0]), seq: seq).map { ($0.seq, $0.kind, $0.value) }
    }
}

/// Merges the memtable and segments of a ``Version`` into one ordered stream of
/// the keys visible at a snapshot, forward or backward, without copying keys or values.
///
/// Each source yields, per key, only its newest version at or below the snapshot;
/// because sources have disjoint sequence ranges and are ordered newest first, the
/// first source holding the smallest key has the winning version.
///
/// Every per-entry step is synchronous and restartable: when a step needs a block
/// that is not in memory it returns ``Step/need(_:)``, the scanner loads it (reading
/// ahead several blocks for long scans; beyond a scan's first blocks, outside the shared cache) and runs the
/// step again. So only block boundaries pay for `await`.
final class Scanner {
    enum Step {
        case ready
        case end
        case need(Int)
    }

    /// One input: the memtable (segment == nil) or a segment.
    final class Source {
        let segment: SegmentReader?
        var done = false
        // The current visible entry, cached so comparisons touch no reference counts.
        var curKey = UnsafeRawBufferPointer(start: nil, count: 0)
        var curValue = UnsafeRawBufferPointer(start: nil, count: 0)
        var curKind = EntryKind.put
        // Memtable: the current visible node.
        var node: Memtable.Node?
        // Segment: the current visible version.
        var curBlock: DecodedBlock?
        var curPos = 0
        // Segment: where the walk stands.
        var walkIndex = 0
        var walkBlock: DecodedBlock? {
            didSet { walkView = walkBlock?.view ?? .empty }
        }
        var walkView = BlockView.empty
        var walkPos = 0
        // Segment, backward: the key whose versions are being collected, and the best so far.
        var collecting = false
        var keyBlock: DecodedBlock?
        var keyPos = 0
        var bestBlock: DecodedBlock?
        var bestPos = 0
        // Blocks read ahead, starting at block index `aheadStart`.
        var ahead: [DecodedBlock] = []
        var aheadStart = 0
        var readahead = 1

        init(segment: SegmentReader?) { self.segment = segment }

        func available(_ index: Int) -> DecodedBlock? {
            let i = index - aheadStart
            if i >= 0 && i < ahead.count { return ahead[i] }
            return segment!.cachedBlock(index)
        }
    }

    private let memtable: Memtable
    private let seq: UInt64
    private let range: KeyRange
    private let reverse: Bool
    private var sources: [Source] = []

    init(version: Version, seq: UInt64, range: KeyRange, reverse: Bool) {
        self.memtable = version.memtable
        self.seq = seq
        self.range = range
        self.reverse = reverse
        sources.append(Source(segment: nil))
        for seg in version.segments where seg.ref.minSeq <= seq && seg.blockCount > 0 {
            let r = seg.ref
            if let upper = range.upper, compareBytes(r.minKey, upper) >= 0 { continue }
            if compareBytes(r.maxKey, range.lower) < 0 { continue }
            sources.append(Source(segment: seg))
        }
    }

    /// Calls `body` with each visible key and value in order until it returns false.
    /// The buffers are valid only during the call.
    func run(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) async throws {
        for src in sources {
            var step = try await position(src)
            while case .need(let b) = step {
                try await load(src, b)
                step = settle(src)
            }
        }
        let lower = range.lower
        let upper = range.upper
        // Unretained references (`sources` keeps the objects alive): reading them through
        // the array would cost a retain and release per source per row.
        let refs = sources.map { Unmanaged.passUnretained($0) }
        let count = refs.count
        while true {
            var bestIndex = -1
            var bestKey = UnsafeRawBufferPointer(start: nil, count: 0)
            for i in 0..<count {
                let (done, key) = refs[i]._withUnsafeGuaranteedRef { ($0.done, $0.curKey) }
                if done { continue }
                if bestIndex < 0 {
                    bestIndex = i
                    bestKey = key
                    continue
                }
                let c = compareBytes(key, bestKey)
                if reverse ? c > 0 : c < 0 {
                    bestIndex = i
                    bestKey = key
                }
            }
            if bestIndex < 0 { return }
            let key = bestKey
            if reverse {
                if lower.withUnsafeBytes({ compareBytes(key, $0) < 0 }) { return }
            } else if let upper, upper.withUnsafeBytes({ compareBytes(key, $0) >= 0 }) {
                return
            }
            let (kind, value) = refs[bestIndex]._withUnsafeGuaranteedRef { ($0.curKind, $0.curValue) }
            if kind == .put {
                if try !body(key, value) { return }
            }
            // Advance every source positioned on this key; the winner last, since `key` points into it.
            for i in 0..<count where i != bestIndex {
                let (done, other) = refs[i]._withUnsafeGuaranteedRef { ($0.done, $0.curKey) }
                if done || compareBytes(other, key) != 0 { continue }
                try await step(refs[i])
            }
            try await step(refs[bestIndex])
        }
    }

    /// Advances `ref` past its current key, loading blocks as needed.
    @inline(__always) private func step(_ ref: Unmanaged<Source>) async throws {
        var step = ref._withUnsafeGuaranteedRef { advance($0) }
        while case .need(let b) = step {
            try await load(ref.takeUnretainedValue(), b)
            step = ref._withUnsafeGuaranteedRef { advance($0) }
        }
    }

    // MARK: Current entry

    private func setCurrent(_ src: Source, node: Memtable.Node) {
        src.node = node
        src.curKey = Memtable.key(node)
        src.curValue = Memtable.value(node)
        src.curKind = Memtable.kind(node)
    }

    private func setCurrent(_ src: Source, block: DecodedBlock, view: BlockView, pos: Int) {
        if src.curBlock !== block { src.curBlock = block }
        src.curPos = pos
        src.curKey = view.key(pos)
        src.curValue = view.value(pos)
        src.curKind = view.kind(pos)
    }

    // MARK: Loading

    /// Makes block `index` available to `src`: from the cache, or read with the
    /// blocks after (before, in reverse) it in one ranged get.
    private func load(_ src: Source, _ index: Int) async throws {
        let seg = src.segment!
        if let cached = seg.cachedBlock(index) {
            src.ahead = [cached]
            src.aheadStart = index
            return
        }
        let n = src.readahead
        src.readahead = min(64, src.readahead * 4)
        let range = reverse ? max(0, index - n + 1)..<(index + 1) : index..<min(seg.blockCount, index + n)
        if range.count == 1 {
            src.ahead = [try await seg.block(index)]
        } else {
            src.ahead = try await seg.blocks(range, cacheThem: n <= 16)
        }
        src.aheadStart = range.lowerBound
    }

    private func setWalk(_ src: Source, _ index: Int, _ block: DecodedBlock, atEnd: Bool) {
        src.walkIndex = index
        src.walkBlock = block
        src.walkPos = atEnd ? block.count - 1 : 0
    }

    // MARK: Positioning

    /// Places a source at its first visible entry in scan order.
    private func position(_ src: Source) async throws -> Step {
        guard let seg = src.segment else {
            if reverse {
                let start = range.upper.map { u in u.withUnsafeBytes { memtable.last(before: $0) } } ?? memtable.last(before: nil)
                memBackward(src, from: start)
            } else {
                let start = range.lower.withUnsafeBytes { memtable.seek($0, UInt64.max) }
                memForward(src, from: start)
            }
            return .ready
        }
        if reverse {
            var b = seg.blockCount - 1
            var pos: Int? = nil
            if let upper = range.upper {
                let f = upper.withUnsafeBytes { seg.findBlock($0, UInt64.max) }
                if f < seg.blockCount {
                    b = f
                    try await load(src, b)
                    pos = upper.withUnsafeBytes { src.available(b)!.lowerBound($0, UInt64.max) } - 1
                }
            }
            if src.available(b) == nil { try await load(src, b) }
            setWalk(src, b, src.available(b)!, atEnd: true)
            if let pos { src.walkPos = pos }
        } else {
            let b = range.lower.withUnsafeBytes { seg.findBlock($0, UInt64.max) }
            if b >= seg.blockCount {
                src.done = true
                return .end
            }
            try await load(src, b)
            setWalk(src, b, src.available(b)!, atEnd: false)
            src.walkPos = range.lower.withUnsafeBytes { src.walkBlock!.lowerBound($0, UInt64.max) }
        }
        return settle(src)
    }

    /// Moves a segment source from its walk position to the next visible entry.
    private func settle(_ src: Source) -> Step {
        reverse ? segBackward(src) : segForward(src)
    }

    private func advance(_ src: Source) -> Step {
        guard src.segment != nil else {
            let n = src.node!
            if reverse {
                memBackward(src, from: memtable.last(before: Memtable.key(n)))
            } else {
                var m = memtable.next(n)
                let key = Memtable.key(n)
                while let x = m, compareBytes(Memtable.key(x), key) == 0 { m = memtable.next(x) }
                memForward(src, from: m)
            }
            return .ready
        }
        if reverse { return segBackward(src) }
        // Skip the remaining versions of the current key, then find the next visible one.
        let key = src.curKey
        while true {
            switch walk(src) {
            case .need(let b): return .need(b)
            case .end:
                src.done = true
                return .end
            case .ready:
                guard compareBytes(src.walkView.key(src.walkPos), key) == 0 else { return segForward(src) }
                src.walkPos += 1
            }
        }
    }

    /// Memtable, forward: from node `n`, the first node that is the newest visible version of its key.
    private func memForward(_ src: Source, from n: Memtable.Node?) {
        var n = n
        while let node = n {
            if Memtable.seq(node) <= seq {
                setCurrent(src, node: node)
                return
            }
            // All versions above the snapshot: jump to this key's visible version, if any.
            let m = memtable.seek(Memtable.key(node), seq)
            if let m, compareBytes(Memtable.key(m), Memtable.key(node)) == 0 {
                setCurrent(src, node: m)
                return
            }
            n = m
        }
        src.node = nil
        src.done = true
    }

    /// Memtable, backward: `n` is the oldest version of some key; find that key's
    /// visible version, or move to earlier keys.
    private func memBackward(_ src: Source, from n: Memtable.Node?) {
        var n = n
        while let node = n {
            let key = Memtable.key(node)
            if let m = memtable.seek(key, seq), compareBytes(Memtable.key(m), key) == 0 {
                setCurrent(src, node: m)
                return
            }
            n = memtable.last(before: key)
        }
        src.node = nil
        src.done = true
    }

    /// Moves the walk onto a valid entry, crossing blocks in the scan's direction.
    private func walk(_ src: Source) -> Step {
        while true {
            if src.walkPos >= 0 && src.walkPos < src.walkView.count { return .ready }
            if src.walkBlock == nil { return .end }
            let backward = src.walkPos < 0
            let next = src.walkIndex + (backward ? -1 : 1)
            if next < 0 || next >= src.segment!.blockCount {
                src.walkBlock = nil
                return .end
            }
            guard let nb = src.available(next) else { return .need(next) }
            setWalk(src, next, nb, atEnd: backward)
        }
    }

    /// Segment, forward: from the walk position, the first entry visible at the snapshot.
    private func segForward(_ src: Source) -> Step {
        while true {
            switch walk(src) {
            case .need(let b): return .need(b)
            case .end:
                src.done = true
                return .end
            case .ready:
                if src.walkView.seq(src.walkPos) <= seq {
                    // The walk stays on the visible version; `advance` skips it and older ones.
                    setCurrent(src, block: src.walkBlock!, view: src.walkView, pos: src.walkPos)
                    return .ready
                }
                src.walkPos += 1
            }
        }
    }

    /// Segment, backward: walk back over all versions of the key at the walk
    /// position, keeping the newest visible one; repeat until a key has one.
    private func segBackward(_ src: Source) -> Step {
        while true {
            if !src.collecting {
                switch walk(src) {
                case .need(let b): return .need(b)
                case .end:
                    src.done = true
                    return .end
                case .ready:
                    src.collecting = true
                    src.keyBlock = src.walkBlock
                    src.keyPos = src.walkPos
                    src.bestBlock = nil
                }
            }
            let key = src.keyBlock!.key(src.keyPos)
            collect: while true {
                switch walk(src) {
                case .need(let b): return .need(b)
                case .end: break collect
                case .ready:
                    let wb = src.walkBlock!
                    if compareBytes(wb.key(src.walkPos), key) != 0 { break collect }
                    if wb.seq(src.walkPos) <= seq {
                        src.bestBlock = wb
                        src.bestPos = src.walkPos
                    }
                    src.walkPos -= 1
                }
            }
            src.collecting = false
            if let best = src.bestBlock {
                setCurrent(src, block: best, view: best.view, pos: src.bestPos)
                src.bestBlock = nil
                src.keyBlock = nil
                return .ready
            }
            src.keyBlock = nil
        }
    }
}

extension ReadPath {
    /// Every stored version of every key in `range` with sequence <= `seq`, ordered by
    /// key and then newest first.
    static func versions(_ version: Version, _ range: KeyRange, seq: UInt64) async throws -> [VersionedKeyValue] {
        var out: [VersionedKeyValue] = []
        func below(_ k: UnsafeRawBufferPointer) -> Bool {
            guard let upper = range.upper else { return true }
            return upper.withUnsafeBytes { compareBytes(k, $0) < 0 }
        }
        range.lower.withUnsafeBytes { lower in
            var n = version.memtable.seek(lower, UInt64.max)
            while let node = n, below(Memtable.key(node)) {
                if Memtable.seq(node) <= seq {
                    out.append(VersionedKeyValue(key: Array(Memtable.key(node)), seq: Memtable.seq(node), kind: Memtable.kind(node), value: Array(Memtable.value(node))))
                }
                n = version.memtable.next(node)
            }
        }
        // A range of exactly one key can skip segments by their bloom filters.
        let singleKey = range.upper == range.lower + [0]
        for seg in version.segments where seg.ref.minSeq <= seq {
            let disjoint = range.lower.withUnsafeBytes { l in seg.ref.maxKey.withUnsafeBytes { compareBytes($0, l) < 0 } }
                || (range.upper.map { u in u.withUnsafeBytes { up in seg.ref.minKey.withUnsafeBytes { compareBytes($0, up) >= 0 } } } ?? false)
                || (singleKey && !range.lower.withUnsafeBytes { seg.mayContain($0) })
            if disjoint { continue }
            var b = range.lower.withUnsafeBytes { seg.findBlock($0, UInt64.max) }
            scanning: while b < seg.blockCount {
                let block = try await seg.block(b)
                let done: Bool = range.lower.withUnsafeBytes { lower in
                    var i = block.lowerBound(lower, UInt64.max)
                    while i < block.count {
                        guard below(block.key(i)) else { return true }
                        if block.seq(i) <= seq {
                            out.append(VersionedKeyValue(key: Array(block.key(i)), seq: block.seq(i), kind: block.kind(i), value: Array(block.value(i))))
                        }
                        i += 1
                    }
                    return false
                }
                if done { break scanning }
                b += 1
            }
        }
        out.sort { a, b in
            let c = compareBytes(a.key, b.key)
            return c != 0 ? c < 0 : a.seq > b.seq
        }
        return out
    }
}

/// One stored version of one key, as ``Snapshot/versions(in:)`` returns it.
public struct VersionedKeyValue: Equatable, Sendable {
    /// The key.
    public var key: [UInt8]
    /// The commit sequence number that wrote this version.
    public var seq: UInt64
    /// Put or delete.
    public var kind: EntryKind
    /// The value (empty for a delete).
    public var value: [UInt8]
}

extension Snapshot {
    /// Every retained version of every key in `range` up to this snapshot, ordered by key
    /// and newest first (deletes included): the raw material of `FOR SYSTEM_TIME ALL`.
    public func versions(in range: KeyRange) async throws -> [VersionedKeyValue] {
        let horizon = version.horizon
        let all = try await storageErrors { try await ReadPath.versions(version, range, seq: seq) }
        // Versions below the horizon are gone, except the one each key had at the horizon.
        var out: [VersionedKeyValue] = []
        var previousKey: [UInt8]? = nil
        var keptOld = false
        for v in all {
            if v.key != previousKey {
                previousKey = v.key
                keptOld = false
            }
            if v.seq >= horizon {
                out.append(v)
            } else if !keptOld {
                keptOld = true
                out.append(v)
            }
        }
        return out
    }
}
