import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The versions of recent commits that are not yet in a segment, sorted by
/// (key ascending, sequence descending) in a skip list.
///
/// Nodes live in large arena chunks, so an insert allocates nothing per key and a
/// node never moves: readers may keep node pointers for the memtable's lifetime.
/// A node's key, value, sequence and kind never change after insertion; only the
/// forward links do, and those are read and written under `lock`.
///
/// - Complexity: insert and seek are O(log n) expected.
final class Memtable: @unchecked Sendable {
    // @unchecked: all mutable state (arena, links, counters) is touched only under `lock`;
    // the node fields readers access without the lock are immutable once published.
    typealias Node = UnsafeMutableRawPointer

    static let maxHeight = 12
    private static let headerSize = 24
    /// Arena chunks are 2 MiB, aligned to 2 MiB: on Linux each is asked to be one
    /// transparent huge page, so filling a memtable takes one page fault per 2 MiB
    /// instead of one per 4 KiB (page faults fell from ~5% to ~1% of a bulk load's
    /// profile) and searches across a large memtable miss the TLB less often.
    private static let chunkSize = 2 << 20

    private let mutex = Mutex<Void>(())

    /// Runs `body` under the lock; results need not be Sendable because the
    /// memtable owns the memory they point into.
    @inline(__always) private func locked<T>(_ body: () -> T) -> T {
        var result: T?
        mutex.withLock { _ in result = body() }
        return result!
    }
    private var chunks: [UnsafeMutableRawPointer] = []
    private var free: UnsafeMutableRawPointer?
    private var freeBytes = 0
    private let head: Node
    private var height = 1
    /// The last node of the list (largest key): lookups past it skip the search (as do
    /// lookups before the first node).
    private var tail: Node?
    private var rng: UInt64 = 0x2545_F491_4F6C_DD1D
    private var _count = 0
    private var _bytes = 0
    /// A sorted array over every node, for reads while no writes come (see ``ReadIndex``);
    /// dropped by the next insert.
    private var readIndex: ReadIndex?
    /// Searches since the last insert: once they outnumber a quarter of the nodes, building
    /// the read index costs less than the pointer chasing it saves.
    private var readsSinceWrite = 0

    init() {
        let size = Self.headerSize + 8 * Self.maxHeight
        head = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        head.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        head.storeBytes(of: UInt8(Self.maxHeight), toByteOffset: 17, as: UInt8.self)
    }

    deinit {
        head.deallocate()
        for c in chunks { c.deallocate() }
    }

    /// Number of versions held.
    var count: Int { locked { _count } }
    /// Bytes of arena memory used, and of the read index while it lives: what the
    /// memtable costs against the memory budget.
    var bytes: Int { locked { _bytes + (readIndex?.byteCost ?? 0) } }
    /// True while reads go through the read index (for tests).
    var hasReadIndex: Bool { locked { readIndex != nil } }

    // MARK: Node fields (immutable after insertion)

    @inline(__always) static func seq(_ n: Node) -> UInt64 { n.load(as: UInt64.self) }
    @inline(__always) static func kind(_ n: Node) -> EntryKind {
        EntryKind(rawValue: n.load(fromByteOffset: 16, as: UInt8.self)) ?? .put
    }
    @inline(__always) private static func height(_ n: Node) -> Int { Int(n.load(fromByteOffset: 17, as: UInt8.self)) }
    @inline(__always) static func key(_ n: Node) -> UnsafeRawBufferPointer {
        let len = Int(n.load(fromByteOffset: 8, as: UInt32.self))
        return UnsafeRawBufferPointer(start: n + headerSize + 8 * height(n), count: len)
    }
    @inline(__always) static func value(_ n: Node) -> UnsafeRawBufferPointer {
        let klen = Int(n.load(fromByteOffset: 8, as: UInt32.self))
        let vlen = Int(n.load(fromByteOffset: 12, as: UInt32.self))
        return UnsafeRawBufferPointer(start: n + headerSize + 8 * height(n) + klen, count: vlen)
    }
    @inline(__always) private static func next(_ n: Node, _ level: Int) -> Node? {
        n.load(fromByteOffset: headerSize + 8 * level, as: Node?.self)
    }
    @inline(__always) private static func setNext(_ n: Node, _ level: Int, _ to: Node?) {
        n.storeBytes(of: to, toByteOffset: headerSize + 8 * level, as: Node?.self)
    }

    /// Order of a node against (key, seq): keys ascending, then sequences descending.
    @inline(__always) static func compare(_ n: Node, _ key: UnsafeRawBufferPointer, _ seq: UInt64) -> Int {
        let c = compareBytes(Self.key(n), key)
        if c != 0 { return c }
        let s = Self.seq(n)
        return s > seq ? -1 : (s < seq ? 1 : 0)
    }

