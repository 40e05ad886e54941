/// Point reads, range scans and version history over one ``Version`` at a
/// snapshot sequence: the memtable first, then segments newest first.
enum ReadPath {
    enum Found {
        case absent
        case put(UnsafeRawBufferPointer)
        case deleted
    }

    /// The newest version of `key` with sequence <= `seq`, copied out; nil if absent or deleted.
    static func get(_ version: Version, _ key: [UInt8], seq: UInt64) async throws -> [UInt8]? {
        let fromMem: [UInt8]?? = key.withUnsafeBytes { k in
            guard let n = version.memtable.get(k, snapshot: seq) else { return nil }
            return Memtable.kind(n) == .put ? .some(Array(Memtable.value(n))) : .some(nil)
        }
        if let fromMem { return fromMem }
        for seg in version.segments where seg.ref.minSeq <= seq {
            let (b, skip): (Int, Bool) = key.withUnsafeBytes { k in
                let r = seg.ref
                if r.minKey.withUnsafeBytes({ compareBytes(k, $0) < 0 }) || r.maxKey.withUnsafeBytes({ compareBytes(k, $0) > 0 }) {
                    return (0, true)
                }
                if !seg.mayContain(k) { return (0, true) }
                let b = seg.findBlock(k, seq)
                return (b, b >= seg.blockCount)
            }
            if skip { continue }
            let block: DecodedBlock
            if let cached = seg.cachedBlock(b) { block = cached } else { block = try await seg.block(b) }
            let result: [UInt8]?? = key.withUnsafeBytes { k in
                let i = block.lowerBound(k, seq)
                guard i < block.count, compareBytes(block.key(i), k) == 0 else { return nil }
                return block.kind(i) == .put ? .some(Array(block.value(i))) : .some(nil)
            }
            if let result { return result }
        }
        return nil
    }

    /// Every stored version of `key` (newest first) with sequence <= `seq`.
    static func history(_ version: Version, _ key: [UInt8], seq: UInt64) async throws -> [(seq: UInt64, kind: EntryKind, value: [UInt8])] {
        var out: [(seq: UInt64, kind: EntryKind, value: [UInt8])] = []
        key.withUnsafeBytes { k in
            var n = version.memtable.seek(k, UInt64.max)
            while let node = n, compareBytes(Memtable.key(node), k) == 0 {
                if Memtable.seq(node) <= seq { out.append((Memtable.seq(node), Memtable.kind(node), Array(Memtable.value(node)))) }
                n = version.memtable.next(node)
            }
        }
        for seg in version.segments where seg.ref.minSeq <= seq {
            let skip = key.withUnsafeBytes { k in
                seg.ref.minKey.withUnsafeBytes({ compareBytes(k, $0) < 0 }) || seg.ref.maxKey.withUnsafeBytes({ compareBytes(k, $0) > 0 })
                    || !seg.mayContain(k)
            }
            if skip { continue }
            var b = key.withUnsafeBytes { seg.findBlock($0, UInt64.max) }
            scanning: while b < seg.blockCount {
                let block = try await seg.block(b)
                let done: Bool = key.withUnsafeBytes { k in
                    var i = block.lowerBound(k, UInt64.max)
                    while i < block.count {
                        guard compareBytes(block.key(i), k) == 0 else { return true }
                        if block.seq(i) <= seq { out.append((block.seq(i), block.kind(i), Array(block.value(i)))) }
                        i += 1
                    }
                    return false
                }
                if done { break scanning }
                b += 1
            }
        }
        out.sort { $0.seq > $1.seq }
        return out
    }
}

