/// One object in a listing: its key and size in bytes.
public struct ObjectInfo: Equatable, Sendable {
    /// The object's key.
    public var key: String
    /// The object's size in bytes.
    public var size: Int

    /// Creates a listing row.
    public init(key: String, size: Int) {
        self.key = key
        self.size = size
    }
}

/// One page of a listing; `nextStartAfter` is set when more keys follow.
public struct ListPage: Equatable, Sendable {
    /// The objects of this page, in ascending key order.
    public var objects: [ObjectInfo]
    /// Pass this as `startAfter` to get the next page; nil when the listing is complete.
    public var nextStartAfter: String?

    /// Creates a page.
    public init(objects: [ObjectInfo], nextStartAfter: String?) {
        self.objects = objects
        self.nextStartAfter = nextStartAfter
    }
}

/// A flat key/object store: the only durable state Strata has.
///
/// Keys are `/`-separated paths of printable ASCII. Objects are byte arrays that
/// are written whole. `putIfAbsent` is the atomic primitive the commit log is built
/// on: of any number of concurrent callers, across processes, exactly one succeeds.
public protocol ObjectStore: Sendable {
    /// Returns the whole object. Throws ``StoreError/notFound(_:)`` when absent.
    func get(_ key: String) async throws -> [UInt8]
    /// Returns the bytes of `range` (clamped to the object's end). Throws when absent.
    func get(_ key: String, range: Range<Int>) async throws -> [UInt8]
    /// Stores the object, replacing any previous one; durable when it returns.
    func put(_ key: String, _ bytes: [UInt8]) async throws
    /// Stores the object only if nothing is stored under `key`; durable when it returns.
    /// Throws ``StoreError/alreadyExists(_:)`` if another writer got there first.
    func putIfAbsent(_ key: String, _ bytes: [UInt8]) async throws
    /// Lists keys starting with `prefix` that sort after `startAfter`, at most `limit` of them.
    func list(prefix: String, startAfter: String?, limit: Int) async throws -> ListPage
    /// Deletes the object; deleting an absent object succeeds.
    func delete(_ key: String) async throws
}

extension ObjectStore {
    /// Lists every key with the prefix, following pages until the end.
    public func listAll(prefix: String, startAfter: String? = nil) async throws -> [ObjectInfo] {
        var result: [ObjectInfo] = []
        var after = startAfter
        while true {
            let page = try await list(prefix: prefix, startAfter: after, limit: 1000)
            result.append(contentsOf: page.objects)
            guard let next = page.nextStartAfter else { return result }
            after = next
        }
    }

    /// Returns the object, or nil when it does not exist.
    public func getIfPresent(_ key: String) async throws -> [UInt8]? {
        do {
            return try await get(key)
        } catch StoreError.notFound {
            return nil
        }
    }
}

/// Validates a key: non-empty, at most 1024 bytes of printable ASCII, and no empty,
/// `.`-prefixed (so also `.` and `..`) path components. Keys starting with `.` are
/// reserved for a store's own bookkeeping. One pass, no allocation: it runs on every
/// block read.
func validateKey(_ key: String) throws {
    var valid = true
    var count = 0
    var atComponentStart = true
    for c in key.utf8 {
        count += 1
        if c < 0x21 || c > 0x7e || (atComponentStart && (c == 0x2f || c == 0x2e)) {
            valid = false
            break
        }
        atComponentStart = c == 0x2f
    }
    if !valid || count == 0 || count > 1024 || atComponentStart {
        throw StoreError.permanent("invalid key '\(key)': use printable ASCII path components, none empty or starting with '.'")
    }
}

/// Clamps a byte range to an object's size.
func clamp(_ range: Range<Int>, size: Int) throws -> Range<Int> {
    guard range.lowerBound >= 0 else { throw StoreError.permanent("negative range start") }
    let lo = min(range.lowerBound, size)
    return lo..<max(lo, min(range.upperBound, size))
}
