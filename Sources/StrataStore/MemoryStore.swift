import Synchronization

/// An in-memory ``ObjectStore`` for tests: fast, shared by every engine that
/// holds the same instance, gone when released.
public final class MemoryStore: ObjectStore {
    private let objects = Mutex<[String: [UInt8]]>([:])

    /// Creates an empty store.
    public init() {}

    public func get(_ key: String) async throws -> [UInt8] {
        try validateKey(key)
        guard let bytes = objects.withLock({ $0[key] }) else { throw StoreError.notFound(key) }
        return bytes
    }

    public func get(_ key: String, range: Range<Int>) async throws -> [UInt8] {
        let bytes = try await get(key)
        return Array(bytes[try clamp(range, size: bytes.count)])
    }

    public func put(_ key: String, _ bytes: [UInt8]) async throws {
        try validateKey(key)
        objects.withLock { $0[key] = bytes }
    }

    public func putIfAbsent(_ key: String, _ bytes: [UInt8]) async throws {
        try validateKey(key)
        let stored = objects.withLock { objects -> Bool in
            if objects[key] != nil { return false }
            objects[key] = bytes
            return true
        }
        if !stored { throw StoreError.alreadyExists(key) }
    }

    public func list(prefix: String, startAfter: String?, limit: Int) async throws -> ListPage {
        let all = objects.withLock { objects in
            objects.filter { entry in entry.key.hasPrefix(prefix) && (startAfter.map { entry.key > $0 } ?? true) }
                .map { ObjectInfo(key: $0.key, size: $0.value.count) }
        }.sorted { $0.key < $1.key }
        let page = Array(all.prefix(max(1, limit)))
        return ListPage(objects: page, nextStartAfter: all.count > page.count ? page.last?.key : nil)
    }

    public func delete(_ key: String) async throws {
        try validateKey(key)
        _ = objects.withLock { $0.removeValue(forKey: key) }
    }

    /// Replaces stored bytes without any check: lets tests simulate tampering and corruption.
    public func tamper(_ key: String, _ change: ([UInt8]) -> [UInt8]) {
        objects.withLock { if let b = $0[key] { $0[key] = change(b) } }
    }
}
