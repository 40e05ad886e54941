import ArgumentParser
import Foundation
import StrataEngine

/// Hidden commands the test suite runs as child processes.
struct DebugCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "debug", abstract: "Workloads for the crash and multi-process tests.",
        shouldDisplay: false, subcommands: [CrashChild.self, Bank.self, Writer.self, Watch.self, Load.self])

    /// Commits random transactions forever, printing `TRY` before and `ACK` after each commit.
    struct CrashChild: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "crash-child")
        @Argument var db: String
        @Option var seed: UInt64 = 1
        @Option(help: "Stop after this many commits (default: run until killed).") var commits: Int = .max

        func run() async throws {
            var options = EngineOptions()
            options.checkpointInterval = 7
            options.maxSegments = 3
            options.blockSize = 256
            let engine = try await openEngine(db, options: options)
            var rng = SplitMix(seed: seed ^ UInt64(getpid()))
            var n = 0
            while n < commits {
                n += 1
                var writes: [(String, String?)] = []
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    let key = "k\(Int.random(in: 0..<64, using: &rng))"
                    if writes.contains(where: { $0.0 == key }) { continue }
                    let value: String? = Int.random(in: 0..<5, using: &rng) == 0 ? nil : "\(seed)-\(n)-\(rng.next() % 100_000)"
                    writes.append((key, value))
                }
                if Int.random(in: 0..<8, using: &rng) == 0 {
                    writes.append(("big\(n % 3)", String(repeating: "x", count: 70_000) + "\(n)"))
                }
                let payload = writes.map { "\($0.0)=\($0.1 ?? "<deleted>")" }.joined(separator: ";")
                print("TRY \(payload)")
                fflush(nil)
                let seq = try await engine.write { tx in
                    for (k, v) in writes {
                        if let v { tx.put(Array(k.utf8), Array(v.utf8)) } else { tx.delete(Array(k.utf8)) }
                    }
                }.seq
                print("ACK \(seq) \(payload)")
                fflush(nil)
            }
            await engine.close()
        }
    }

    /// Bank transfers between accounts; the total must never change.
    struct Bank: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "bank")
        @Argument var db: String
        @Option var id: Int = 0
        @Option var accounts: Int = 100
        @Option var seconds: Double = 10
        @Option var initial: Int = 1000
        @Option(help: "Relay commits through a TCP port on this host address (EngineOptions.relayHost).") var relay: String?

        func run() async throws {
            var options = EngineOptions()
            options.relayHost = relay
            let engine = try await openEngine(db, options: options)
            func account(_ i: Int) -> [UInt8] { Array("acct/\(String(format: "%04d", i))".utf8) }
            func int(_ b: [UInt8]?) -> Int { b.flatMap { Int(String(decoding: $0, as: UTF8.self)) } ?? 0 }
            let expectedTotal = accounts * initial
            try await engine.transaction { tx in
                if try await tx.get(account(0)) == nil {
                    for i in 0..<accounts { tx.put(account(i), Array(String(initial).utf8)) }
                }
            }
            var rng = SplitMix(seed: UInt64(id) &* 7919 &+ UInt64(getpid()))
            let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
            var transfers = 0
            var retries = 0
            var n = 0
            while ContinuousClock.now < deadline {
                n += 1
                let from = Int.random(in: 0..<accounts, using: &rng)
                var to = Int.random(in: 0..<accounts - 1, using: &rng)
                if to >= from { to += 1 }
                let amount = Int.random(in: 1...50, using: &rng)
                let xfer = Array("xfer/\(id)/\(n)".utf8)
                var attempt = 0
                while true {
                    attempt += 1
                    do {
                        let (moved, seq) = try await engine.write { tx -> Bool in
                            let a = int(try await tx.get(account(from)))
                            let b = int(try await tx.get(account(to)))
                            guard a >= amount else { return false }
                            tx.put(account(from), Array(String(a - amount).utf8))
                            tx.put(account(to), Array(String(b + amount).utf8))
                            tx.put(xfer, Array("\(from)>\(to):\(amount)".utf8))
                            return true
                        }
                        if moved {
                            transfers += 1
                            print("OK \(seq) xfer/\(id)/\(n)")
                            fflush(nil)
                        }
                        break
                    } catch EngineError.serializationFailure where attempt < 200 {
                        retries += 1
                        try await engine.refresh()
                        try? await Task.sleep(for: .microseconds(Int.random(in: 0...(200 << min(attempt, 6)), using: &rng)))
                    }
                }
                if n % 25 == 0 {
                    let total = try await engine.snapshot().scan(.prefix(Array("acct/".utf8))).reduce(0) { $0 + int($1.value) }
                    if total != expectedTotal {
                        print("BROKEN total=\(total)")
                        throw ExitCode(2)
                    }
                }
            }
            await engine.close()
            print("DONE transfers=\(transfers) retries=\(retries)")
        }
    }

    /// Commits one key at a time at a steady pace, printing `ACK seq micros` (wall
    /// clock) as each commit is acknowledged: the writer of the replica-lag test.
    struct Writer: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "writer")
        @Argument var db: String
        @Option var count: Int = 10
        @Option(name: .customLong("interval-ms")) var intervalMs: Int = 300

        func run() async throws {
            let engine = try await openEngine(db)
            print("READY \(engine.head)")
            fflush(nil)
            for n in 0..<count {
                try await Task.sleep(for: .milliseconds(intervalMs))
                let seq = try await engine.put(Array("lag/\(n)".utf8), Array("\(n)".utf8))
                print("ACK \(seq) \(wallMicros())")
                fflush(nil)
            }
            await engine.close()
        }
    }
}