    // MARK: Writes

    /// Inserts the mutations of one commit at sequence `seq`.
    /// Keys ascend (batches are sorted), so they are inserted with a finger: each search
    /// starts from the previous key's position instead of the top of the list.
    func apply(_ writes: MutationBatch, seq: UInt64) {
        locked {
            withUnsafeTemporaryAllocation(of: Node.self, capacity: Self.maxHeight) { finger in
                var first = true
                writes.forEach { kind, key, value in
                    insertLocked(key, seq, kind, value, finger: finger, useFinger: !first)
                    first = false
                }
            }
        }
    }

    /// Inserts one version.
    func insert(_ key: UnsafeRawBufferPointer, seq: UInt64, kind: EntryKind, value: UnsafeRawBufferPointer) {
        locked {
            withUnsafeTemporaryAllocation(of: Node.self, capacity: Self.maxHeight) { update in
                insertLocked(key, seq, kind, value, finger: update, useFinger: false)
            }
        }
    }

    private func allocate(_ size: Int) -> UnsafeMutableRawPointer {
        let size = (size + 7) & ~7
        if size > freeBytes {
            let chunk = max(Self.chunkSize, size)
            let p = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: Self.chunkSize)
            #if os(Linux)
            _ = madvise(p, chunk, MADV_HUGEPAGE)
            #endif
            chunks.append(p)
            free = p
            freeBytes = chunk
            _bytes += chunk
        }
        let p = free!
        free = p + size
        freeBytes -= size
        return p
    }

    private func randomHeight() -> Int {
        rng ^= rng << 13
        rng ^= rng >> 7
        rng ^= rng << 17
        var h = 1
        var r = rng
        while h < Self.maxHeight && (r & 3) == 0 {
            h += 1
            r >>= 2
        }
        return h
    }

    /// Inserts one version. `update` receives the predecessors at each level; with
    /// `useFinger` it already holds those of a smaller key (the previous insert), where
    /// each level's search may start.
    private func insertLocked(
        _ key: UnsafeRawBufferPointer, _ seq: UInt64, _ kind: EntryKind, _ value: UnsafeRawBufferPointer,
        finger update: UnsafeMutableBufferPointer<Node>, useFinger: Bool
    ) {
        do {
            let x = searchLocked(key, seq, update, useFinger: useFinger)
            if let n = Self.next(x, 0), Self.compare(n, key, seq) == 0 {
                // Same key and sequence: a later write in the same commit replaces it.
                // Cannot happen for deduplicated batches; keep the first to stay immutable.
                return
            }
            let h = randomHeight()
            if h > height {
                for level in height..<h { update[level] = head }
                height = h
            }
            let node = allocate(Self.headerSize + 8 * h + key.count + value.count)
            node.storeBytes(of: seq, as: UInt64.self)
            node.storeBytes(of: UInt32(key.count), toByteOffset: 8, as: UInt32.self)
            node.storeBytes(of: UInt32(value.count), toByteOffset: 12, as: UInt32.self)
            node.storeBytes(of: kind.rawValue, toByteOffset: 16, as: UInt8.self)
            node.storeBytes(of: UInt8(h), toByteOffset: 17, as: UInt8.self)
            let body = node + Self.headerSize + 8 * h
            if key.count > 0 { body.copyMemory(from: key.baseAddress!, byteCount: key.count) }
            if value.count > 0 { (body + key.count).copyMemory(from: value.baseAddress!, byteCount: value.count) }
            for level in 0..<h {
                Self.setNext(node, level, Self.next(update[level], level))
                Self.setNext(update[level], level, node)
                update[level] = node
            }
            if Self.next(node, 0) == nil { tail = node }
            _count += 1
            readIndex = nil
            readsSinceWrite = 0
        }
    }

    /// The last node before (key, seq) (or the head); `path` receives the last node before
    /// it at each level. With `useFinger`, `path` already holds that of a smaller (key, seq)
    /// (a finger): the search climbs from the bottom level while the finger's successor at
    /// that level still precedes the key, then descends from there. Ascending searches
    /// then cost about the logarithm of the distance between neighbours (a key landing in
    /// the same gap as the previous one costs one comparison) instead of a search from the
    /// top.
    ///
    /// The finger only ever gives starting points before the key, so it stays correct when
    /// other threads insert between searches; it is then merely less exact at upper levels.
    private func searchLocked(
        _ key: UnsafeRawBufferPointer, _ seq: UInt64, _ path: UnsafeMutableBufferPointer<Node>, useFinger: Bool
    ) -> Node {
        var level = height - 1
        var x = head
        if useFinger {
            level = 0
            while level < height - 1, let n = Self.next(path[level], level), Self.compare(n, key, seq) < 0 { level += 1 }
            x = path[level]
        }
        while true {
            while let n = Self.next(x, level), Self.compare(n, key, seq) < 0 { x = n }
            path[level] = x
            if level == 0 { return x }
            level -= 1
        }
    }

    // MARK: Reads

    /// Calls `body` with a finger for ``get(_:snapshot:finger:)``: lookups through it must
    /// come in ascending key order.
    func withFinger<T>(_ body: (UnsafeMutableBufferPointer<Node>) throws -> T) rethrows -> T {
        // One slot per level, and a last one for the position found in the read index.
        try withUnsafeTemporaryAllocation(of: Node.self, capacity: Self.maxHeight + 1) { finger in
            resetFinger(finger)
            return try body(finger)
        }
    }

    /// Points `finger` back at the start, for a lookup smaller than the previous one.
    func resetFinger(_ finger: UnsafeMutableBufferPointer<Node>) { finger.initialize(repeating: head) }

    /// ``get(_:snapshot:)`` for keys in ascending order: each search starts from the
    /// previous one's position, kept in `finger` (see ``withFinger(_:)``).
    func get(_ key: UnsafeRawBufferPointer, snapshot: UInt64, finger: UnsafeMutableBufferPointer<Node>) -> Node? {
        let found: Node? = locked {
            guard spansLocked(key) else { return nil }
            if let index = indexForReadLocked() {
                let hint = finger[Self.maxHeight] == head ? 0 : Int(bitPattern: finger[Self.maxHeight]) >> 3
                let i = index.lowerBound(key, snapshot, from: hint)
                finger[Self.maxHeight] = UnsafeMutableRawPointer(bitPattern: (i << 3) | 1)!
                return index.node(i)
            }
            return Self.next(searchLocked(key, snapshot, finger, useFinger: true), 0)
        }
        guard let n = found, compareBytes(Self.key(n), key) == 0 else { return nil }
        return n
    }

    /// The read index, built now if reads have come to outnumber a quarter of the nodes
    /// since the last insert; nil while writes keep coming.
    private func indexForReadLocked() -> ReadIndex? {
        if let readIndex { return readIndex }
        readsSinceWrite += 1
        guard readsSinceWrite >= max(1024, _count / 4) else { return nil }
        var nodes: [Node] = []
        nodes.reserveCapacity(_count)
        var n = Self.next(head, 0)
        while let x = n {
            nodes.append(x)
            n = Self.next(x, 0)
        }
        readIndex = ReadIndex(nodes)
        return readIndex
    }

    /// True when `key` lies between the first and last keys held: lookups outside skip the search.
    private func spansLocked(_ key: UnsafeRawBufferPointer) -> Bool {
        guard let tail, compareBytes(Self.key(tail), key) >= 0,
              let first = Self.next(head, 0), compareBytes(Self.key(first), key) <= 0 else { return false }
        return true
    }

    /// Versions in `range`, counting no further than `limit`.
    func count(_ range: KeyRange, limit: Int) -> Int {
        if limit <= 0 { return 0 }
        return locked {
            if let index = indexForReadLocked() {
                // Positions in the index count the versions between them.
                let first = range.lower.withUnsafeBytes { index.lowerBound($0, .max, from: 0) }
                let end = range.upper.map { u in u.withUnsafeBytes { index.lowerBound($0, .max, from: first) } } ?? index.nodes.count
                return min(limit, max(0, end - first))
            }
            var n = 0
            var x = range.lower.withUnsafeBytes { seekLocked($0, .max) }
            while let node = x, n < limit {
                if let upper = range.upper, upper.withUnsafeBytes({ compareBytes(Self.key(node), $0) >= 0 }) { break }
                n += 1
                x = Self.next(node, 0)
            }
            return n
        }
    }

    private func seekLocked(_ key: UnsafeRawBufferPointer, _ seq: UInt64) -> Node? {
        if let index = indexForReadLocked() {
            return index.node(index.lowerBound(key, seq, from: 0))
        }
        var x = head
        for level in stride(from: height - 1, through: 0, by: -1) {
            while let n = Self.next(x, level), Self.compare(n, key, seq) < 0 { x = n }
        }
        return Self.next(x, 0)
    }

    /// The first node at or after (key, seq): for a snapshot `seq`, the newest version
    /// of `key` visible to it if that node's key equals `key`.
    func seek(_ key: UnsafeRawBufferPointer, _ seq: UInt64) -> Node? {
        locked { seekLocked(key, seq) }
    }

    /// The newest version of `key` with sequence <= `snapshot`.
    func get(_ key: UnsafeRawBufferPointer, snapshot: UInt64) -> Node? {
        let found: Node? = locked { spansLocked(key) ? seekLocked(key, snapshot) : nil }
        guard let n = found, compareBytes(Self.key(n), key) == 0 else { return nil }
        return n
    }

    /// The first node of the list.
    func first() -> Node? { locked { Self.next(head, 0) } }

    /// The node after `n`.
    func next(_ n: Node) -> Node? { locked { Self.next(n, 0) } }

    /// The last node whose key is strictly less than `key` (nil key: the last node).
    func last(before key: UnsafeRawBufferPointer?) -> Node? {
        locked {
            var x = head
            for level in stride(from: height - 1, through: 0, by: -1) {
                while let n = Self.next(x, level) {
                    if let key, compareBytes(Self.key(n), key) >= 0 { break }
                    x = n
                }
            }
            return x == head ? nil : x
        }
    }

    /// Calls `body` for each node in order, with the lock released between batches.
    func forEach(_ body: (Node) throws -> Void) rethrows {
        var batch: [Node] = []
        batch.reserveCapacity(256)
        var cursor: Node? = nil
        while true {
            batch.removeAll(keepingCapacity: true)
            locked {
                var n = cursor == nil ? Self.next(head, 0) : Self.next(cursor!, 0)
                while let node = n, batch.count < 256 {
                    batch.append(node)
                    n = Self.next(node, 0)
                }
            }
            if batch.isEmpty { return }
            for n in batch { try body(n) }
            cursor = batch.last
        }
    }
}


