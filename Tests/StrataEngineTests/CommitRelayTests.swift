import Testing
import StrataStore
@testable import StrataEngine

@Suite struct CommitRelayTests {
    func relayOptions(_ name: String) -> EngineOptions {
        var o = EngineOptions()
        o.relayHost = "127.0.0.1"
        o.writerName = name
        return o
    }

    /// Two processes' engines on one store; `b` starts behind, so its first commit loses
    /// the race for log position 2 to `a`.
    func twoEngines() async throws -> (MemoryStore, Engine, Engine) {
        let store = MemoryStore()
        let ea = try await Engine.open(store, options: relayOptions("a"))
        let eb = try await Engine.open(store, options: relayOptions("b"))
        try await ea.put(b("setup"), b("1"))
        return (store, ea, eb)
    }

    func entry(_ store: MemoryStore, _ seq: UInt64) async throws -> LogEntry {
        try LogEntry.decode(try await store.get(StoreLayout.logKey("main", seq)))
    }

    @Test func aLoserRelaysToTheWinnerWhoCommitsItsTransactions() async throws {
        let (store, ea, eb) = try await twoEngines()
        let first = try await eb.put(b("from-b"), b("1"))
        #expect(first == 2)
        let e2 = try await entry(store, 2)
        #expect(e2.writer == "a", "a process that lost the race sends its transaction to the winner")
        #expect(e2.relayed == [RelayedCommit(writer: "b", number: 1)])
        #expect(eb.statistics.relayingTo == "a")
        // From now on b's transactions go through a at once, and b sees each at once.
        for i in 0..<5 {
            let seq = try await eb.put(b("k\(i)"), b("\(i)"))
            #expect(try await entry(store, seq).writer == "a")
            #expect(eb.head >= seq)
            #expect(s(try await eb.get(b("k\(i)"))) == "\(i)")
        }
        #expect(ea.statistics.relayedIn == 6)
        try await ea.refresh()
        #expect(s(try await ea.get(b("k4"))) == "4")
        #expect(try await Engine.verify(store).problems.isEmpty)
        await eb.close()
        await ea.close()
    }

    @Test func relayedTransactionsAreValidatedByTheRelay() async throws {
        let (_, ea, eb) = try await twoEngines()
        _ = try await eb.put(b("x"), b("0"))  // b now relays to a
        let stale = eb.beginTransaction()
        _ = try await stale.get(b("x"))
        stale.put(b("x"), b("stale"))
        _ = try await ea.put(b("x"), b("a"))
        do {
            _ = try await eb.commit(stale)
            Issue.record("a stale relayed transaction committed")
        } catch let e as EngineError {
            #expect(e.code == EngineError.serializationFailure)
        }
        try await eb.refresh()
        #expect(s(try await eb.get(b("x"))) == "a")
        // A transaction that read nothing stale goes through.
        let fresh = eb.beginTransaction()
        _ = try await fresh.get(b("x"))
        fresh.put(b("x"), b("b"))
        _ = try await eb.commit(fresh)
        #expect(s(try await ea.get(b("x"))) == "b")
        await eb.close()
        await ea.close()
    }

    @Test(arguments: [RelayState.LoseAnswers.afterCommitting, .beforeCommitting])
    func aLostAnswerIsResolvedFromTheLogWithoutCommittingTwice(lose: RelayState.LoseAnswers) async throws {
        let (store, ea, eb) = try await twoEngines()
        _ = try await eb.put(b("x"), b("0"))  // b now relays to a
        #expect(eb.statistics.relayingTo == "a")
        ea.relay.withLock { $0.loseAnswers = lose }
        let seq = try await eb.put(b("lost"), b("once"))
        #expect(eb.statistics.relayingTo == nil, "a relay that lost an answer is not used again")
        #expect(s(try await eb.get(b("lost"))) == "once")
        let versions = try await eb.history(b("lost"))
        #expect(versions.count == 1, "the transaction committed exactly once")
        #expect(versions.first?.seq == seq)
        let writer = try await entry(store, seq).writer
        #expect(writer == (lose == .afterCommitting ? "a" : "b"))
        #expect(try await Engine.verify(store).problems.isEmpty)
        await eb.close()
        await ea.close()
    }

    @Test func aClosedRelayDeclinesAndTheSenderCommitsItself() async throws {
        let (store, ea, eb) = try await twoEngines()
        _ = try await eb.put(b("x"), b("0"))
        #expect(eb.statistics.relayingTo == "a")
        await ea.close()
        let seq = try await eb.put(b("after"), b("1"))
        #expect(try await entry(store, seq).writer == "b")
        #expect(try await eb.history(b("after")).count == 1)
        await eb.close()
    }

    @Test func concurrentWritersInTwoProcessesShareEntries() async throws {
        let (store, ea, eb) = try await twoEngines()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (name, engine) in [("a", ea), ("b", eb)] {
                for w in 0..<8 {
                    group.addTask {
                        for n in 0..<20 { try await engine.put(Array("\(name)/\(w)/\(n)".utf8), Array("v".utf8)) }
                    }
                }
            }
            try await group.waitForAll()
        }
        try await ea.refresh()
        try await eb.refresh()
        #expect(try await ea.scan(.prefix(b("a/"))).count == 160)
        #expect(try await eb.scan(.prefix(b("b/"))).count == 160)
        #expect(ea.head == eb.head)
        #expect(try await Engine.verify(store).problems.isEmpty)
        await eb.close()
        await ea.close()
    }

    @Test func aWrongSecretIsRefused() async throws {
        let (_, ea, eb) = try await twoEngines()
        let endpoint = try #require(ea.relay.withLock { $0.listener?.endpoint })
        var wrong = endpoint
        wrong.secret = (wrong.secret.first == "0" ? "1" : "0") + wrong.secret.dropFirst()
        await #expect(throws: RelayClient.Lost.self) {
            _ = try await RelayClient.connect(to: wrong, writer: "a", branch: "main", from: "intruder") { _ in }
        }
        let client = try await RelayClient.connect(to: endpoint, writer: "a", branch: "main", from: "friend") { _ in }
        client.close()
        await eb.close()
        await ea.close()
    }

    @Test func relayMessagesRoundTrip() throws {
        let payload = CommitRequest.Payload.data(
            writes: MutationBatch([Mutation(key: b("k"), kind: .put, value: b("v"))]), snapshot: 7, readKeys: [b("r")],
            readRanges: [KeyRange(lower: b("a"), upper: b("c")), KeyRange(lower: b("x"))], lockedReads: [(b("k"), 5)])
        let messages: [RelayMessage] = [
            .hello(secret: [1, 2, 3], branch: "main", writer: "w"), .welcome, .refused("no"),
            .commit(number: 3, deadline: 40, knownHead: 8, priority: -1, payload: payload),
            .committed(number: 3, seq: 9, entries: [[1, 2], []]),
            .failed(number: 4, sqlState: "40001", name: "serialization failure", message: "m"), .declined(number: 5),
        ]
        for m in messages { #expect(try RelayMessage.decode(m.encoded()) == m) }
        #expect(throws: EngineError.self) { try RelayMessage.decode([4, 0, 1]) }
        #expect(throws: EngineError.self) { try RelayMessage.decode([99]) }
    }
}