/// One writer process of `bench s3`'s multi-process workload: opens the database,
/// prints `READY`, waits until the file `--go` exists, then `--writers` tasks commit
/// one small row each as fast as they can for `--seconds`, and it prints `COMMITS n`.
struct Load: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "load")
    @Argument var db: String
    @Option var writers: Int = 16
    @Option var seconds: Double = 3
    @Option(help: "Start once this file exists.") var go: String
    @Option(help: "Relay commits through a TCP port on this host address (EngineOptions.relayHost).") var relay: String?

    func run() async throws {
        var options = EngineOptions()
        options.writerName = "load\(getpid())"
        options.relayHost = relay
        let engine = try await openEngine(db, options: options)
        print("READY")
        fflush(nil)
        while access(go, F_OK) != 0 { try await Task.sleep(for: .milliseconds(1)) }
        let end = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        let row = [UInt8](repeating: 0x61, count: 100)
        let pid = getpid()
        let total = try await withThrowingTaskGroup(of: Int.self) { group in
            for w in 0..<writers {
                group.addTask {
                    var n = 0
                    while ContinuousClock.now < end {
                        _ = try await engine.put(Array("p\(pid)/w\(w)/\(n)".utf8), row)
                        n += 1
                    }
                    return n
                }
            }
            return try await group.reduce(0, +)
        }
        let stats = engine.statistics
        print("RELAY to=\(stats.relayingTo ?? "-") served=\(stats.relayedIn)")
        print("COMMITS \(total)")
        await engine.close()
    }
}

/// The reader of the replica-lag test: polls the log every `--poll-ms`, printing
/// `SEEN head micros` whenever its head moves, and measures the poller's round trip
/// meanwhile (a GET of an absent log key every 20 ms), printing `TRIP start end`.
/// Stops once the head reaches `--until` or after `--seconds`.
struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "watch")
    @Argument var db: String
    @Option(name: .customLong("poll-ms")) var pollMs: Int = 200
    @Option var until: UInt64
    @Option var seconds: Double = 60

    func run() async throws {
        var options = EngineOptions()
        options.pollInterval = .milliseconds(pollMs)
        let store = try openStore(db)
        let engine = try await Engine.open(store, options: options)
        let prober = Task {
            while !Task.isCancelled {
                let start = wallMicros()
                _ = try? await store.getIfPresent("log/main/99999999999999999999")
                print("TRIP \(start) \(wallMicros())")
                // How late a 20 ms sleep wakes up: what a loaded machine adds to every wait here.
                let asleep = wallMicros()
                try? await Task.sleep(for: .milliseconds(20))
                print("SLEPT \(asleep) \(wallMicros())")
                fflush(nil)
            }
        }
        print("SEEN \(engine.head) \(wallMicros())")
        fflush(nil)
        var last = engine.head
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while last < until && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(1))
            let head = engine.head
            if head != last {
                print("SEEN \(head) \(wallMicros())")
                fflush(nil)
                last = head
            }
        }
        prober.cancel()
        if let e = engine.lastPollError { print("POLL-ERROR \(e)") }
        await engine.close()
    }
}

/// Microseconds since 1970 by the wall clock, comparable between processes on one machine.
func wallMicros() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec / 1000)
}
