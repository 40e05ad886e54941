import Synchronization

/// A lock that tasks wait for by suspending, not by blocking a thread; waiters get it in
/// the order they asked.
///
/// The SQL layer holds one per engine while it re-runs a transaction that lost a commit
/// race (``Engine/replayLock``): re-runs of transactions that write the same hot row would
/// otherwise keep invalidating each other, each one's commit landing just after the
/// others read.
public final class AsyncLock: Sendable {
    private struct State {
        var held = false
        var waiters: [CheckedContinuation<Void, Never>] = []
        var next = 0
    }
    private let state = Mutex(State())

    public init() {}

    /// Runs `body` holding the lock.
    public func withLock<T>(_ body: () async throws -> T) async rethrows -> T {
        await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let granted = state.withLock { s -> Bool in
                if !s.held {
                    s.held = true
                    return true
                }
                s.waiters.append(c)
                return false
            }
            if granted { c.resume() }
        }
    }

    private func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard s.next < s.waiters.count else {
                s.held = false
                s.waiters.removeAll()
                s.next = 0
                return nil
            }
            // The lock passes straight to the longest waiter.
            let c = s.waiters[s.next]
            s.next += 1
            return c
        }
        next?.resume()
    }
}