/// Merges the memtable and segments of a ``Version`` into one ordered stream of
/// the keys visible at a snapshot, forward or backward, without copying keys or values.
///
/// Each source yields, per key, only its newest version at or below the snapshot;
/// because sources have disjoint sequence ranges and are ordered newest first, the
/// first source holding the smallest key has the winning version.
final class Scanner {
    private struct Source {
        var segment: SegmentReader?
        /// Memtable: the current visible node.
        var node: Memtable.Node?
        /// Segment: the block and entry of the current visible version.
        var curBlock: DecodedBlock?
        var curPos = 0
        /// Segment: where the walk stands (block index, block, entry).
        var walkIndex = 0
        var walkBlock: DecodedBlock?
        var walkPos = 0
        var done = false
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
        sources.append(Source())
        for seg in version.segments where seg.ref.minSeq <= seq {
            let r = seg.ref
            if let upper = range.upper, compareBytes(r.minKey, upper) >= 0 { continue }
            if compareBytes(r.maxKey, range.lower) < 0 { continue }
            var s = Source()
            s.segment = seg
            sources.append(s)
        }
    }

    /// Calls `body` with each visible key and value in order until it returns false.
    /// The buffers are valid only during the call.
    func run(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) async throws {
        for i in sources.indices { try await position(i) }
        while true {
            var best = -1
            for i in sources.indices where !sources[i].done {
                if best < 0 {
                    best = i
                } else {
                    let c = compareBytes(currentKey(i), currentKey(best))
                    if reverse ? c > 0 : c < 0 { best = i }
                }
            }
            if best < 0 { return }
            let key = currentKey(best)
            if reverse ? !range.lower.withUnsafeBytes({ compareBytes(key, $0) >= 0 })
                : !(range.upper.map { u in u.withUnsafeBytes { compareBytes(key, $0) < 0 } } ?? true) {
                return
            }
            if currentKind(best) == .put {
                if try !body(key, currentValue(best)) { return }
            }
            // Advance every source positioned on this key; the winner last, since `key` points into it.
            for i in sources.indices where i != best && !sources[i].done && compareBytes(currentKey(i), key) == 0 {
                try await advance(i)
            }
            try await advance(best)
        }
    }

    // MARK: Current entry

    private func currentKey(_ i: Int) -> UnsafeRawBufferPointer {
        if sources[i].segment == nil { return Memtable.key(sources[i].node!) }
        return sources[i].curBlock!.key(sources[i].curPos)
    }

    private func currentValue(_ i: Int) -> UnsafeRawBufferPointer {
        if sources[i].segment == nil { return Memtable.value(sources[i].node!) }
        return sources[i].curBlock!.value(sources[i].curPos)
    }

    private func currentKind(_ i: Int) -> EntryKind {
        if sources[i].segment == nil { return Memtable.kind(sources[i].node!) }
        return sources[i].curBlock!.kind(sources[i].curPos)
    }

    // MARK: Positioning

    private func position(_ i: Int) async throws {
        if sources[i].segment == nil {
            if reverse {
                let start = range.upper.flatMap { u in u.withUnsafeBytes { memtable.last(before: $0) } }
                    ?? (range.upper == nil ? memtable.last(before: nil) : nil)
                memBackward(i, from: start)
            } else {
                let start = range.lower.withUnsafeBytes { memtable.seek($0, UInt64.max) }
                memForward(i, from: start)
            }
            return
        }
        let seg = sources[i].segment!
        if reverse {
            if let upper = range.upper {
                let b = upper.withUnsafeBytes { seg.findBlock($0, UInt64.max) }
                if b >= seg.blockCount {
                    try await setWalk(i, block: seg.blockCount - 1, atEnd: true)
                } else {
                    try await setWalk(i, block: b, atEnd: false)
                    sources[i].walkPos = upper.withUnsafeBytes { sources[i].walkBlock!.lowerBound($0, UInt64.max) } - 1
                }
            } else {
                try await setWalk(i, block: seg.blockCount - 1, atEnd: true)
            }
            try await segBackward(i)
        } else {
            let b = range.lower.withUnsafeBytes { seg.findBlock($0, UInt64.max) }
            if b >= seg.blockCount {
                sources[i].done = true
                return
            }
            try await setWalk(i, block: b, atEnd: false)
            sources[i].walkPos = range.lower.withUnsafeBytes { sources[i].walkBlock!.lowerBound($0, UInt64.max) }
            try await segForward(i)
        }
    }

