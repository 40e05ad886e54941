import Crypto

/// CRC-32C (Castagnoli), slicing-by-8: the per-block and per-entry checksum.
enum CRC32C {
    static let tables: [[UInt32]] = {
        var t = [[UInt32]](repeating: [UInt32](repeating: 0, count: 256), count: 8)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
            t[0][i] = c
        }
        for i in 0..<256 {
            for k in 1..<8 { t[k][i] = (t[k - 1][i] >> 8) ^ t[0][Int(t[k - 1][i] & 0xff)] }
        }
        return t
    }()
    static let flat: [UInt32] = tables.flatMap { $0 }

    static func checksum(_ buf: UnsafeRawBufferPointer) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        flat.withUnsafeBufferPointer { t in
            var p = 0
            let n = buf.count
            while n - p >= 8 {
                let lo = buf.loadUnaligned(fromByteOffset: p, as: UInt32.self).littleEndian ^ crc
                let hi = buf.loadUnaligned(fromByteOffset: p + 4, as: UInt32.self).littleEndian
                crc = t[7 * 256 + Int(lo & 0xff)] ^ t[6 * 256 + Int((lo >> 8) & 0xff)]
                    ^ t[5 * 256 + Int((lo >> 16) & 0xff)] ^ t[4 * 256 + Int(lo >> 24)]
                    ^ t[3 * 256 + Int(hi & 0xff)] ^ t[2 * 256 + Int((hi >> 8) & 0xff)]
                    ^ t[1 * 256 + Int((hi >> 16) & 0xff)] ^ t[Int(hi >> 24)]
                p += 8
            }
            while p < n {
                crc = t[Int((crc ^ UInt32(buf[p])) & 0xff)] ^ (crc >> 8)
                p += 1
            }
        }
        return crc ^ 0xFFFF_FFFF
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
