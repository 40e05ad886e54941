import StrataEngine
import Synchronization

/// Hands out the values of sequences (SERIAL and identity columns, `nextval`) without
/// making the transactions that use them conflict.
///
/// As in PostgreSQL, sequences are not transactional: a process reserves a block of
/// values in a commit of its own (the sequence's key holds the first value nobody has
/// reserved) and hands them out from memory; statements reserve what they need before
/// they run, so evaluation never waits. Values are unique across every process on the
/// store; a process that ends leaves the rest of its block unused (a gap, as PostgreSQL
/// leaves after a crash), and processes writing at once interleave blocks.
public final class SequenceAllocator: Sendable {
    /// Values reserved per commit when fewer are asked for.
    static let blockSize: Int64 = 32
    private let ranges = Mutex<[String: [Range<Int64>]]>([:])

    /// Creates an allocator with nothing reserved.
    public init() {}

    /// Where sequence `name` keeps its first unreserved value.
    static func key(_ name: String) -> [UInt8] { [0x02, UInt8(ascii: "S")] + Array(name.utf8) }

    /// The next value of `name` from this process's reservations; nil when none is left.
    func take(_ name: String) -> Int64? {
        ranges.withLock { all in
            guard var list = all[name], let first = list.first else { return nil }
            let value = first.lowerBound
            if first.count == 1 { list.removeFirst() } else { list[0] = (value + 1)..<first.upperBound }
            all[name] = list
            return value
        }
    }

    func available(_ name: String) -> Int64 {
        ranges.withLock { $0[name]?.reduce(0) { $0 + Int64($1.count) } ?? 0 }
    }

    /// Makes sure at least `count` values of `name` are reserved, committing reservations
    /// (retried when another process reserves at the same moment).
    func reserve(_ name: String, count: Int, engine: Engine) async throws {
        var missing = Int64(count) - available(name)
        var attempt = 0
        while missing > 0 {
            let size = max(SequenceAllocator.blockSize, missing)
            let tx = engine.beginTransaction()
            let key = SequenceAllocator.key(name)
            let first = try await tx.get(key).flatMap(Self.decode) ?? 1
            guard first <= Int64.max - size else {
                throw SQLError(SQLError.Code(sqlState: "2200H", name: "sequence generator limit exceeded"), "nextval: reached maximum value of sequence \"\(name)\"")
            }
            tx.put(key, Self.encode(first + size))
            do {
                _ = try await engine.commit(tx)
            } catch EngineError.serializationFailure where attempt < 100 {
                attempt += 1
                _ = try? await engine.refresh()
                continue
            }
            ranges.withLock { $0[name, default: []].append(first..<(first + size)) }
            missing -= size
        }
    }

    static func encode(_ v: Int64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: UInt64(bitPattern: v) >> (56 - 8 * $0)) } }

    static func decode(_ b: [UInt8]) -> Int64? {
        guard b.count == 8 else { return nil }
        return Int64(bitPattern: b.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }
}
