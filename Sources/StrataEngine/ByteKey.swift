/// A byte string as a dictionary or set key, hashed in one pass over its bytes.
///
/// `[UInt8]` itself hashes element by element (one `Hasher.combine` per byte), which
/// made hashing the largest cost of a transaction's write and read sets.
public struct ByteKey: Hashable, Sendable {
    /// The bytes.
    public let bytes: [UInt8]

    /// Wraps `bytes`.
    @inlinable public init(_ bytes: [UInt8]) { self.bytes = bytes }

    @inlinable public func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    @inlinable public static func == (a: ByteKey, b: ByteKey) -> Bool { a.bytes == b.bytes }
}
