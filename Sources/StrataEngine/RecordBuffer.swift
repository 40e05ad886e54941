/// A growable byte buffer written through a pointer, with value semantics (copied on
/// the first write after a copy was taken, like an array).
///
/// A transaction's write set appends several small pieces per row (a kind byte, two
/// varints, a key, a value); doing that through `[UInt8].append` costs a uniqueness and
/// capacity check per piece. Here a record reserves its bytes once and writes them directly.
struct RecordBuffer: Sendable {
    private final class Storage: @unchecked Sendable {
        // Mutated only through a uniquely referenced `RecordBuffer` (see `reserve`).
        let base: UnsafeMutableRawPointer
        let capacity: Int

        init(capacity: Int) {
            self.capacity = capacity
            base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 8)
        }

        deinit { base.deallocate() }
    }

    private var storage: Storage? = nil
    /// Bytes written.
    private(set) var count = 0

    init() {}

    /// Makes room for `n` more bytes and returns where they go; ``commit(_:)`` then says
    /// how many were written.
    mutating func reserve(_ n: Int) -> UnsafeMutableRawPointer {
        let needed = count + n
        if isKnownUniquelyReferenced(&storage), let s = storage, s.capacity >= needed {
            return s.base + count
        }
        let grown = Storage(capacity: Swift.max(needed, (storage?.capacity ?? 0) * 2, 4096))
        if let old = storage, count > 0 { grown.base.copyMemory(from: old.base, byteCount: count) }
        storage = grown
        return grown.base + count
    }

    /// Counts `n` bytes written at the pointer the last ``reserve(_:)`` returned.
    mutating func commit(_ n: Int) { count += n }

    /// Calls `body` with the bytes written so far.
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: storage?.base, count: count))
    }

    /// The bytes written so far, copied into an array.
    var bytes: [UInt8] { withUnsafeBytes { Array($0) } }
}
