#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CStrataSupport
import Synchronization

/// The sequence-numbered objects of one directory (a branch's commit log), kept as
/// records appended to one journal file instead of one file each.
///
/// A put-if-absent of entry N takes an exclusive `flock` on the journal, checks that
/// N is the next number, appends `magic seq length bytes crc32c`, `fdatasync`s and
/// releases the lock: one journal commit of the file system per entry, where a file
/// per entry costs two (the file's data, then the directory), and no inode per entry.
/// A side index holds each entry's offset (8 bytes per entry) for O(1) reads; it is
/// derived data, rebuilt from the journal when it lags.
///
/// The journal grows in fsynced chunks of zeros, so an append writes into space the
/// file already has: its `fdatasync` flushes data only, with no file-system journal
/// commit for a size change. Zeros after the last record mark the end.
///
/// A process killed in the middle of an append leaves an incomplete record at the
/// end. Writers append only while holding the lock, so a lock holder that finds an
/// incomplete tail knows its writer is dead and zeroes it. Readers skip it. Bytes
/// that are not a record but are followed by valid records are damage: reported,
/// never erased.
final class LogJournal: Sendable {
    static let magic: UInt32 = 0x5354_4A31  // "STJ1"
    static let headerSize = 16  // magic u32, seq u64, length u32
    static let trailerSize = 4  // crc32c u32 of header and data

    private struct State {
        /// Entries 1...count are known, and the journal's records end at `end`.
        var count: UInt64 = 0
        var end: Int = 0
        /// The file's size as last seen by this process (zeros past `end`).
        var capacity: Int = 0
    }

    /// The journal grows by at least this much at a time.
    static let growth = 1 << 20

    private let journal: Int32
    private let index: Int32
    private let state = Mutex(State())
    let path: String
    /// The key prefix of the entries, `log/BRANCH/`, for messages.
    let keyPrefix: String

