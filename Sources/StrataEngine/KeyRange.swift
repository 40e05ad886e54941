/// A range of keys: from `lower` (inclusive) to `upper` (exclusive; nil means no end).
public struct KeyRange: Equatable, Hashable, Sendable {
    /// The first key in the range.
    public var lower: [UInt8]
    /// The first key after the range, or nil for "to the end".
    public var upper: [UInt8]?

    /// Creates `lower ..< upper`.
    public init(lower: [UInt8] = [], upper: [UInt8]? = nil) {
        self.lower = lower
        self.upper = upper
    }

    /// Every key.
    public static let all = KeyRange()

    /// Every key that starts with `prefix`.
    public static func prefix(_ prefix: [UInt8]) -> KeyRange {
        var upper = prefix
        while let last = upper.last, last == 0xff { upper.removeLast() }
        if upper.isEmpty { return KeyRange(lower: prefix, upper: nil) }
        upper[upper.count - 1] += 1
        return KeyRange(lower: prefix, upper: upper)
    }

    /// True when `key` is in the range.
    public func contains(_ key: [UInt8]) -> Bool {
        compareBytes(key, lower) >= 0 && (upper.map { compareBytes(key, $0) < 0 } ?? true)
    }

    func contains(_ key: UnsafeRawBufferPointer) -> Bool {
        let lo = lower.withUnsafeBytes { compareBytes(key, $0) >= 0 }
        guard lo, let upper else { return lo }
        return upper.withUnsafeBytes { compareBytes(key, $0) < 0 }
    }
}

/// A key and its value.
public struct KeyValue: Equatable, Hashable, Sendable {
    /// The key.
    public var key: [UInt8]
    /// The value.
    public var value: [UInt8]

    /// Creates a pair.
    public init(key: [UInt8], value: [UInt8]) {
        self.key = key
        self.value = value
    }
}

/// One stored version of a key, as `history` returns it.
public struct VersionRecord: Equatable, Sendable {
    /// The commit sequence number that wrote it.
    public var seq: UInt64
    /// The commit's timestamp in microseconds since 1970.
    public var timestamp: UInt64
    /// Put or delete.
    public var kind: EntryKind
    /// The value (empty for a delete).
    public var value: [UInt8]

    /// Creates a record.
    public init(seq: UInt64, timestamp: UInt64, kind: EntryKind, value: [UInt8]) {
        self.seq = seq
        self.timestamp = timestamp
        self.kind = kind
        self.value = value
    }
}
