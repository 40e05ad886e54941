/// Whether a stored version of a key is a value or a deletion (tombstone).
public enum EntryKind: UInt8, Sendable, Equatable {
    /// The key holds a value.
    case put = 1
    /// The key was deleted.
    case delete = 2
}

/// One write of a transaction: a put or a delete of a key.
public struct Mutation: Equatable, Sendable {
    /// The key written.
    public var key: [UInt8]
    /// Put or delete.
    public var kind: EntryKind
    /// The value (empty for a delete).
    public var value: [UInt8]

    /// Creates a mutation.
    public init(key: [UInt8], kind: EntryKind, value: [UInt8]) {
        self.key = key
        self.kind = kind
        self.value = value
    }
}

/// Where a segment's bytes are and what they hold: enough to skip it without reading it.
public struct SegmentRef: Equatable, Sendable {
    /// The content hash, which names the object.
    public var hash: ContentHash
    /// Object size in bytes.
    public var size: Int
    /// Number of versioned entries.
    public var count: Int
    /// Smallest commit sequence of any entry.
    public var minSeq: UInt64
    /// Largest commit sequence of any entry.
    public var maxSeq: UInt64
    /// Smallest key.
    public var minKey: [UInt8]
    /// Largest key.
    public var maxKey: [UInt8]

    func encode(into w: inout ByteWriter) {
        w.raw(hash.bytes)
        w.varint(size)
        w.varint(count)
        w.varint(minSeq)
        w.varint(maxSeq)
        w.lengthPrefixed(minKey)
        w.lengthPrefixed(maxKey)
    }

    static func decode(_ r: inout ByteReader) throws -> SegmentRef {
        SegmentRef(
            hash: ContentHash(bytes: try r.raw(32)), size: try r.length(limit: Int.max),
            count: try r.length(limit: Int.max), minSeq: try r.varint(), maxSeq: try r.varint(),
            minKey: try r.lengthPrefixed(), maxKey: try r.lengthPrefixed())
    }
}

/// A change to the set of live segments: a flush or a compaction.
struct StructuralChange: Equatable, Sendable {
    enum Kind: UInt8 { case flush = 1, compaction = 2 }
    var kind: Kind
    /// Every version with sequence <= watermark is in the segments after this change.
    var watermark: UInt64
    /// Versions older than this may have been dropped; snapshots below it are refused.
    var horizon: UInt64
    /// The full segment list after the change, as a manifest object (the checkpoint).
    var manifest: ContentHash
    var removes: [ContentHash]
    var adds: [SegmentRef]
}

/// One entry of a branch's commit log: created with put-if-absent, hash-chained to its parent.
struct LogEntry: Equatable, Sendable {
    enum Body: Equatable, Sendable {
        /// Writes carried in the entry itself.
        case inline(MutationBatch)
        /// Writes stored in a separate batch object.
        case batchObject(ContentHash, size: Int, count: Int)
        /// A flush or compaction.
        case structural(StructuralChange)
    }

    static let magic: [UInt8] = Array("STRL".utf8)

    var seq: UInt64
    /// Hybrid-logical-clock time in microseconds since 1970: wall time, but always
    /// greater than the parent's.
    var timestamp: UInt64
    var parent: ContentHash
    var writer: String
    var body: Body
    /// Transactions other processes relayed to this entry's writer (see ``CommitRelay``),
    /// named by their process's writer id and its number for the request: a process that
    /// lost its connection to the relay learns from the log whether its commit landed.
    var relayed: [RelayedCommit] = []

    /// A flush or compaction rather than a commit of writes.
    var isStructural: Bool {
        if case .structural = body { return true }
        return false
    }

    func encode() -> [UInt8] {
        var w = ByteWriter()
        w.raw(Self.magic)
        // Version 2 adds the relayed commits; entries without any keep version 1.
        w.u8(relayed.isEmpty ? 1 : 2)
        w.u64(seq)
        w.u64(timestamp)
        w.raw(parent.bytes)
        w.lengthPrefixed(Array(writer.utf8))
        if !relayed.isEmpty {
            w.varint(relayed.count)
            for r in relayed {
                w.lengthPrefixed(Array(r.writer.utf8))
                w.varint(r.number)
            }
        }
        switch body {
        case .inline(let muts):
            w.u8(1)
            w.raw(muts.encoded())
        case .batchObject(let h, let size, let count):
            w.u8(2)
            w.raw(h.bytes)
            w.varint(size)
            w.varint(count)
        case .structural(let s):
            w.u8(3)
            w.u8(s.kind.rawValue)
            w.varint(s.watermark)
            w.varint(s.horizon)
            w.raw(s.manifest.bytes)
            w.varint(s.removes.count)
            for h in s.removes { w.raw(h.bytes) }
            w.varint(s.adds.count)
            for a in s.adds { a.encode(into: &w) }
        }
        w.u32(CRC32C.checksum(w.bytes))
        return w.bytes
    }

    /// The sequence number in an encoded entry's header, read without checking the
    /// entry (``decode(_:)`` does that); nil when the bytes are too short.
    static func seq(ofEncoded bytes: [UInt8]) -> UInt64? {
        var r = ByteReader(bytes, from: magic.count + 1)
        return try? r.u64()
    }

