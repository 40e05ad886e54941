import Crypto
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A bounded local disk cache in front of a remote store, for objects that never
/// change once written (Strata's `obj/` keys, named by their content hash).
///
/// Whole objects and aligned chunks of ranged reads are kept as files under
/// `directory`, each ending in a CRC-32C of its bytes so a damaged file is dropped
/// and fetched again instead of being served. Files appear by `rename(2)` from a
/// temporary name, so any number of processes may share one cache directory: a
/// reader sees a whole file or none, and a file unlinked by another process's
/// eviction stays readable through an open descriptor. When the bytes this
/// process believes the cache holds pass `limit`, it takes the directory's lock
/// (without waiting) and deletes the least recently used files (by modification
/// time, touched on every hit) until the cache is at 80% of the limit.
///
/// Other keys (the commit log, checkpoint pointers) pass straight through.
public final class DiskCachedStore: ObjectStore {
    /// The store behind the cache.
    public let base: any ObjectStore
    /// The cache directory.
    public let directory: String
    /// The size limit in bytes.
    public let limit: Int
    /// Ranged reads are fetched and kept in aligned chunks of this many bytes.
    public let chunkSize: Int
    private let immutablePrefixes: [String]
    private let estimate = Atomic<Int>(0)
    private let counter = Atomic<Int>(0)
    private let hitCount = Atomic<Int>(0)
    private let missCount = Atomic<Int>(0)

    /// Wraps `base` with a cache in `directory` holding at most about `limit` bytes.
    public init(
        _ base: any ObjectStore, directory: String, limit: Int, chunkSize: Int = 1 << 20,
        immutablePrefixes: [String] = ["obj/"]
    ) throws {
        self.base = base
        var dir = directory
        while dir.count > 1 && dir.hasSuffix("/") { dir.removeLast() }
        self.directory = dir
        self.limit = max(limit, 0)
        self.chunkSize = max(chunkSize, 4096)
        self.immutablePrefixes = immutablePrefixes
        try DirectoryStore.makeDirectories(dir + "/.tmp")
        estimate.store(scan().reduce(0) { $0 + $1.size }, ordering: .relaxed)
    }

    /// Reads served from the disk and reads that went to the base store.
    public var statistics: (hits: Int, misses: Int, bytes: Int) {
        (hitCount.load(ordering: .relaxed), missCount.load(ordering: .relaxed), estimate.load(ordering: .relaxed))
    }

    private func cacheable(_ key: String) -> Bool { limit > 0 && immutablePrefixes.contains { key.hasPrefix($0) } }

    // MARK: ObjectStore

    public func get(_ key: String) async throws -> [UInt8] {
        guard cacheable(key) else { return try await base.get(key) }
        let file = fileStem(key) + "all"
        if let bytes = read(file) {
            hitCount.add(1, ordering: .relaxed)
            return bytes
        }
        missCount.add(1, ordering: .relaxed)
        let bytes = try await base.get(key)
        store(bytes, at: file)
        return bytes
    }

