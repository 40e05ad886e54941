import Synchronization

/// A bounded in-memory cache of decoded blocks, shared by all segments of an
/// engine, with CLOCK (second-chance) eviction.
final class BlockCache: Sendable {
    struct Key: Hashable {
        let segment: Int
        let block: Int
    }

    private struct Slot {
        var block: DecodedBlock
        var referenced: Bool
    }

    private struct State {
        var slots: [Key: Slot] = [:]
        var clock: [Key] = []
        var hand = 0
        var bytes = 0
        var hits = 0
        var misses = 0
    }

    private let state = Mutex(State())
    /// The byte budget.
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    func get(_ key: Key) -> DecodedBlock? {
        state.withLock { s in
            // One hash lookup: the index serves both the mark and the read.
            guard let i = s.slots.index(forKey: key) else {
                s.misses += 1
                return nil
            }
            s.hits += 1
            s.slots.values[i].referenced = true
            return s.slots.values[i].block
        }
    }

    func insert(_ key: Key, _ block: DecodedBlock) {
        state.withLock { s in
            guard s.slots[key] == nil else { return }
            s.slots[key] = Slot(block: block, referenced: false)
            s.clock.append(key)
            s.bytes += block.memoryCost
            while s.bytes > capacity && !s.clock.isEmpty {
                if s.hand >= s.clock.count { s.hand = 0 }
                let k = s.clock[s.hand]
                if s.slots[k]!.referenced {
                    s.slots[k]!.referenced = false
                    s.hand += 1
                } else {
                    s.bytes -= s.slots[k]!.block.memoryCost
                    s.slots[k] = nil
                    s.clock.swapAt(s.hand, s.clock.count - 1)
                    s.clock.removeLast()
                }
            }
        }
    }

    /// Bytes currently held.
    var bytes: Int { state.withLock { $0.bytes } }
    /// Hit and miss counts since creation.
    var stats: (hits: Int, misses: Int) { state.withLock { ($0.hits, $0.misses) } }
}
