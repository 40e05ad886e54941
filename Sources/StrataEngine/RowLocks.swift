#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Exclusive locks on keys, held by this process's transactions until they end.
///
/// Optimistic validation alone makes every transaction that updates a hot row (pgbench's
/// one branch row) lose its first commit to whichever updated it meanwhile, and run
/// twice. A transaction that takes a key's lock before reading it for an update instead
/// waits for the holder to finish and then reads the key's newest committed value (see
/// ``Transaction/lock(_:stop:)``): its commit then validates. Locks are per process; other
/// processes are still caught by validation. Waiters are served in the order they asked,
/// and a wait that would close a cycle fails at once with ``EngineError/deadlock``.
final class RowLocks: Sendable {
    private struct Held {
        var owner: UInt64
        var waiters: [LockTicket] = []
    }
    private struct State {
        var held: [ByteKey: Held] = [:]
        /// The key each waiting owner waits for (an owner waits for one key at a time).
        var waitingFor: [UInt64: ByteKey] = [:]
        /// Waits with a stop check, and whether the watcher thread is checking them.
        var watched: [LockTicket] = []
        var watching = false
    }
    private let state = Mutex(State())
    private let nextOwner = Atomic<UInt64>(1)

    /// A new owner identity for a transaction.
    func newOwner() -> UInt64 { nextOwner.add(1, ordering: .relaxed).oldValue }

    /// Takes `key` for `owner`, waiting for its holder to release it; `stop` is asked every
    /// 10 ms while waiting and ends the wait by throwing (a cancel or statement timeout).
    /// The caller must ``release(_:owner:)`` the key whatever this returns or throws.
    func lock(_ key: ByteKey, owner: UInt64, stop: (@Sendable () throws -> Void)?) async throws {
        let ticket = try state.withLock { s -> LockTicket? in
            guard var h = s.held[key] else {
                s.held[key] = Held(owner: owner)
                return nil
            }
            if h.owner == owner { return nil }
            // Would waiting close a cycle? Follow holder -> the key it waits for -> its holder.
            var holder = h.owner
            var steps = 0
            while let k = s.waitingFor[holder], let next = s.held[k]?.owner, steps < 10_000 {
                if next == owner {
                    throw EngineError(EngineError.deadlock, "deadlock detected: two transactions wait for rows the other has updated")
                }
                holder = next
                steps += 1
            }
            let t = LockTicket(owner: owner, stop: stop)
            h.waiters.append(t)
            s.held[key] = h
            s.waitingFor[owner] = key
            return t
        }
        guard let ticket else { return }
        if ticket.stop != nil { watch(ticket) }
        do {
            try await withTaskCancellationHandler {
                try await ticket.wait()
            } onCancel: {
                ticket.fail(EngineError(EngineError.closed, "the lock wait was cancelled"))
            }
        } catch {
            // A failed wait is never granted: leave the queue now, so that deadlock checks
            // do not follow a wait that is over.
            state.withLock { s in
                s.waitingFor[owner] = nil
                s.held[key]?.waiters.removeAll { $0 === ticket }
            }
            throw error
        }
    }

    /// Has `ticket`'s stop check asked every 10 ms until its wait ends, by one thread for
    /// all waits: not a task, which would wait for a thread of the shared pool while long
    /// statements keep it busy, nor one per wait, which would stand between a grant and
    /// its waiter.
    private func watch(_ ticket: LockTicket) {
        let start = state.withLock { s -> Bool in
            s.watched.append(ticket)
            if s.watching { return false }
            s.watching = true
            return true
        }
        guard start else { return }
        let arg = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            Unmanaged<RowLocks>.fromOpaque(raw!).takeRetainedValue().watchWaits()
            return nil
        }, arg)
        if rc == 0 {
            pthread_detach(thread)
        } else {
            // No thread: waits still end when their locks are granted.
            Unmanaged<RowLocks>.fromOpaque(arg).release()
            state.withLock { $0.watching = false }
        }
    }

    /// The watcher thread: asks every waiting ticket's stop check until none is left.
    private func watchWaits() {
        while true {
            usleep(10_000)
            let tickets = state.withLock { s -> [LockTicket] in
                s.watched.removeAll { !$0.isWaiting }
                if s.watched.isEmpty { s.watching = false }
                return s.watched
            }
            if tickets.isEmpty { return }
            for t in tickets {
                do { try t.stop?() } catch { t.fail(error) }
            }
        }
    }

    /// Releases `keys` held by `owner` (each passes to its longest waiter) and withdraws
    /// `owner` from any wait it is still in.
    func release(_ keys: [ByteKey], owner: UInt64) {
        var wake: [CheckedContinuation<Void, any Error>] = []
        state.withLock { s in
            if let k = s.waitingFor.removeValue(forKey: owner), var h = s.held[k] {
                h.waiters.removeAll { $0.owner == owner }
                s.held[k] = h
            }
            for key in keys {
                guard var h = s.held[key], h.owner == owner else { continue }
                var passed = false
                while !passed && !h.waiters.isEmpty {
                    let t = h.waiters.removeFirst()
                    // A waiter whose wait already failed (cancelled, timed out) is skipped.
                    guard let c = t.grant() else { continue }
                    if let c { wake.append(c) }
                    h.owner = t.owner
                    s.waitingFor[t.owner] = nil
                    passed = true
                }
                s.held[key] = passed ? h : nil
            }
        }
        for c in wake { c.resume() }
    }

}

/// One wait for a lock: granted by a release, or failed by the waiter's own stop check.
final class LockTicket: Sendable {
    private enum Phase {
        /// Not yet granted; the continuation once the waiter has suspended.
        case waiting(CheckedContinuation<Void, any Error>?)
        /// Granted before the waiter suspended.
        case granted
        /// Granted and the waiter resumed (or about to be).
        case done
        case failed(any Error)
    }
    private let phase = Mutex(Phase.waiting(nil))
    let owner: UInt64
    /// Asked now and then while waiting; ends the wait by throwing.
    let stop: (@Sendable () throws -> Void)?

    init(owner: UInt64, stop: (@Sendable () throws -> Void)?) {
        self.owner = owner
        self.stop = stop
    }

    /// True until the lock is granted or the wait fails.
    var isWaiting: Bool {
        phase.withLock { p in
            if case .waiting = p { return true }
            return false
        }
    }

    func wait() async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            let ready = phase.withLock { p -> Result<Void, any Error>? in
                switch p {
                case .waiting:
                    p = .waiting(c)
                    return nil
                case .granted, .done:
                    p = .done
                    return .success(())
                case .failed(let e):
                    return .failure(e)
                }
            }
            if let ready { c.resume(with: ready) }
        }
    }

    /// Grants the lock unless the wait already failed (nil then); returns the waiter to
    /// resume, if it has suspended, as the inner optional.
    func grant() -> CheckedContinuation<Void, any Error>?? {
        phase.withLock { p in
            guard case .waiting(let c) = p else { return nil }
            p = c == nil ? .granted : .done
            return .some(c)
        }
    }

    /// Ends the wait with `error` unless the lock was granted first.
    func fail(_ error: any Error) {
        let waiter = phase.withLock { p -> CheckedContinuation<Void, any Error>? in
            guard case .waiting(let c) = p else { return nil }
            p = .failed(error)
            return c
        }
        waiter?.resume(throwing: error)
    }
}
