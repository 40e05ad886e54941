import Synchronization

/// Wraps a store and makes chosen operations fail, slow down, lose their
/// response, or "crash" the store, so tests can drive every error path.
public final class FaultInjectingStore: ObjectStore {
    /// The operations a rule can match.
    public enum Operation: Hashable, Sendable, CaseIterable {
        case get, getRange, put, putIfAbsent, list, delete
        var isWrite: Bool { self == .put || self == .putIfAbsent || self == .delete }
    }

    /// What happens when a rule matches.
    public enum Action: Sendable {
        /// Throw the error without touching the wrapped store.
        case fail(StoreError)
        /// Wait, then perform the operation.
        case delay(Duration)
        /// Perform the operation, then throw a transient error as if the reply was lost.
        case loseResponse
    }

    /// A fault: `action` for the operations in `operations` on keys with `keyPrefix`,
    /// skipping the first `skip` matches and applying at most `times` times (nil: forever).
    public struct Rule: Sendable {
        /// The operations the rule applies to.
        public var operations: Set<Operation>
        /// Only keys starting with this.
        public var keyPrefix: String
        /// What happens.
        public var action: Action
        /// Matches to let pass before the rule applies.
        public var skip: Int
        /// How many times it applies (nil: always).
        public var times: Int?
        /// Applies only to every `every`-th match (after `skip`): a steady rate of faults.
        public var every: Int
        var seen = 0

        /// Creates a rule.
        public init(
            _ operations: Set<Operation>, keyPrefix: String = "", action: Action, skip: Int = 0, times: Int? = nil,
            every: Int = 1
        ) {
            self.operations = operations
            self.keyPrefix = keyPrefix
            self.action = action
            self.skip = skip
            self.times = times
            self.every = max(1, every)
        }
    }

    private struct State {
        var rules: [Rule] = []
        var writes = 0
        var crashAfterWrites: Int?
        var crashed = false
    }

    /// The store being wrapped.
    public let base: any ObjectStore
    private let state = Mutex(State())

    /// Wraps `base`; with no rules it behaves exactly like `base`.
    public init(_ base: any ObjectStore) { self.base = base }

    /// Adds a rule; rules are checked in the order added.
    public func add(_ rule: Rule) { state.withLock { $0.rules.append(rule) } }

    /// Removes every rule and any pending crash (a "crashed" store stays crashed).
    public func clearRules() {
        state.withLock {
            $0.rules.removeAll()
            $0.crashAfterWrites = nil
        }
    }

    /// After `n` more successful writes, the next write leaves a partial temporary
    /// file or journal record (when the base is a ``DirectoryStore``) and the store stops: every later
    /// operation throws, as if the process had died at that instant.
    public func crash(afterWrites n: Int) {
        state.withLock {
            $0.crashAfterWrites = $0.writes + n
        }
    }

    /// True once a crash point was reached.
    public var hasCrashed: Bool { state.withLock { $0.crashed } }

    private func intercept(_ op: Operation, _ key: String, bytes: [UInt8]? = nil) async throws -> Action? {
        enum Decision { case proceed(Action?), crash, crashed }
        let decision: Decision = state.withLock { s in
            if s.crashed { return .crashed }
            if op.isWrite, let limit = s.crashAfterWrites {
                if s.writes >= limit {
                    s.crashed = true
                    return .crash
                }
                s.writes += 1
            } else if op.isWrite {
                s.writes += 1
            }
            for i in s.rules.indices where s.rules[i].operations.contains(op) && key.hasPrefix(s.rules[i].keyPrefix) {
                if s.rules[i].skip > 0 {
                    s.rules[i].skip -= 1
                    continue
                }
                s.rules[i].seen += 1
                if s.rules[i].seen % s.rules[i].every != 0 { continue }
                if let t = s.rules[i].times {
                    if t == 0 { continue }
                    s.rules[i].times = t - 1
                }
                return .proceed(s.rules[i].action)
            }
            return .proceed(nil)
        }
        switch decision {
        case .crashed:
            throw StoreError.permanent("store crashed (fault injection)")
        case .crash:
            if let dir = base as? DirectoryStore, let bytes { try? dir.simulateCrash(writing: key, bytes) }
            throw StoreError.permanent("store crashed (fault injection)")
        case .proceed(let action):
            switch action {
            case .fail(let e)?: throw e
            case .delay(let d)?:
                try? await Task.sleep(for: d)
                return nil
            default: return action
            }
        }
    }

    private func finish(_ action: Action?, _ key: String) throws {
        if case .loseResponse? = action { throw StoreError.transient("response lost (fault injection): \(key)") }
    }

    public func get(_ key: String) async throws -> [UInt8] {
        let a = try await intercept(.get, key)
        let r = try await base.get(key)
        try finish(a, key)
        return r
    }

    public func get(_ key: String, range: Range<Int>) async throws -> [UInt8] {
        let a = try await intercept(.getRange, key)
        let r = try await base.get(key, range: range)
        try finish(a, key)
        return r
    }

    public func put(_ key: String, _ bytes: [UInt8]) async throws {
        let a = try await intercept(.put, key, bytes: bytes)
        try await base.put(key, bytes)
        try finish(a, key)
    }

    public func putIfAbsent(_ key: String, _ bytes: [UInt8]) async throws {
        let a = try await intercept(.putIfAbsent, key, bytes: bytes)
        try await base.putIfAbsent(key, bytes)
        try finish(a, key)
    }

    public func list(prefix: String, startAfter: String?, limit: Int) async throws -> ListPage {
        let a = try await intercept(.list, prefix)
        let r = try await base.list(prefix: prefix, startAfter: startAfter, limit: limit)
        try finish(a, prefix)
        return r
    }

    public func delete(_ key: String) async throws {
        let a = try await intercept(.delete, key)
        try await base.delete(key)
        try finish(a, key)
    }
}
