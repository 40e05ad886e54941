import Synchronization
import Testing
import StrataEngine
import StrataStore

/// A flag tasks set and tests read.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }

    /// Waits until the flag is set or a second has passed.
    func eventually() async throws {
        for _ in 0..<200 where !isSet { try await Task.sleep(for: .milliseconds(5)) }
    }
}

@Suite struct RowLocksTests {

    @Test func aWaiterReadsTheHoldersCommitAndCommitsWithoutConflict() async throws {
        let engine = try await Engine.open(MemoryStore())
        try await engine.write { $0.put(b("k"), b("0")) }
        let first = engine.beginTransaction()
        let second = engine.beginTransaction()  // its snapshot predates first's commit
        try await first.lock([b("k")])
        #expect(s(try await first.get(b("k"))) == "0")
        first.put(b("k"), b("1"))
        let secondLocked = Flag()
        let waiter = Task {
            try await second.lock([b("k")])
            secondLocked.set()
            let seen = s(try await second.get(b("k")))
            second.put(b("k"), b("2"))
            _ = try await engine.commit(second)
            return seen
        }
        try await Task.sleep(for: .milliseconds(50))
        #expect(!secondLocked.isSet, "the second transaction must wait for the first")
        _ = try await engine.commit(first)
        #expect(try await waiter.value == "1", "the waiter reads the newest commit, not its snapshot")
        #expect(s(try await engine.snapshot().get(b("k"))) == "2")
    }

    @Test func withoutTheLockTheSameRaceFailsAtCommit() async throws {
        let engine = try await Engine.open(MemoryStore())
        try await engine.write { $0.put(b("k"), b("0")) }
        let first = engine.beginTransaction()
        let second = engine.beginTransaction()
        _ = try await first.get(b("k"))
        first.put(b("k"), b("1"))
        _ = try await second.get(b("k"))
        second.put(b("k"), b("2"))
        _ = try await engine.commit(first)
        await #expect(throws: EngineError.self) { _ = try await engine.commit(second) }
    }

    @Test func aWaitThatClosesACycleFailsWithDeadlock() async throws {
        let engine = try await Engine.open(MemoryStore())
        let one = engine.beginTransaction()
        let two = engine.beginTransaction()
        try await one.lock([b("a")])
        try await two.lock([b("b")])
        let oneGotB = Flag()
        let waiter = Task {
            try await one.lock([b("b")])
            oneGotB.set()
            one.put(b("a"), b("1"))
            one.put(b("b"), b("1"))
            return try await engine.commit(one)
        }
        try await Task.sleep(for: .milliseconds(50))
        do {
            try await two.lock([b("a")])
            Issue.record("two waits for one, which waits for two: that must fail")
        } catch let e as EngineError {
            #expect(e.code == EngineError.deadlock)
            #expect(e.sqlState == "40P01")
        }
        #expect(!oneGotB.isSet)
        two.releaseLocks()
        _ = try await waiter.value
        #expect(s(try await engine.snapshot().get(b("b"))) == "1")
    }

    @Test func aStoppedWaitEndsAndTheLockSkipsIt() async throws {
        let engine = try await Engine.open(MemoryStore())
        let holder = engine.beginTransaction()
        try await holder.lock([b("a")])
        let stopNow = Flag()
        struct Stopped: Error {}
        let quitter = engine.beginTransaction()
        let waiter = Task {
            defer { quitter.releaseLocks() }
            try await quitter.lock([b("a")]) { if stopNow.isSet { throw Stopped() } }
        }
        try await Task.sleep(for: .milliseconds(30))
        stopNow.set()
        await #expect(throws: Stopped.self) { try await waiter.value }
        holder.put(b("a"), b("1"))
        _ = try await engine.commit(holder)
        // The abandoned wait did not inherit the lock: a new transaction gets it at once.
        let next = engine.beginTransaction()
        let got = Flag()
        let taker = Task {
            try await next.lock([b("a")])
            got.set()
            return s(try await next.get(b("a")))
        }
        try await got.eventually()
        #expect(got.isSet)
        #expect(try await taker.value == "1")
    }

    /// A wait that ended leaves no trace: a later wait on its transaction is not taken
    /// for a cycle through the key it no longer waits for.
    @Test func anEndedWaitIsNotMistakenForADeadlock() async throws {
        let engine = try await Engine.open(MemoryStore())
        let one = engine.beginTransaction()
        try await one.lock([b("a")])
        let stopNow = Flag()
        struct Stopped: Error {}
        let twoDone = Flag()
        let oneGotB = Flag()
        let two = Task {
            let two = engine.beginTransaction()
            try await two.lock([b("b")])
            do {
                try await two.lock([b("a")]) { if stopNow.isSet { throw Stopped() } }
            } catch is Stopped {}
            twoDone.set()
            try await oneGotB.eventually()  // two keeps b until one waits for it
            try await Task.sleep(for: .milliseconds(30))
            two.put(b("b"), b("2"))
            _ = try await engine.commit(two)
        }
        try await Task.sleep(for: .milliseconds(30))
        stopNow.set()
        try await twoDone.eventually()
        oneGotB.set()
        try await one.lock([b("b")])  // waits for two, which waits for nothing
        #expect(s(try await one.get(b("b"))) == "2")
        try await two.value
    }

    @Test func aDiscardedTransactionReleasesItsLocks() async throws {
        let engine = try await Engine.open(MemoryStore())
        do {
            let dropped = engine.beginTransaction()
            try await dropped.lock([b("a"), b("b")])
        }
        let next = engine.beginTransaction()
        let got = Flag()
        let taker = Task {
            try await next.lock([b("b"), b("a")])
            got.set()
        }
        try await got.eventually()
        #expect(got.isSet)
        try await taker.value
    }

    /// A transaction that wrote nothing but read a locked key past its snapshot is placed
    /// at the newest commit: an older read that changed since must fail it.
    @Test func aReadOnlyTransactionWithANewerLockedReadIsValidated() async throws {
        let engine = try await Engine.open(MemoryStore())
        try await engine.write { tx in
            tx.put(b("x"), b("0"))
            tx.put(b("y"), b("0"))
        }
        let reader = engine.beginTransaction()
        #expect(s(try await reader.get(b("x"))) == "0")
        try await engine.write { tx in
            tx.put(b("x"), b("1"))
            tx.put(b("y"), b("1"))
        }
        try await reader.lock([b("y")])
        #expect(s(try await reader.get(b("y"))) == "1")  // x=0 with y=1 never existed together
        await #expect(throws: EngineError.self) { _ = try await engine.commit(reader) }

        let clean = engine.beginTransaction()
        try await engine.write { $0.put(b("y"), b("2")) }
        try await clean.lock([b("y")])
        #expect(s(try await clean.get(b("y"))) == "2")
        #expect(try await engine.commit(clean) == engine.head)
    }

    /// Locks are per process: another process's commit of a locked key after it was read
    /// is still caught by validation.
    @Test func anotherProcessesCommitOfALockedKeyIsCaught() async throws {
        let store = MemoryStore()
        let here = try await Engine.open(store)
        try await here.write { $0.put(b("k"), b("0")) }
        let there = try await Engine.open(store)
        let tx = here.beginTransaction()
        try await tx.lock([b("k")])
        tx.put(b("k"), b("here"))
        try await there.write { $0.put(b("k"), b("there")) }
        await #expect(throws: EngineError.self) { _ = try await here.commit(tx) }
        _ = try await here.refresh()
        #expect(s(try await here.snapshot().get(b("k"))) == "there")
    }
}