    init(directory: String, keyPrefix: String) throws {
        self.keyPrefix = keyPrefix
        path = directory + "/.journal"
        journal = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard journal >= 0 else { throw DirectoryStore.error(errno, path) }
        index = open(directory + "/.journal-index", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard index >= 0 else {
            close(journal)
            throw DirectoryStore.error(errno, path)
        }
    }

    deinit {
        close(journal)
        close(index)
    }

    // MARK: Reads

    /// The bytes of entry `seq`, or nil if it does not exist (yet).
    func get(_ seq: UInt64) throws -> [UInt8]? {
        guard seq > 0 else { return nil }
        var known = state.withLock { $0.count }
        if seq > known {
            // Entries before a damaged record stay readable: keep what catching up reached.
            let (count, failure) = state.withLock { s -> (UInt64, (any Error)?) in
                do {
                    try catchUp(&s, locked: false)
                    return (s.count, nil)
                } catch {
                    return (s.count, error)
                }
            }
            known = count
            if seq > known, let failure { throw failure }
        }
        guard seq <= known else { return nil }
        if let offset = try readIndex(seq), let r = try readRecord(at: offset, seq: seq) { return r.bytes }
        // A lagging or damaged index entry (the index is not fsynced): find the record by scanning.
        if let offset = try scanFor(seq), let r = try readRecord(at: offset, seq: seq) { return r.bytes }
        // The journal holds entries past this one, so this one exists but cannot be read.
        throw StoreError.permanent("\(keyPrefix)\(seq.paddedKeyName): damaged journal record in \(path)")
    }

    /// Sequence numbers of the entries that exist, ascending.
    func sequences() throws -> ClosedRange<UInt64>? {
        let n = try state.withLock { s in
            try catchUp(&s, locked: false)
            return s.count
        }
        return n == 0 ? nil : 1...n
    }

    /// The size of entry `seq` (for listings).
    func size(of seq: UInt64) throws -> Int {
        guard let offset = try readIndex(seq) ?? scanFor(seq), let header = try readHeader(at: offset) else { return 0 }
        return header.length
    }

    // MARK: Writes

    /// Appends entry `seq` if it is the next one; throws `alreadyExists` if it exists,
    /// `preconditionFailed` if entries before it are missing.
    func append(_ seq: UInt64, _ bytes: [UInt8], key: String) throws {
        try state.withLock { s in
            try lockJournal()
            defer { flock(journal, LOCK_UN) }
            try catchUp(&s, locked: true)
            if seq <= s.count { throw StoreError.alreadyExists(key) }
            guard seq == s.count + 1 else {
                throw StoreError.preconditionFailed("\(key): entry \(s.count + 1) must exist first")
            }
            let record = Self.record(seq, bytes)
            try reserve(&s, s.end + record.count)
            try writeAll(journal, record, at: s.end, key: key)
            if fdatasync(journal) != 0 { throw DirectoryStore.error(errno, key) }
            try writeIndex(seq, offset: s.end, key: key)
            s.count = seq
            s.end += record.count
        }
    }

    /// Writes the first half of a record for `seq` and stops, as a process killed in
    /// the middle of an append would (crash tests).
    func appendPartial(_ seq: UInt64, _ bytes: [UInt8]) throws {
        try state.withLock { s in
            try lockJournal()
            defer { flock(journal, LOCK_UN) }
            try catchUp(&s, locked: true)
            let record = Self.record(seq, bytes)
            try reserve(&s, s.end + record.count)
            try writeAll(journal, Array(record.prefix(record.count / 2)), at: s.end, key: path)
        }
    }

    // MARK: Helpers

    static func record(_ seq: UInt64, _ bytes: [UInt8]) -> [UInt8] {
        var r = [UInt8]()
        r.reserveCapacity(headerSize + bytes.count + trailerSize)
        withUnsafeBytes(of: magic.littleEndian) { r.append(contentsOf: $0) }
        withUnsafeBytes(of: seq.littleEndian) { r.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(bytes.count).littleEndian) { r.append(contentsOf: $0) }
        r.append(contentsOf: bytes)
        let crc = r.withUnsafeBytes { crc32c($0) }
        withUnsafeBytes(of: crc.littleEndian) { r.append(contentsOf: $0) }
        return r
    }

    /// Makes the file at least `size` bytes long, extending it with zeros in large
    /// fsynced steps so that appends never change its size.
    private func reserve(_ s: inout State, _ size: Int) throws {
        if size <= s.capacity { return }
        var st = stat()
        guard fstat(journal, &st) == 0 else { throw DirectoryStore.error(errno, path) }
        s.capacity = Int(st.st_size)
        if size <= s.capacity { return }
        let target = (size + Self.growth) / Self.growth * Self.growth + Self.growth
        let zeros = [UInt8](repeating: 0, count: 256 << 10)
        var at = s.capacity
        while at < target {
            let n = min(zeros.count, target - at)
            try writeAll(journal, n == zeros.count ? zeros : Array(zeros.prefix(n)), at: at, key: path)
            at += n
        }
        if fsync(journal) != 0 { throw DirectoryStore.error(errno, path) }
        s.capacity = target
    }

    private func lockJournal() throws {
        while flock(journal, LOCK_EX) != 0 {
            if errno != EINTR { throw DirectoryStore.error(errno, path) }
        }
    }

    /// Brings `s` up to the journal's end: follows the index, then parses records the
    /// index does not know yet. Under the lock it also indexes them, and truncates an
    /// incomplete tail (its writer is dead, since writers hold the lock).
    private func catchUp(_ s: inout State, locked: Bool) throws {
        // A record starts where the last known one ended: zeros there mean nothing new,
        // which one read tells (the common case of every append).
        if try !hasData(at: s.end) { return }
        while true {
            if let offset = try readIndex(s.count + 1), offset == s.end, let h = try readHeader(at: offset), h.seq == s.count + 1 {
                s.count += 1
                s.end = offset + Self.headerSize + h.length + Self.trailerSize
                continue
            }
            // Not indexed (yet): is there a complete record at the end?
            guard let r = try readRecord(at: s.end, seq: s.count + 1) else {
                guard try hasData(at: s.end) else { return }
                // Something that is not a valid record: the torn tail of a dead (or, for
                // readers, still running) writer, unless valid records follow it.
                if try validRecordFollows(s.end, after: s.count + 1), try readRecord(at: s.end, seq: s.count + 1) == nil {
                    // Appends are sequential: a complete later record means this one was
                    // complete too, so if it still does not read, it is damaged. (Re-reading
                    // matters: a reader may have seen it half-written a moment ago.)
                    throw StoreError.permanent(
                        "\(keyPrefix)\((s.count + 1).paddedKeyName): damaged journal record at offset \(s.end) of \(path)")
                }
                if try readRecord(at: s.end, seq: s.count + 1) != nil { continue }
                if locked {
                    // Its writer died in the middle of an append (writers hold the lock): erase it.
                    try zeroTail(from: s.end)
                }
                return
            }
            if locked { try writeIndex(s.count + 1, offset: s.end, key: path) }
            s.count += 1
            s.end += r.size
        }
    }

    /// True when anything but zeros (the unused, preallocated end) is at `offset`.
    private func hasData(at offset: Int) throws -> Bool {
        var h = [UInt8](repeating: 0, count: Self.headerSize)
        let n = try h.withUnsafeMutableBytes { try readAt(journal, $0, offset) }
        return h[0..<n].contains { $0 != 0 }
    }

    private static let zeroPage = [UInt8](repeating: 0, count: 4096)

    /// The index of the last non-zero byte: whole pages are compared with `memcmp`
    /// first, since almost everything searched here is zeros.
    static func lastNonZero(_ buf: UnsafeRawBufferPointer) -> Int? {
        var end = buf.count
        return zeroPage.withUnsafeBytes { zero -> Int? in
            while end > 0 {
                let start = max(0, end - zero.count)
                if memcmp(buf.baseAddress! + start, zero.baseAddress!, end - start) != 0 {
                    var i = end - 1
                    while buf[i] == 0 { i -= 1 }
                    return i
                }
                end = start
            }
            return nil
        }
    }

    /// Overwrites everything from `offset` to the last non-zero byte with zeros.
    private func zeroTail(from offset: Int) throws {
        let end = try lastNonZeroEnd(after: offset)
        guard end > offset else { return }
        try writeAll(journal, [UInt8](repeating: 0, count: end - offset), at: offset, key: path)
        if fdatasync(journal) != 0 { throw DirectoryStore.error(errno, path) }
    }

    /// True when a complete, valid record of a later entry starts somewhere after
    /// `offset`: then the bytes at `offset` are damage, not a torn final append.
    private func validRecordFollows(_ offset: Int, after seq: UInt64) throws -> Bool {
        // Only the bytes up to the last non-zero one can hold records.
        let end = try lastNonZeroEnd(after: offset)
        let rest = end - offset
        guard rest > Self.headerSize else { return false }
        var bytes = [UInt8](repeating: 0, count: rest)
        let n = try bytes.withUnsafeMutableBytes { try readAt(journal, $0, offset) }
        let magic = withUnsafeBytes(of: Self.magic.littleEndian) { Array($0) }
        return try bytes.withUnsafeBytes { buf -> Bool in
            var p = 1
            while p + Self.headerSize <= n {
                guard let hit = memchr(buf.baseAddress! + p, Int32(magic[0]), n - p - Self.headerSize + 1) else { return false }
                p = buf.baseAddress!.distance(to: UnsafeRawPointer(hit))
                if buf[p + 1] == magic[1] && buf[p + 2] == magic[2] && buf[p + 3] == magic[3] {
                    let later = UInt64(littleEndian: buf.loadUnaligned(fromByteOffset: p + 4, as: UInt64.self))
                    if later >= seq, try readRecord(at: offset + p, seq: later) != nil { return true }
                }
                p += 1
            }
            return false
        }
    }

    /// The offset just past the last non-zero byte after `offset` (`offset` if none),
    /// reading backwards from the end: the journal's unused end is zeros.
    private func lastNonZeroEnd(after offset: Int) throws -> Int {
        var st = stat()
        guard fstat(journal, &st) == 0 else { throw DirectoryStore.error(errno, path) }
        var hi = Int(st.st_size)
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while hi > offset {
            let lo = max(offset, hi - chunk.count)
            let n = try chunk.withUnsafeMutableBytes { try readAt(journal, UnsafeMutableRawBufferPointer(rebasing: $0[0..<(hi - lo)]), lo) }
            if let last = chunk.withUnsafeBytes({ Self.lastNonZero(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }) {
                return lo + last + 1
            }
            hi = lo
        }
        return offset
    }

    /// Finds entry `seq` by parsing records from the last indexed entry before it
    /// (the index lags when its writer died between journal and index).
    private func scanFor(_ seq: UInt64) throws -> Int? {
        var s = State()
        var n = seq
        while n > 1, try readIndex(n - 1) == nil { n -= 1 }
        if n > 1, let o = try readIndex(n - 1), let h = try readHeader(at: o) {
            s.count = n - 1
            s.end = o + Self.headerSize + h.length + Self.trailerSize
        }
        while s.count < seq {
            guard let r = try readRecord(at: s.end, seq: s.count + 1) else { return nil }
            if s.count + 1 == seq { return s.end }
            s.count += 1
            s.end += r.size
        }
        return nil
    }

    private func readIndex(_ seq: UInt64) throws -> Int? {
        guard seq > 0 else { return nil }
        var v: UInt64 = 0
        let n = try withUnsafeMutableBytes(of: &v) { try readAt(index, $0, Int(seq - 1) * 8) }
        guard n == 8 else { return nil }
        let o = UInt64(littleEndian: v)
        return o == 0 && seq != 1 ? nil : Int(o)
    }

    private func writeIndex(_ seq: UInt64, offset: Int, key: String) throws {
        let v = UInt64(offset).littleEndian
        let bytes = withUnsafeBytes(of: v) { Array($0) }
        try writeAll(index, bytes, at: Int(seq - 1) * 8, key: key)
    }

    private func readHeader(at offset: Int) throws -> (seq: UInt64, length: Int)? {
        var h = [UInt8](repeating: 0, count: Self.headerSize)
        let n = try h.withUnsafeMutableBytes { try readAt(journal, $0, offset) }
        guard n == Self.headerSize else { return nil }
        let magic = h.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
        guard magic == Self.magic else { return nil }
        let seq = h.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 4, as: UInt64.self)) }
        let len = h.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 12, as: UInt32.self)) }
        return (seq, Int(len))
    }

    /// The complete, checksummed record for `seq` at `offset`, or nil if there is none.
    private func readRecord(at offset: Int, seq: UInt64) throws -> (bytes: [UInt8], size: Int)? {
        guard let h = try readHeader(at: offset), h.seq == seq else { return nil }
        let size = Self.headerSize + h.length + Self.trailerSize
        var r = [UInt8](repeating: 0, count: size)
        let n = try r.withUnsafeMutableBytes { try readAt(journal, $0, offset) }
        guard n == size else { return nil }
        let crc = r.withUnsafeBytes { crc32c(UnsafeRawBufferPointer(rebasing: $0[0..<(size - Self.trailerSize)])) }
        let stored = r.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: size - Self.trailerSize, as: UInt32.self)) }
        guard crc == stored else { return nil }
        return (Array(r[Self.headerSize..<(Self.headerSize + h.length)]), size)
    }

    private func readAt(_ fd: Int32, _ buf: UnsafeMutableRawBufferPointer, _ offset: Int) throws -> Int {
        try FileIO.read(fd, into: buf, at: offset, key: path)
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8], at offset: Int, key: String) throws {
        try FileIO.write(fd, bytes, at: offset, key: key)
    }
}

/// CRC-32C of the bytes (hardware-accelerated in the C support target).
func crc32c(_ buf: UnsafeRawBufferPointer) -> UInt32 { strata_crc32c(0, buf.baseAddress, buf.count) }
