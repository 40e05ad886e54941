import StrataLocalServers
import StrataStore
import Testing

/// S3Store's own retry logic against a real server behind ``S3FaultProxy``: throttling,
/// server errors and reset connections are retried; a conditional PUT whose reply is lost
/// or late is settled by reading what is there, never by a blind retry.
@Suite struct S3StoreFaultTests {
    /// A store on a new bucket of the shared moto server, reached through a new proxy.
    func proxiedStore(timeout: Duration = .seconds(10)) async throws -> (S3Store, S3Store, S3FaultProxy) {
        let moto = try await MotoServer.shared()
        let direct = try await moto.makeBucket()
        let proxy = try await S3FaultProxy.start(upstream: moto.endpoint)
        var config = direct
        (config.scheme, config.host, config.port) = ("http", "127.0.0.1", Int(proxy.endpoint.split(separator: ":").last!)!)
        config.requestTimeout = timeout
        return (S3Store(config), S3Store(direct), proxy)
    }

    @Test(arguments: [503, 500, 429])
    func throttlingServerErrorsAndResetsAreRetried(status: Int) async throws {
        let (store, direct, proxy) = try await proxiedStore()
        defer { proxy.stop() }
        var faults = S3FaultProxy.Faults()
        faults.failEvery = 3
        faults.failStatus = status
        faults.resetEvery = 5
        try await proxy.set(faults)
        for i in 0..<12 {
            try await store.put("p/\(i)", Array("put \(i)".utf8))
            try await store.putIfAbsent("c/\(i)", Array("once \(i)".utf8))
            #expect(try await store.get("p/\(i)") == Array("put \(i)".utf8))
            #expect(try await store.get("c/\(i)", range: 0..<4) == Array("once".utf8))
        }
        #expect(try await store.listAll(prefix: "c/").count == 12)
        for i in 0..<6 { try await store.delete("p/\(i)") }
        #expect(try await direct.listAll(prefix: "p/").count == 6)

        let injected = try await proxy.statistics()
        #expect(injected.failed >= 15 && injected.reset >= 9, "\(injected)")
        // Each injected failure cost exactly one retry, and nothing else did.
        #expect(store.statistics.retries == injected.failed + injected.reset)
    }

    /// A multipart upload through throttling and resets: failed parts, starts and
    /// completions are sent again, and the object arrives whole.
    @Test func multipartUploadsSurviveFaults() async throws {
        let (store, direct, proxy) = try await proxiedStore()
        defer { proxy.stop() }
        var faults = S3FaultProxy.Faults()
        faults.failEvery = 2
        faults.resetEvery = 3
        try await proxy.set(faults)
        let big = (0..<(11 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 40_503 >> 7) }
        for name in ["a", "b"] {
            var config = store.configuration
            config.multipartThreshold = 6 << 20
            config.partSize = 5 << 20
            try await S3Store(config).put("obj/\(name)", big)
        }
        #expect(try await direct.get("obj/a") == big)
        #expect(try await direct.get("obj/b") == big)
        let injected = try await proxy.statistics()
        #expect(injected.failed + injected.reset >= 5, "\(injected)")
    }

    @Test func aConditionalPutWhoseReplyIsLostIsSettledByReading() async throws {
        let (store, direct, proxy) = try await proxiedStore()
        defer { proxy.stop() }
        try await direct.put("theirs", Array("another writer's".utf8))
        var faults = S3FaultProxy.Faults()
        faults.dropConditionalPutEvery = 1
        try await proxy.set(faults)

        // The PUT landed but its reply was lost: a blind retry would get 412 and report a loss.
        try await store.putIfAbsent("mine", Array("our bytes".utf8))
        #expect(try await direct.get("mine") == Array("our bytes".utf8))
        // The PUT was refused (412) and its reply lost: reading shows someone else's object.
        await #expect(throws: StoreError.alreadyExists("theirs")) {
            try await store.putIfAbsent("theirs", Array("our bytes".utf8))
        }
        #expect(try await direct.get("theirs") == Array("another writer's".utf8))
        let injected = try await proxy.statistics()
        #expect(injected.dropped == 2, "\(injected)")
        // One PUT each (no blind retry), then reads to settle.
        #expect(store.statistics.puts == 2 && store.statistics.gets >= 2)
    }

    @Test func aConditionalPutAnsweredAfterTheTimeoutIsSettledByReading() async throws {
        let (store, direct, proxy) = try await proxiedStore(timeout: .seconds(1))
        defer { proxy.stop() }
        var faults = S3FaultProxy.Faults()
        faults.delayConditionalPutEvery = 1
        faults.delaySeconds = 3
        try await proxy.set(faults)
        try await store.putIfAbsent("late", Array("landed, answer late".utf8))
        #expect(try await direct.get("late") == Array("landed, answer late".utf8))
        #expect(try await proxy.statistics().delayed == 1)
        // One PUT (no blind retry), then a read settles it (more if a loaded machine slows the read too).
        #expect(store.statistics.puts == 1 && store.statistics.gets >= 1)
    }
}
