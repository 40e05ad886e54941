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
/// Calls block the calling thread for the duration of the file system call, as
/// SQLite does; they are short on a local disk.
public final class DirectoryStore: ObjectStore {
    /// The directory holding the objects.
    public let root: String
    private let tmpDir: String
    private let immutablePrefixes: [String]
    private let counter = Atomic<Int>(0)
    private let knownDirs = Mutex<Set<String>>([])
    private let fileCache: FileCache

    /// Opens (creating if needed) a store in `path`.
    ///
    /// Keys under `immutablePrefixes` are promised never to be replaced, only created
    /// and deleted, so ranged reads may keep their files open between calls.
    public init(path: String, immutablePrefixes: [String] = ["obj/"], openFileLimit: Int = 256) throws {
        var root = path
        while root.count > 1 && root.hasSuffix("/") { root.removeLast() }
        self.root = root
        self.tmpDir = root + "/.tmp"
        self.immutablePrefixes = immutablePrefixes
        self.fileCache = FileCache(limit: openFileLimit)
        try Self.makeDirectories(root)
        try Self.makeDirectories(tmpDir)
        removeAbandonedTemporaryFiles()
    }

    // MARK: Reads

    public func get(_ key: String) async throws -> [UInt8] {
        try validateKey(key)
        let fd = try openForReading(path(key), key: key)
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw Self.error(errno, key) }
        return try Self.readFully(fd, offset: 0, count: Int(st.st_size), key: key)
    }

    public func get(_ key: String, range: Range<Int>) async throws -> [UInt8] {
        try validateKey(key)
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
        fileCache.forget(key)
        if unlink(path(key)) != 0 && errno != ENOENT { throw Self.error(errno, key) }
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
            try bytes.withUnsafeBytes { buf in
                var done = 0
                while done < buf.count {
                    let n = write(fd, buf.baseAddress! + done, buf.count - done)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw Self.error(errno, key)
                    }
                    done += n
                }
            }
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
        for entry in Self.directoryEntries(dirPath) where !entry.name.hasPrefix(".") {
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

    private static func directoryEntries(_ path: String) -> [(name: String, isDirectory: Bool)] {
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
            var done = 0
            while done < count {
                let n = pread(fd, buf.baseAddress! + done, count - done, off_t(offset + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw error(errno, key)
                }
                if n == 0 { break }
                done += n
            }
            initialized = done
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