    public func get(_ key: String, range: Range<Int>) async throws -> [UInt8] {
        guard cacheable(key), range.lowerBound >= 0, !range.isEmpty else { return try await base.get(key, range: range) }
        let files = fileStem(key)
        if let whole = read(files + "all") {
            hitCount.add(1, ordering: .relaxed)
            return Array(whole[try clamp(range, size: whole.count)])
        }
        let first = range.lowerBound / chunkSize, last = (range.upperBound - 1) / chunkSize
        var chunks: [[UInt8]?] = (first...last).map { read(files + String($0)) }
        if chunks.allSatisfy({ $0 != nil }) {
            hitCount.add(1, ordering: .relaxed)
        } else {
            missCount.add(1, ordering: .relaxed)
            // Fetch each run of missing chunks with one ranged read.
            var i = 0
            while i < chunks.count {
                guard chunks[i] == nil else {
                    i += 1
                    continue
                }
                var j = i
                while j + 1 < chunks.count && chunks[j + 1] == nil { j += 1 }
                let lo = (first + i) * chunkSize
                let fetched = try await base.get(key, range: lo..<(first + j + 1) * chunkSize)
                for c in i...j {
                    let start = (c - i) * chunkSize
                    let part = start < fetched.count ? Array(fetched[start..<min(fetched.count, start + chunkSize)]) : []
                    chunks[c] = part
                    store(part, at: files + String(first + c))
                    if part.count < chunkSize { break }  // the object ends in this chunk
                }
                i = j + 1
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(range.count)
        for (n, chunk) in chunks.enumerated() {
            guard let chunk else { break }
            let base = (first + n) * chunkSize
            let lo = max(range.lowerBound - base, 0), hi = min(range.upperBound - base, chunk.count)
            if lo < hi { out.append(contentsOf: chunk[lo..<hi]) }
            if chunk.count < chunkSize { break }
        }
        return out
    }

    public func put(_ key: String, _ bytes: [UInt8]) async throws {
        try await base.put(key, bytes)
        // Objects just written (segments, batches) are usually read soon after.
        if cacheable(key) { store(bytes, at: fileStem(key) + "all") }
    }

    public func putIfAbsent(_ key: String, _ bytes: [UInt8]) async throws {
        try await base.putIfAbsent(key, bytes)
    }

    public func list(prefix: String, startAfter: String?, limit: Int) async throws -> ListPage {
        try await base.list(prefix: prefix, startAfter: startAfter, limit: limit)
    }

    public func delete(_ key: String) async throws {
        try await base.delete(key)
        guard cacheable(key) else { return }
        let files = fileStem(key)
        unlink(files + "all")
        var c = 0
        while unlink(files + String(c)) == 0 { c += 1 }
    }

    // MARK: Files

    /// `DIR/ab/<rest of the key's sha256>.`: the files of `key` are this followed by
    /// `all` (the whole object) or a chunk number. Fixed-length names whatever the key;
    /// hashed once per call, not once per chunk.
    private func fileStem(_ key: String) -> String {
        let hex = SigV4Signer.hex(Array(SHA256.hash(data: Array(key.utf8))))
        return "\(directory)/\(hex.prefix(2))/\(hex.dropFirst(2))."
    }

    /// The file's bytes if it is whole (its CRC matches); a damaged file is removed.
    private func read(_ file: String) -> [UInt8]? {
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_size >= 4 else { return nil }
        let size = Int(st.st_size)
        guard let raw = try? [UInt8](unsafeUninitializedCapacity: size, initializingWith: { buf, n in
            n = try FileIO.read(fd, into: UnsafeMutableRawBufferPointer(buf), at: 0, key: file)
        }), raw.count == size else { return nil }
        let stored = raw[(size - 4)...].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
        let bytes = Array(raw[..<(size - 4)])
        guard bytes.withUnsafeBytes({ crc32c($0) }) == UInt32(littleEndian: stored) else {
            unlink(file)
            return nil
        }
        futimens(fd, nil)  // most recently used
        return bytes
    }

    /// Writes `bytes` (plus CRC) to a temporary file and renames it into place.
    /// Failures only mean the object is not cached.
    private func store(_ bytes: [UInt8], at file: String) {
        guard bytes.count + 4 <= limit / 4 else { return }  // never let one object flush the cache
        let n = counter.add(1, ordering: .relaxed).newValue
        let tmp = "\(directory)/.tmp/\(getpid())-\(n)-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        var record = bytes
        withUnsafeBytes(of: bytes.withUnsafeBytes { crc32c($0) }.littleEndian) { record.append(contentsOf: $0) }
        let written = (try? FileIO.write(fd, record, at: 0, key: tmp)) != nil
        close(fd)
        let parent = String(file[..<file.lastIndex(of: "/")!])
        if written && (mkdir(parent, 0o755) == 0 || errno == EEXIST) && rename(tmp, file) == 0 {
            if estimate.add(record.count, ordering: .relaxed).newValue > limit { evict() }
        } else {
            unlink(tmp)
        }
    }

    /// Deletes least recently used files until the cache is at 80% of its limit. One
    /// process at a time evicts (an exclusive `flock` on `.lock`, not waited for).
    private func evict() {
        let lockFD = open(directory + "/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard lockFD >= 0 else { return }
        defer { close(lockFD) }
        guard flock(lockFD, LOCK_EX | LOCK_NB) == 0 else { return }
        var files = scan()
        var total = files.reduce(0) { $0 + $1.size }
        files.sort { $0.mtime < $1.mtime }
        for f in files where total > limit * 8 / 10 {
            if unlink(f.path) == 0 { total -= f.size }
        }
        estimate.store(total, ordering: .relaxed)
        // Temporary files of processes that died while writing.
        for (name, _) in DirectoryStore.directoryEntries(directory + "/.tmp") {
            var st = stat()
            let p = directory + "/.tmp/" + name
            if stat(p, &st) == 0 && Int(st.st_mtim.tv_sec) < Int(time(nil)) - 3600 { unlink(p) }
        }
    }

    private func scan() -> [(path: String, size: Int, mtime: Int)] {
        var out: [(String, Int, Int)] = []
        for (sub, isDir) in DirectoryStore.directoryEntries(directory) where isDir && sub != ".tmp" {
            for (name, _) in DirectoryStore.directoryEntries(directory + "/" + sub) {
                let p = "\(directory)/\(sub)/\(name)"
                var st = stat()
                if stat(p, &st) == 0 {
                    out.append((p, Int(st.st_size), Int(st.st_mtim.tv_sec) * 1_000_000_000 + Int(st.st_mtim.tv_nsec)))
                }
            }
        }
        return out
    }
}
