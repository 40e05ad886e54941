import Foundation
import PropertyBased
import StrataEngine
import StrataLocalServers
import StrataStore
import Synchronization
import Testing

@Suite struct S3EngineTests {
    /// The model-based test on a real bucket, through the fault-injecting wrapper:
    /// transient errors on every kind of operation, slow replies, and replies lost
    /// after a put or put-if-absent succeeded. Every read still agrees with the model.
    @Test func randomInterleavingsAgreeWithTheModelOnS3WithFaults() async throws {
        let moto = try await MotoServer.shared()
        await propertyCheck(count: 4, input: Gen.int(in: 0...99_999).array(of: 20...60)) { ops in
            await ModelRun.runAndCheck(ops) {
                let faulty = FaultInjectingStore(S3Store(try await moto.makeBucket()))
                faulty.add(.init([.putIfAbsent], action: .loseResponse, every: 5))
                faulty.add(.init([.putIfAbsent], action: .fail(.transient("injected 503")), every: 7))
                faulty.add(.init([.put], action: .loseResponse, every: 3))
                faulty.add(.init([.get, .getRange], action: .fail(.transient("injected timeout")), every: 6))
                faulty.add(.init([.get, .getRange, .list], action: .delay(.milliseconds(25)), every: 9))
                faulty.add(.init([.list], action: .fail(.transient("injected reset")), every: 4))
                return faulty
            }
        }
    }

    /// The model-based test through real HTTP faults, below S3Store (``S3FaultProxy``):
    /// throttling, server errors, reset connections, and log entries whose conditional
    /// PUT landed but whose reply was lost or came after the timeout.
    @Test func randomInterleavingsAgreeWithTheModelThroughHTTPFaults() async throws {
        let moto = try await MotoServer.shared()
        let proxy = try await S3FaultProxy.start(upstream: moto.endpoint)
        defer { proxy.stop() }
        var faults = S3FaultProxy.Faults()
        faults.failEvery = 7
        faults.resetEvery = 11
        faults.dropConditionalPutEvery = 3
        faults.delayConditionalPutEvery = 8
        faults.delaySeconds = 1.0
        try await proxy.set(faults)
        await propertyCheck(count: 2, input: Gen.int(in: 0...99_999).array(of: 20...40)) { ops in
            await ModelRun.runAndCheck(ops) {
                var config = try await moto.makeBucket()
                config.port = Int(proxy.endpoint.split(separator: ":").last!)!
                config.requestTimeout = .milliseconds(500)
                return S3Store(config)
            }
        }
        let injected = try await proxy.statistics()
        #expect(injected.failed > 0 && injected.reset > 0 && injected.dropped > 0 && injected.delayed > 0, "\(injected)")
    }

    /// A write acknowledged in process A is visible in process B within the poll
    /// interval plus one request round trip (while a round trip is shorter than the interval). Both are child processes (the test
    /// process's own threads may be busy with other tests), and B measures the round
    /// trip while it waits (the poller's request, a GET of an absent key, every 20 ms),
    /// since a loaded machine stretches it. The test has its own server.
    @Test func replicasSeeEachOthersCommitsWithinThePollInterval() async throws {
        let moto = try await MotoServer.start()
        defer { moto.stop() }
        let db = moto.url(try await moto.makeBucket(), "&cache=none")
        let dir = temporaryDirectory()
        // Twelve commits after the writer's open (which commits nothing): sequences 1...12.
        let reader = try StrataChild(["debug", "watch", db, "--poll-ms", "200", "--until", "12"], output: dir + "/r.txt")
        while !reader.lines.contains(where: { $0.hasPrefix("SEEN ") }) { try await Task.sleep(for: .milliseconds(10)) }
        let writer = try StrataChild(["debug", "writer", db, "--count", "12", "--interval-ms", "250"], output: dir + "/w.txt")
        #expect(await writer.wait() == 0)
        #expect(await reader.wait() == 0)
        var seen: [(head: UInt64, at: UInt64)] = []
        var trips: [(start: UInt64, end: UInt64)] = []
        var sleeps: [(start: UInt64, end: UInt64)] = []
        for line in reader.lines {
            let parts = line.split(separator: " ")
            if parts.first == "SEEN" { seen.append((UInt64(parts[1])!, UInt64(parts[2])!)) }
            if parts.first == "TRIP" { trips.append((UInt64(parts[1])!, UInt64(parts[2])!)) }
            if parts.first == "SLEPT" { sleeps.append((UInt64(parts[1])!, UInt64(parts[2])!)) }
            #expect(parts.first != "POLL-ERROR", "\(line)")
        }
        let pollMicros = 200_000
        var checked = 0
        for line in writer.lines where line.hasPrefix("ACK ") {
            let parts = line.split(separator: " ")
            let seq = UInt64(parts[1])!, acked = UInt64(parts[2])!
            guard let at = seen.filter({ $0.head >= seq }).map(\.at).min() else {
                Issue.record("the reader never saw commit \(seq)")
                continue
            }
            // The slowest round trip of the probes that overlapped this commit's wait.
            let trip = trips.filter { $0.end >= acked && $0.start <= at }.map { Int($0.end - $0.start) }.max() ?? 0
            // How much later than asked the reader's 20 ms sleeps woke up meanwhile: the
            // time a loaded machine did not run the reader at all, which no poll can beat.
            let late = sleeps.filter { $0.end >= acked && $0.start <= at }.map { Int($0.end - $0.start) - 20_000 }.max() ?? 0
            let lag = Int(at) - Int(acked)
            // Polls start every interval, or when the previous one ends if a round trip
            // takes longer than that; a commit landing just after a poll read the log is
            // seen when the next poll returns: one interval (or one slow trip) plus one
            // trip. 30 ms for scheduling two processes on two busy cores.
            #expect(
                lag <= max(pollMicros, trip) + trip + max(late, 0) + 30_000,
                "commit \(seq) seen after \(lag) us; round trip then \(trip) us, sleeps woke \(late) us late")
            checked += 1
        }
        #expect(checked == 12)

        // When nothing changed, a refresh costs one GET and reads cost none.
        let store = try StoreLocation.open(db)
        let s3 = StoreLocation.s3Store(under: store)!
        var quiet = EngineOptions()
        quiet.automaticMaintenance = false
        let other = try await Engine.open(store, options: quiet)
        try await other.flush()
        _ = try await other.scan(.prefix(Array("lag/".utf8)))
        let before = s3.statistics
        try await other.refresh()
        #expect(try await other.scan(.prefix(Array("lag/".utf8))).count == 12)
        #expect(s3.statistics.requests - before.requests == 1 && s3.statistics.gets - before.gets == 1)
        await other.close()
    }
}

func wallMicrosNow() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec / 1000)
}
