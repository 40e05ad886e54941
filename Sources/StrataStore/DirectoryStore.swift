#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// An ``ObjectStore`` in a local directory, safe against crashes and shared by processes.
///
/// Every write goes to a temporary file in `ROOT/.tmp`, which is fsynced and then
/// renamed (`put`) or hard-linked (`putIfAbsent`) into place, and the parent
/// directory is fsynced, so an object is either absent or whole, even after a
/// power loss. `link(2)` fails when the name exists, which makes `putIfAbsent`
/// atomic across processes. Temporary files left by dead processes are removed
/// when the store is opened.
///
/// Sequence-numbered keys under `journaledPrefixes` (a branch's commit log:
/// `log/BRANCH/` followed by 20 decimal digits) are not files of their own but
/// records of one journal file per directory (see ``LogJournal``): a put-if-absent
/// there is an append under an exclusive `flock`, one file system journal commit
/// instead of two, and no inode per commit. Such keys are created only with
/// `putIfAbsent`, next number after next, and are never replaced or deleted.
///
/// Calls block the calling thread for the duration of the file system call, as
/// SQLite does; they are short on a local disk.
public final class DirectoryStore: ObjectStore {
    /// The directory holding the objects.
    public let root: String
    private let tmpDir: String
    private let immutablePrefixes: [String]
    private let journaledPrefixes: [String]
    private let journals = Mutex<[String: LogJournal]>([:])
    private let counter = Atomic<Int>(0)
    private let knownDirs = Mutex<Set<String>>([])
    private let fileCache: FileCache

    /// Opens (creating if needed) a store in `path`.
    ///
    /// Keys under `immutablePrefixes` are promised never to be replaced, only created
    /// and deleted, so ranged reads may keep their files open between calls. Keys
    /// under `journaledPrefixes` whose last component is 20 decimal digits live in a
    /// journal per directory; pass `[]` for one file per key everywhere.
    public init(
        path: String, immutablePrefixes: [String] = ["obj/"], journaledPrefixes: [String] = ["log/"],
        openFileLimit: Int = 256
    ) throws {
        var root = path
        while root.count > 1 && root.hasSuffix("/") { root.removeLast() }
        self.root = root
        self.tmpDir = root + "/.tmp"
        self.immutablePrefixes = immutablePrefixes
        self.journaledPrefixes = journaledPrefixes
        self.fileCache = FileCache(limit: openFileLimit)
        try Self.makeDirectories(root)
        try Self.makeDirectories(tmpDir)
        removeAbandonedTemporaryFiles()
    }

    // MARK: Reads

