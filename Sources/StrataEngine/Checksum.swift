import CStrataSupport
import Crypto

/// CRC-32C (Castagnoli): the per-block and per-entry checksum (hardware-accelerated
/// where the CPU has it, in the C support target).
enum CRC32C {
    static func checksum(_ buf: UnsafeRawBufferPointer) -> UInt32 {
        strata_crc32c(0, buf.baseAddress, buf.count)
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 { bytes.withUnsafeBytes { checksum($0) } }

    static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt32 { bytes.withUnsafeBytes { checksum($0) } }
}

/// A SHA-256 content hash: the name of every immutable object and the link of the log's chain.
public struct ContentHash: Hashable, Sendable, CustomStringConvertible, Comparable {
    /// The 32 digest bytes.
    public let bytes: [UInt8]

    /// Wraps 32 digest bytes.
    public init(bytes: [UInt8]) {
        precondition(bytes.count == 32)
        self.bytes = bytes
    }

    /// The hash of `data`.
    public init(of data: [UInt8]) {
        self.bytes = Array(SHA256.hash(data: data))
    }

    /// All zeros: the parent of the first log entry.
    public static let zero = ContentHash(bytes: [UInt8](repeating: 0, count: 32))

    /// Parses 64 lowercase hex digits.
    public init?(hex: String) {
        let u = Array(hex.utf8)
        guard u.count == 64 else { return nil }
        var out = [UInt8](repeating: 0, count: 32)
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            default: return nil
            }
        }
        for i in 0..<32 {
            guard let h = nibble(u[2 * i]), let l = nibble(u[2 * i + 1]) else { return nil }
            out[i] = h << 4 | l
        }
        self.bytes = out
    }

    /// 64 lowercase hex digits.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { hex }

    public static func < (a: ContentHash, b: ContentHash) -> Bool { compareBytes(a.bytes, b.bytes) < 0 }
}

/// A fast 64-bit hash of a byte string for bloom filters (not cryptographic).
@inline(__always)
func hash64(_ key: UnsafeRawBufferPointer) -> UInt64 {
    let m: UInt64 = 0x9E37_79B9_7F4A_7C15
    var h: UInt64 = 0x243F_6A88_85A3_08D3 ^ (UInt64(key.count) &* m)
    var p = 0
    while key.count - p >= 8 {
        let v = key.loadUnaligned(fromByteOffset: p, as: UInt64.self)
        h = (h ^ (v &* m)).rotated(by: 29) &* 0xBF58_476D_1CE4_E5B9
        p += 8
    }
    var tail: UInt64 = 0
    var shift: UInt64 = 0
    while p < key.count {
        tail |= UInt64(key[p]) << shift
        shift += 8
        p += 1
    }
    h = (h ^ (tail &* m)).rotated(by: 31) &* 0x94D0_49BB_1331_11EB
    h ^= h >> 32
    h = h &* 0xD6E8_FEB8_6659_FD93
    h ^= h >> 32
    return h
}

extension UInt64 {
    @inline(__always)
    func rotated(by n: UInt64) -> UInt64 { (self << n) | (self >> (64 - n)) }
}
