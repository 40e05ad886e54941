import Synchronization
import Testing
import StrataEngine
import StrataStore

/// A store whose log entry writes wait at a gate the test opens, then go through or fail.
final class GatedStore: ObjectStore {
    let base = MemoryStore()
    private struct Gate {
        var closed = false
        var held: [CheckedContinuation<Void, Never>] = []
        var failNext = false
    }
    private let gate = Mutex(Gate())

    /// Makes the next log entry writes wait until ``open(failing:)``.
    func close() { gate.withLock { $0.closed = true } }

    /// Lets the waiting writes go on; with `failing`, the first of them fails.
    func open(failing: Bool = false) {
        let held = gate.withLock { g -> [CheckedContinuation<Void, Never>] in
            g.closed = false
            g.failNext = failing
            defer { g.held = [] }
            return g.held
        }
        for c in held { c.resume() }
    }

    /// How many log entry writes wait at the gate.
    var waiting: Int { gate.withLock { $0.held.count } }

    func putIfAbsent(_ key: String, _ bytes: [UInt8]) async throws {
        if key.hasPrefix("log/") {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let wait = gate.withLock { g -> Bool in
                    if g.closed { g.held.append(c) }
                    return g.closed
                }
                if !wait { c.resume() }
            }
            let fail = gate.withLock { g -> Bool in
                defer { g.failNext = false }
                return g.failNext
            }
            if fail { throw StoreError.permanent("the disk is gone (test)") }
        }
        try await base.putIfAbsent(key, bytes)
    }

    func get(_ key: String) async throws -> [UInt8] { try await base.get(key) }
    func get(_ key: String, range: Range<Int>) async throws -> [UInt8] { try await base.get(key, range: range) }
    func put(_ key: String, _ bytes: [UInt8]) async throws { try await base.put(key, bytes) }
    func list(prefix: String, startAfter: String?, limit: Int) async throws -> ListPage {
        try await base.list(prefix: prefix, startAfter: startAfter, limit: limit)
    }
    func delete(_ key: String) async throws { try await base.delete(key) }
}

/// A committing transaction releases its row locks once its log entry is being written,
/// not after: a waiter reads the entry's writes and goes on, and its own commit stands
/// only if that entry committed where it was read.
@Suite struct EarlyLockReleaseTests {
    /// An engine on a gated store with `k` = "0", and a transaction holding `k`'s lock
    /// whose commit of `k` = "1" waits at the gate; `waiter` (begun before) waits for the lock.
    func holderCommittingAtTheGate() async throws -> (GatedStore, Engine, Task<UInt64, any Error>, Transaction) {
        let store = GatedStore()
        let engine = try await Engine.open(store)
        try await engine.write { $0.put(b("k"), b("0")) }
        let holder = engine.beginTransaction()
        let waiter = engine.beginTransaction()
        try await holder.lock([b("k")])
        holder.put(b("k"), b("1"))
        store.close()
        let commit = Task { try await engine.commit(holder) }
        while store.waiting == 0 { try await Task.sleep(for: .milliseconds(1)) }
        return (store, engine, commit, waiter)
    }

    @Test func aWaiterGoesOnWhileTheHoldersEntryIsWrittenAndCommitsAfterIt() async throws {
        let (store, engine, commit, waiter) = try await holderCommittingAtTheGate()
        // The holder's entry has not been written, yet the lock is free and its write readable.
        try await waiter.lock([b("k")])
        #expect(s(try await waiter.get(b("k"))) == "1")
        #expect(s(try await engine.snapshot().get(b("k"))) == "0", "nothing is visible to plain reads before the commit")
        waiter.put(b("k"), b("2"))
        let second = Task { try await engine.commit(waiter) }
        try await Task.sleep(for: .milliseconds(20))
        #expect(store.waiting == 1, "the waiter cannot commit before the holder")
        store.open()
        let first = try await commit.value
        #expect(try await second.value == first + 1)
        #expect(s(try await engine.snapshot().get(b("k"))) == "2")
        #expect(try await Engine.verify(store).problems.isEmpty)
    }

    @Test func whenTheHoldersEntryFailsTheWaiterFailsToo() async throws {
        let (store, engine, commit, waiter) = try await holderCommittingAtTheGate()
        try await waiter.lock([b("k")])
        #expect(s(try await waiter.get(b("k"))) == "1")
        waiter.put(b("k"), b("2"))
        store.open(failing: true)
        await #expect(throws: EngineError.self) { _ = try await commit.value }
        let error = await #expect(throws: EngineError.self) { _ = try await engine.commit(waiter) }
        #expect(error?.code == EngineError.serializationFailure)
        #expect(s(try await engine.snapshot().get(b("k"))) == "0", "neither write committed")
    }

    @Test func whenTheHoldersEntryLandsElsewhereTheWaiterFails() async throws {
        let (store, engine, commit, waiter) = try await holderCommittingAtTheGate()
        try await waiter.lock([b("k")])
        #expect(s(try await waiter.get(b("k"))) == "1")
        waiter.put(b("k"), b("2"))
        // Another process takes the position the holder is writing: the holder lands one later.
        let other = try await Engine.open(store.base)
        let taken = try await other.write { $0.put(b("other"), b("x")) }.seq
        store.open()
        #expect(try await commit.value == taken + 1)
        let error = await #expect(throws: EngineError.self) { _ = try await engine.commit(waiter) }
        #expect(error?.code == EngineError.serializationFailure)
        _ = try await engine.refresh()
        #expect(s(try await engine.snapshot().get(b("k"))) == "1")
        await other.close()
    }

    @Test func aTransactionReadingNoPendingWriteIsUnaffected() async throws {
        let (store, engine, commit, waiter) = try await holderCommittingAtTheGate()
        // Another key: read from the committed state, no dependency on the holder.
        try await waiter.lock([b("j")])
        #expect(try await waiter.get(b("j")) == nil)
        waiter.put(b("j"), b("1"))
        let second = Task { try await engine.commit(waiter) }
        try await Task.sleep(for: .milliseconds(20))
        store.open()
        _ = try await commit.value
        _ = try await second.value
        #expect(s(try await engine.snapshot().get(b("j"))) == "1")
        #expect(s(try await engine.snapshot().get(b("k"))) == "1")
    }
}