    public func get(_ key: String) async throws -> [UInt8] {
        try validateKey(key)
        if let (journal, seq) = try journal(for: key) {
            guard let bytes = try journal.get(seq) else { throw StoreError.notFound(key) }
            return bytes
        }
        let fd = try openForReading(path(key), key: key)
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw Self.error(errno, key) }
        return try Self.readFully(fd, offset: 0, count: Int(st.st_size), key: key)
    }

    public func get(_ key: String, range: Range<Int>) async throws -> [UInt8] {
        try validateKey(key)
        if try journal(for: key) != nil {
            let bytes = try await get(key)
            return Array(bytes[try clamp(range, size: bytes.count)])
        }
        if isImmutable(key) {
            let file = try fileCache.file(for: key) { try OpenFile(fd: openForReading(path(key), key: key)) }
            return try Self.readFully(file.fd, clamping: range, key: key)
        }
        let fd = try openForReading(path(key), key: key)
        defer { close(fd) }
        return try Self.readFully(fd, clamping: range, key: key)
    }

    public func list(prefix: String, startAfter: String?, limit: Int) async throws -> ListPage {
        var dirKey = ""
        if let slash = prefix.lastIndex(of: "/") { dirKey = String(prefix[...slash]) }
        var found: [ObjectInfo] = []
        try walk(dirKey: dirKey, prefix: prefix, startAfter: startAfter, into: &found)
        found.sort { $0.key < $1.key }
        let limit = max(1, limit)
        if found.count > limit {
            let page = Array(found.prefix(limit))
            return ListPage(objects: page, nextStartAfter: page.last!.key)
        }
        return ListPage(objects: found, nextStartAfter: nil)
    }

    // MARK: Writes

    public func put(_ key: String, _ bytes: [UInt8]) async throws {
        try validateKey(key)
        if try journal(for: key) != nil {
            throw StoreError.permanent("\(key): journaled log entries are created with putIfAbsent only")
        }
        let (dir, final) = try prepareParent(key)
        let tmp = try writeTemporary(bytes, key: key)
        if rename(tmp, final) != 0 {
            let e = errno
            unlink(tmp)
            throw Self.error(e, key)
        }
        fileCache.forget(key)
        try Self.syncDirectory(dir, key: key)
    }

    public func putIfAbsent(_ key: String, _ bytes: [UInt8]) async throws {
        try validateKey(key)
        if let (journal, seq) = try journal(for: key) {
            try journal.append(seq, bytes, key: key)
            return
        }
        let (dir, final) = try prepareParent(key)
        let tmp = try writeTemporary(bytes, key: key)
        let rc = link(tmp, final)
        let e = errno
        unlink(tmp)
        if rc != 0 { throw Self.error(e, key) }
        try Self.syncDirectory(dir, key: key)
    }

    public func delete(_ key: String) async throws {
        try validateKey(key)
        if try journal(for: key) != nil {
            throw StoreError.permanent("\(key): journaled log entries are never deleted")
        }
        fileCache.forget(key)
        if unlink(path(key)) != 0 && errno != ENOENT { throw Self.error(errno, key) }
    }

    /// Leaves what a process that died in the middle of writing `key` would leave:
    /// half a journal record for a journaled key, else half a temporary file.
    public func simulateCrash(writing key: String, _ bytes: [UInt8]) throws {
        if let (journal, seq) = try journal(for: key) {
            try journal.appendPartial(seq, bytes)
        } else {
            try leavePartialTemporaryFile(bytes)
        }
    }

    /// Leaves a temporary file holding the first half of `bytes`, as a process that
    /// died in the middle of a write would: used by crash tests.
    public func leavePartialTemporaryFile(_ bytes: [UInt8]) throws {
        let name = tmpDir + "/\(getpid())-crash-\(counter.add(1, ordering: .relaxed).newValue)"
        let fd = open(name, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Self.error(errno, name) }
        defer { close(fd) }
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count / 2) }
    }

    /// The names of temporary files currently present (for tests and diagnostics).
    public func temporaryFiles() -> [String] {
        Self.directoryEntries(tmpDir).map(\.name)
    }

    // MARK: Helpers

    private func path(_ key: String) -> String { root + "/" + key }

    /// The journal holding `key` and its sequence number, when `key` is a journaled log key.
    private func journal(for key: String) throws -> (LogJournal, UInt64)? {
        guard !journaledPrefixes.isEmpty, journaledPrefixes.contains(where: { key.hasPrefix($0) }),
              let slash = key.lastIndex(of: "/")
        else { return nil }
        let name = key.utf8[key.utf8.index(after: slash)...]
        guard name.count == 20, name.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let seq = UInt64(String(name)!) else {
            return nil
        }
        let dirKey = String(key[..<slash])
        if let j = journals.withLock({ $0[dirKey] }) { return (j, seq) }
        let dir = root + "/" + dirKey
        try Self.makeDirectories(dir)
        let created = try LogJournal(directory: dir, keyPrefix: dirKey + "/")
        let j = journals.withLock { js -> LogJournal in
            if let existing = js[dirKey] { return existing }
            js[dirKey] = created
            return created
        }
        return (j, seq)
    }

    private func isImmutable(_ key: String) -> Bool {
        immutablePrefixes.contains { key.hasPrefix($0) }
    }

    private func openForReading(_ path: String, key: String) throws -> Int32 {
        while true {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd >= 0 { return fd }
            if errno != EINTR { throw Self.error(errno, key) }
        }
    }

    private func prepareParent(_ key: String) throws -> (dir: String, final: String) {
        let final = path(key)
        var dir = root
        if let slash = key.lastIndex(of: "/") { dir = root + "/" + key[..<slash] }
        let known = knownDirs.withLock { $0.contains(dir) }
        if !known {
            try Self.makeDirectories(dir)
            knownDirs.withLock { _ = $0.insert(dir) }
        }
        return (dir, final)
    }

    private func writeTemporary(_ bytes: [UInt8], key: String) throws -> String {
        let name = tmpDir + "/\(getpid())-\(counter.add(1, ordering: .relaxed).newValue)"
        let fd = open(name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Self.error(errno, key) }
        do {
            try FileIO.write(fd, bytes, at: 0, key: key)
            if fdatasync(fd) != 0 { throw Self.error(errno, key) }
            close(fd)
            return name
        } catch {
            close(fd)
            unlink(name)
            throw error
        }
    }

    private func removeAbandonedTemporaryFiles() {
        for entry in Self.directoryEntries(tmpDir) {
            guard let pid = Int32(entry.name.prefix { $0 != "-" }) else { continue }
            if pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH {
                unlink(tmpDir + "/" + entry.name)
            }
        }
    }

    private func walk(dirKey: String, prefix: String, startAfter: String?, into found: inout [ObjectInfo]) throws {
        let dirPath = dirKey.isEmpty ? root : root + "/" + dirKey.dropLast()
        let entries = Self.directoryEntries(dirPath)
        if entries.contains(where: { $0.name == ".journal" }), let (journal, _) = try journal(for: dirKey + UInt64(1).paddedKeyName),
           let seqs = try journal.sequences() {
            for seq in seqs {
                let key = dirKey + seq.paddedKeyName
                if key.hasPrefix(prefix), startAfter.map({ key > $0 }) ?? true {
                    found.append(ObjectInfo(key: key, size: try journal.size(of: seq)))
                }
            }
        }
        for entry in entries where !entry.name.hasPrefix(".") {
            let key = dirKey + entry.name
            if entry.isDirectory {
                let sub = key + "/"
                // Descend only where keys with the prefix can live.
                if sub.hasPrefix(prefix) || prefix.hasPrefix(sub) {
                    try walk(dirKey: sub, prefix: prefix, startAfter: startAfter, into: &found)
                }
            } else if key.hasPrefix(prefix), startAfter.map({ key > $0 }) ?? true {
                var st = stat()
                if stat(dirPath + "/" + entry.name, &st) == 0 {
                    found.append(ObjectInfo(key: key, size: Int(st.st_size)))
                }
            }
        }
    }

    static func directoryEntries(_ path: String) -> [(name: String, isDirectory: Bool)] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var result: [(String, Bool)] = []
        while let ent = readdir(dir) {
            let name = withUnsafeBytes(of: ent.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            var isDir = ent.pointee.d_type == UInt8(DT_DIR)
            if ent.pointee.d_type == UInt8(DT_UNKNOWN) {
                var st = stat()
                isDir = stat(path + "/" + name, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
            }
            result.append((name, isDir))
        }
        return result
    }

    static func makeDirectories(_ path: String) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o755) != 0 && errno != EEXIST { throw error(errno, path) }
        }
    }

    private static func syncDirectory(_ dir: String, key: String) throws {
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw error(errno, key) }
        defer { close(fd) }
        if fsync(fd) != 0 { throw error(errno, key) }
    }

    /// Reads `range`, stopping early at the end of the file (so no `fstat` is needed).
    private static func readFully(_ fd: Int32, clamping range: Range<Int>, key: String) throws -> [UInt8] {
        guard range.lowerBound >= 0 else { throw StoreError.permanent("negative range start") }
        return try readFully(fd, offset: range.lowerBound, count: range.count, key: key)
    }

    private static func readFully(_ fd: Int32, offset: Int, count: Int, key: String) throws -> [UInt8] {
        try [UInt8](unsafeUninitializedCapacity: count) { buf, initialized in
            initialized = try FileIO.read(fd, into: UnsafeMutableRawBufferPointer(buf), at: offset, key: key)
        }
    }

    static func error(_ code: Int32, _ key: String) -> StoreError {
        let message = "\(key): \(String(cString: strerror(code)))"
        switch code {
        case ENOENT, ENOTDIR: return .notFound(key)
        case EEXIST: return .alreadyExists(key)
        case EAGAIN, EINTR, EBUSY, ETIMEDOUT, ENOMEM, ENOSPC, EDQUOT, EMFILE, ENFILE: return .transient(message)
        default: return .permanent(message)
        }
    }
}