/// Every node of a memtable in order, with the first 16 bytes of each key as two
/// big-endian words beside it: a search compares those contiguous words (a few cache
/// lines, galloping from the previous position for ascending lookups) and reads a node
/// only to settle ties, where a skip-list search reads a dozen scattered nodes.
///
/// Built when reads far outnumber writes (a table loaded, then queried) and dropped by
/// the next insert; it costs 24 bytes per node while it lives.
private final class ReadIndex {
    let nodes: [Memtable.Node]
    private let words: [KeyWords]
    /// Bytes held.
    var byteCost: Int { nodes.count * (MemoryLayout<Memtable.Node>.stride + MemoryLayout<KeyWords>.stride) }

    struct KeyWords {
        var high: UInt64
        var low: UInt64

        /// The first 16 bytes of `key`, zero-padded: ordered as the keys are, ties aside.
        init(_ key: UnsafeRawBufferPointer) {
            high = bigEndianWord(key, after: 0)
            low = bigEndianWord(key, after: 8)
        }

        @inline(__always) static func < (a: KeyWords, b: KeyWords) -> Bool {
            a.high < b.high || (a.high == b.high && a.low < b.low)
        }
    }

    init(_ nodes: [Memtable.Node]) {
        self.nodes = nodes
        words = nodes.map { KeyWords(Memtable.key($0)) }
    }