    static func decode(_ bytes: [UInt8]) throws -> LogEntry {
        var r = try ByteReader(framed: bytes, magic: magic, minimum: 4 + 1 + 16 + 32 + 1 + 1 + 4, what: "log entry")
        let body = r.end
        let format = try r.u8()
        guard format == 1 || format == 2 else { throw corrupt("unknown log entry version") }
        let seq = try r.u64()
        let ts = try r.u64()
        let parent = ContentHash(bytes: try r.raw(32))
        let writer = String(decoding: try r.lengthPrefixed(), as: UTF8.self)
        var relayed: [RelayedCommit] = []
        if format == 2 {
            for _ in 0..<(try r.length(limit: r.remaining)) {
                relayed.append(RelayedCommit(writer: String(decoding: try r.lengthPrefixed(), as: UTF8.self), number: try r.varint()))
            }
        }
        let b: Body
        switch try r.u8() {
        case 1:
            b = .inline(try MutationBatch.decode(Array(bytes[r.offset..<body])))
        case 2:
            b = .batchObject(ContentHash(bytes: try r.raw(32)), size: try r.length(limit: Int.max), count: try r.length(limit: Int.max))
        case 3:
            guard let kind = StructuralChange.Kind(rawValue: try r.u8()) else { throw corrupt("bad structural kind") }
            let watermark = try r.varint()
            let horizon = try r.varint()
            let manifest = ContentHash(bytes: try r.raw(32))
            var removes: [ContentHash] = []
            for _ in 0..<(try r.length(limit: r.remaining)) { removes.append(ContentHash(bytes: try r.raw(32))) }
            var adds: [SegmentRef] = []
            for _ in 0..<(try r.length(limit: r.remaining)) { adds.append(try SegmentRef.decode(&r)) }
            b = .structural(StructuralChange(kind: kind, watermark: watermark, horizon: horizon, manifest: manifest, removes: removes, adds: adds))
        default:
            throw corrupt("bad log entry body")
        }
        return LogEntry(seq: seq, timestamp: ts, parent: parent, writer: writer, body: b, relayed: relayed)
    }
}

/// A transaction relayed from another process: that process's writer id and its
/// number for the request.
struct RelayedCommit: Equatable, Sendable {
    var writer: String
    var number: UInt64
}

/// The complete list of live segments at one log entry: the checkpoint that lets
/// a process open without replaying the whole log.
struct Manifest: Equatable, Sendable {
    static let magic: [UInt8] = Array("STRM".utf8)
    var watermark: UInt64
    var horizon: UInt64
    /// Newest first; their sequence ranges are disjoint.
    var segments: [SegmentRef]

    func encode() -> [UInt8] {
        var w = ByteWriter()
        w.raw(Self.magic)
        w.varint(watermark)
        w.varint(horizon)
        w.varint(segments.count)
        for s in segments { s.encode(into: &w) }
        w.u32(CRC32C.checksum(w.bytes))
        return w.bytes
    }

    static func decode(_ bytes: [UInt8]) throws -> Manifest {
        var r = try ByteReader(framed: bytes, magic: magic, minimum: 8, what: "manifest")
        let watermark = try r.varint()
        let horizon = try r.varint()
        var segs: [SegmentRef] = []
        for _ in 0..<(try r.length(limit: r.remaining)) { segs.append(try SegmentRef.decode(&r)) }
        return Manifest(watermark: watermark, horizon: horizon, segments: segs)
    }
}

/// Where things live in the object store.
enum StoreLayout {
    /// The logs of every branch (`log/BRANCH/SEQ`).
    static let logRoot = "log/"
    /// The checkpoint pointers of every branch (`ckpt/BRANCH/SEQ`).
    static let checkpointRoot = "ckpt/"
    static func logPrefix(_ branch: String) -> String { "\(logRoot)\(branch)/" }
    static func logKey(_ branch: String, _ seq: UInt64) -> String { "\(logPrefix(branch))\(seq.paddedDecimal)" }
    static func checkpointPrefix(_ branch: String) -> String { "\(checkpointRoot)\(branch)/" }
    static func checkpointKey(_ branch: String, _ seq: UInt64) -> String { "\(checkpointPrefix(branch))\(seq.paddedDecimal)" }
    static let objectPrefix = "obj/"
    /// Where each process with a commit relay says how to reach it (`relay/WRITER`).
    static func relayKey(_ writer: String) -> String { "relay/\(writer)" }
    static func objectKey(_ h: ContentHash) -> String { "\(objectPrefix)\(h.hex)" }
    /// The content hash an object key names; nil when the key is not `obj/` and 64 hex digits.
    static func hash(fromObjectKey key: String) -> ContentHash? {
        key.hasPrefix(objectPrefix) ? ContentHash(hex: String(key.dropFirst(objectPrefix.count))) : nil
    }

    static func seq(fromKey key: String) -> UInt64? {
        guard let slash = key.lastIndex(of: "/") else { return nil }
        return UInt64(key[key.index(after: slash)...])
    }
}
