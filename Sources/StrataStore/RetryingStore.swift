/// Retries the idempotent operations of another store when they fail transiently:
/// reads, listings, deletes, and puts (which only ever write content-addressed
/// objects or identical checkpoint pointers, so repeating one is harmless).
///
/// `putIfAbsent` is passed through untouched: whether a lost reply means the
/// object was created can only be settled by reading it, which the caller (the
/// commit path) does itself.
public final class RetryingStore: ObjectStore {
    /// The store whose failures are retried.
    public let base: any ObjectStore
    /// Attempts per operation, the first included.
    public let attempts: Int

    /// Wraps `base`; an operation is tried up to `attempts` times.
    public init(_ base: any ObjectStore, attempts: Int = 4) {
        self.base = base
        self.attempts = max(1, attempts)
    }

    private func retrying<T>(_ body: () async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await body()
            } catch let e as StoreError where e.isRetryable && attempt < attempts {
                try await Task.sleep(for: .milliseconds(Int.random(in: 1...(10 << attempt))))
            }
        }
    }

    public func get(_ key: String) async throws -> [UInt8] { try await retrying { try await base.get(key) } }

    public func get(_ key: String, range: Range<Int>) async throws -> [UInt8] {
        try await retrying { try await base.get(key, range: range) }
    }

    public func put(_ key: String, _ bytes: [UInt8]) async throws { try await retrying { try await base.put(key, bytes) } }

    public func putIfAbsent(_ key: String, _ bytes: [UInt8]) async throws { try await base.putIfAbsent(key, bytes) }

    public func list(prefix: String, startAfter: String?, limit: Int) async throws -> ListPage {
        try await retrying { try await base.list(prefix: prefix, startAfter: startAfter, limit: limit) }
    }

    public func delete(_ key: String) async throws { try await retrying { try await base.delete(key) } }
}