    /// The node at position `i`; nil past the end.
    @inline(__always) func node(_ i: Int) -> Memtable.Node? { i < nodes.count ? nodes[i] : nil }

    /// The first position at or after (key, seq); `nodes.count` if none. `from` is a
    /// guess (the previous answer for ascending lookups): the search gallops from it.
    func lowerBound(_ key: UnsafeRawBufferPointer, _ seq: UInt64, from: Int) -> Int {
        let target = KeyWords(key)
        return words.withUnsafeBufferPointer { w in
            nodes.withUnsafeBufferPointer { nodes in
                // True when position i is before (key, seq).
                @inline(__always) func before(_ i: Int) -> Bool {
                    if w[i] < target { return true }
                    if target < w[i] { return false }
                    return Memtable.compare(nodes[i], key, seq) < 0
                }
                let n = w.count
                var lo = 0
                var hi = n
                let start = min(from, n)
                if start > 0 && start < n && before(start) {
                    // Gallop forward: the answer is after start.
                    lo = start + 1
                    var step = 1
                    while lo + step < n && before(lo + step) {
                        lo += step + 1
                        step <<= 1
                    }
                    hi = min(n, lo + step)
                } else if start > 0 && start < n {
                    hi = start
                }
                while lo < hi {
                    let mid = (lo + hi) >> 1
                    if before(mid) { lo = mid + 1 } else { hi = mid }
                }
                return lo
            }
        }
    }
}
