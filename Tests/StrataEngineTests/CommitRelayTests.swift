import Glibc
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

    /// Sends `bytes` on a new TCP connection to `endpoint` and reports whether the relay
    /// closed the connection within five seconds (reading whatever it answered first).
    func relayCloses(_ endpoint: RelayEndpoint, after bytes: [UInt8]) throws -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        defer { Glibc.close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(endpoint.port)).bigEndian
        address.sin_addr.s_addr = inet_addr(endpoint.host)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(connected == 0)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 || (n < 0 && errno == ECONNRESET) { return true }
            if n < 0 { return false }
        }
    }

    @Test func malformedFramesCloseTheConnectionAndTheRelayKeepsServing() async throws {
        let (store, ea, eb) = try await twoEngines()
        let endpoint = try #require(ea.relay.withLock { $0.listener?.endpoint })
        func frame(_ body: [UInt8]) -> [UInt8] { withUnsafeBytes(of: UInt32(body.count).bigEndian, Array.init) + body }
        let payload = CommitRequest.Payload.data(writes: MutationBatch([Mutation(key: b("x"), kind: .put, value: b("1"))]), snapshot: 1, readKeys: [], readRanges: [], lockedReads: [])
        let attempts: [(String, [UInt8])] = [
            ("a commit before hello", frame(RelayMessage.commit(number: 1, deadline: 9, knownHead: 1, priority: 0, payload: payload).encoded())),
            ("a frame over 16 MiB", withUnsafeBytes(of: UInt32(RelayMessage.maxFrameBytes + 1).bigEndian, Array.init) + [0, 0, 0]),
            ("an unknown message type", frame([99, 1, 2, 3])),
            ("a truncated hello", frame(Array(RelayMessage.hello(secret: [1, 2], branch: "main", writer: "w").encoded().dropLast(2)))),
            ("random bytes", (0..<200).map { _ in UInt8.random(in: 0...255) }),
        ]
        for (what, bytes) in attempts {
            #expect(try relayCloses(endpoint, after: bytes), "the relay kept a connection open after \(what)")
        }
        // A second hello on a welcomed connection is refused by closing too.
        let hello = frame(RelayMessage.hello(secret: Array(endpoint.secret.utf8), branch: "main", writer: "w").encoded())
        #expect(try relayCloses(endpoint, after: hello + hello))
        // The relay still commits for a real sender.
        #expect(try await eb.put(b("after"), b("1")) == 2)
        #expect(try await entry(store, 2).relayed.count == 1)
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
