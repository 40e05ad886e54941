/// A bloom filter over a segment's keys: answers "certainly absent" for most keys
/// that are not in the segment, so point reads skip it without reading a block.
struct BloomFilter {
    var bits: [UInt8]
    let probes: Int

    /// Sized for `keys` keys at `bitsPerKey` (10 bits give about 1% false positives).
    init(keys: Int, bitsPerKey: Int = 10) {
        let nbits = max(64, keys * bitsPerKey)
        bits = [UInt8](repeating: 0, count: (nbits + 7) / 8)
        probes = max(1, min(30, Int(Double(bitsPerKey) * 0.69)))
    }

    init(bits: [UInt8], probes: Int) {
        self.bits = bits
        self.probes = probes
    }

    mutating func add(_ key: UnsafeRawBufferPointer) { add(hash: hash64(key)) }

    mutating func add(hash h: UInt64) {
        let nbits = UInt64(bits.count * 8)
        var a = h & 0xffff_ffff
        let b = (h >> 32) | 1
        for _ in 0..<probes {
            let bit = Int(a % nbits)
            bits[bit >> 3] |= 1 << UInt8(bit & 7)
            a &+= b
        }
    }

    func mayContain(_ key: UnsafeRawBufferPointer) -> Bool {
        let h = hash64(key)
        let nbits = UInt64(bits.count * 8)
        var a = h & 0xffff_ffff
        let b = (h >> 32) | 1
        return bits.withUnsafeBufferPointer { bp in
            for _ in 0..<probes {
                let bit = Int(a % nbits)
                if bp[bit >> 3] & (1 << UInt8(bit & 7)) == 0 { return false }
                a &+= b
            }
            return true
        }
    }
}