    private func advance(_ i: Int) async throws {
        if sources[i].segment == nil {
            let n = sources[i].node!
            if reverse {
                memBackward(i, from: memtable.last(before: Memtable.key(n)))
            } else {
                var m = memtable.next(n)
                let key = Memtable.key(n)
                while let x = m, compareBytes(Memtable.key(x), key) == 0 { m = memtable.next(x) }
                memForward(i, from: m)
            }
        } else if reverse {
            try await segBackward(i)
        } else {
            // Skip the remaining versions of the current key.
            let key = currentKey(i)
            let hold = sources[i].curBlock
            while try await walkValid(i), compareBytes(sources[i].walkBlock!.key(sources[i].walkPos), key) == 0 {
                sources[i].walkPos += 1
            }
            _ = hold
            try await segForward(i)
        }
    }

    /// Memtable, forward: from node `n`, the first node that is the newest visible version of its key.
    private func memForward(_ i: Int, from n: Memtable.Node?) {
        var n = n
        while let node = n {
            if Memtable.seq(node) <= seq {
                sources[i].node = node
                return
            }
            // All versions above the snapshot: jump to this key's visible version, if any.
            let m = memtable.seek(Memtable.key(node), seq)
            if let m, compareBytes(Memtable.key(m), Memtable.key(node)) == 0 {
                sources[i].node = m
                return
            }
            n = m
        }
        sources[i].done = true
    }

    /// Memtable, backward: `n` is the oldest version of some key; find that key's
    /// visible version, or move to earlier keys.
    private func memBackward(_ i: Int, from n: Memtable.Node?) {
        var n = n
        while let node = n {
            let key = Memtable.key(node)
            if let m = memtable.seek(key, seq), compareBytes(Memtable.key(m), key) == 0 {
                sources[i].node = m
                return
            }
            n = memtable.last(before: key)
        }
        sources[i].done = true
    }

    private func setWalk(_ i: Int, block: Int, atEnd: Bool) async throws {
        guard block >= 0 else {
            sources[i].walkBlock = nil
            sources[i].walkPos = -1
            return
        }
        let b = try await sources[i].segment!.block(block)
        sources[i].walkIndex = block
        sources[i].walkBlock = b
        sources[i].walkPos = atEnd ? b.count - 1 : 0
    }

    /// Moves the walk onto a valid entry (crossing blocks in the scan's direction); false at the end.
    private func walkValid(_ i: Int) async throws -> Bool {
        while true {
            guard let b = sources[i].walkBlock else { return false }
            if sources[i].walkPos >= 0 && sources[i].walkPos < b.count { return true }
            let next = sources[i].walkIndex + (sources[i].walkPos < 0 ? -1 : 1)
            if next < 0 || next >= sources[i].segment!.blockCount {
                sources[i].walkBlock = nil
                return false
            }
            try await setWalk(i, block: next, atEnd: sources[i].walkPos < 0)
        }
    }

    /// Segment, forward: from the walk position, the first entry visible at the snapshot.
    private func segForward(_ i: Int) async throws {
        while try await walkValid(i) {
            let b = sources[i].walkBlock!
            let p = sources[i].walkPos
            if b.seq(p) <= seq {
                // The walk stays on the visible version; `advance` skips it and older ones.
                sources[i].curBlock = b
                sources[i].curPos = p
                return
            }
            sources[i].walkPos += 1
        }
        sources[i].done = true
    }

    /// Segment, backward: walk back over all versions of the key at the walk
    /// position, keeping the newest visible one; repeat until a key has one.
    private func segBackward(_ i: Int) async throws {
        while try await walkValid(i) {
            let b = sources[i].walkBlock!
            let keyBlock = b
            let keyPos = sources[i].walkPos
            var bestBlock: DecodedBlock?
            var bestPos = 0
            while try await walkValid(i) {
                let wb = sources[i].walkBlock!
                let wp = sources[i].walkPos
                if compareBytes(wb.key(wp), keyBlock.key(keyPos)) != 0 { break }
                if wb.seq(wp) <= seq {
                    bestBlock = wb
                    bestPos = wp
                }
                sources[i].walkPos -= 1
            }
            if let bestBlock {
                sources[i].curBlock = bestBlock
                sources[i].curPos = bestPos
                return
            }
        }
        sources[i].done = true
    }
}