extension UInt64 {
    /// The 20-digit zero-padded decimal name of a journaled entry.
    var paddedKeyName: String {
        let s = String(self)
        return String(repeating: "0", count: Swift.max(0, 20 - s.count)) + s
    }
}

/// An open read-only file, closed when the last reference goes.
final class OpenFile: Sendable {
    let fd: Int32
    init(fd: Int32) { self.fd = fd }
    deinit { close(fd) }
}

/// A bounded cache of open files for immutable objects, so block reads cost one `pread`.
final class FileCache: Sendable {
    private struct State {
        var files: [String: OpenFile] = [:]
        var order: [String] = []
    }
    private let state = Mutex(State())
    private let limit: Int

    init(limit: Int) { self.limit = max(1, limit) }

    func file(for key: String, open: () throws -> OpenFile) throws -> OpenFile {
        if let f = state.withLock({ $0.files[key] }) { return f }
        let f = try open()
        state.withLock { s in
            if s.files[key] == nil {
                s.files[key] = f
                s.order.append(key)
                if s.order.count > limit {
                    let victim = s.order.removeFirst()
                    s.files[victim] = nil
                }
            }
        }
        return f
    }

    func forget(_ key: String) {
        state.withLock { s in
            if s.files.removeValue(forKey: key) != nil { s.order.removeAll { $0 == key } }
        }
    }
}
