import ArgumentParser
import Foundation
import StrataEngine
import StrataLocalServers
import StrataStore

extension BenchCommand {
    /// `strata bench s3`: durable commits on an S3-compatible server against bare PUTs
    /// of the same size on the same server, in one run.
    struct S3: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "s3",
            abstract: "s3.commit.p50/p99 (latency vs a bare PUT), s3.commits.1/8/64 (commits/s vs PUTs/s), s3.commits.64.procs4/procs8 (64 writers in 4 or 8 relaying processes), s3.commits.64.procs4.racing (without relays), requests and bytes per commit.")
        @Option(help: "The S3 endpoint, e.g. http://127.0.0.1:9000 (default: start a moto server for the run).") var endpoint: String?
        @Option(help: "The bucket to create and use (default: a new one).") var bucket: String?
        @Flag(help: "A run under a minute.") var quick = false
        @Option(help: "Seconds each throughput workload runs.") var seconds: Double?
        @Option(help: "Commits timed for the latency workload.") var commits: Int?

        func run() async throws {
            var moto: MotoServer?
            let url: String
            if let endpoint {
                url = endpoint
            } else {
                moto = try await MotoServer.start()
                url = moto!.endpoint
            }
            defer { moto?.stop() }
            let env = ProcessInfo.processInfo.environment
            let credentials = S3Credentials(
                accessKeyID: env["AWS_ACCESS_KEY_ID"] ?? "testing", secretAccessKey: env["AWS_SECRET_ACCESS_KEY"] ?? "testing",
                sessionToken: env["AWS_SESSION_TOKEN"])
            let config = try S3Configuration(
                bucket: bucket ?? "strata-bench-\(getpid())", endpoint: url, region: env["AWS_REGION"] ?? "us-east-1",
                credentials: credentials)
            let s3 = S3Store(config)
            try await s3.createBucket()
            let latencyCount = commits ?? (quick ? 200 : 1000)
            let duration = seconds ?? (quick ? 3 : 10)

            // Latency: one writer, one small row per commit; each commit is followed by a
            // bare PUT of an object as large as the log entry it wrote, so both see the
            // server in the same state.
            var options = EngineOptions()
            options.writerName = "bench"
            let engine = try await Engine.open(s3, options: options)
            var value = [UInt8](repeating: 0x61, count: 100)
            var commitTimes: [Double] = [], putTimes: [Double] = []
            let clock = ContinuousClock()
            var entrySize = 0
            for i in 0..<latencyCount {
                value[0] = UInt8(i % 251)
                let key = Array("row/\(i)".utf8)
                let t0 = clock.now
                let seq = try await engine.put(key, value)
                commitTimes.append(seconds(clock.now - t0))
                if i == 0 {
                    entrySize = try await s3.get("log/main/" + String(format: "%020llu", seq)).count
                }
                let body = [UInt8](repeating: UInt8(i % 251), count: entrySize)
                let t1 = clock.now
                try await s3.put("bench/put/\(i)", body)
                putTimes.append(seconds(clock.now - t1))
            }
            let before = s3.statistics
            for i in 0..<50 { _ = try await engine.put(Array("req/\(i)".utf8), value) }
            let after = s3.statistics
            report("s3.commit.p50", ms(percentile(commitTimes, 0.5)), "put", ms(percentile(putTimes, 0.5)), unit: "ms")
            report("s3.commit.p99", ms(percentile(commitTimes, 0.99)), "put", ms(percentile(putTimes, 0.99)), unit: "ms")
            report("s3.commit.requests", Double(after.requests - before.requests) / 50, "put", 1, unit: "")
            report(
                "s3.commit.bytes", Double(after.bytesSent - before.bytesSent) / 50, "put", Double(entrySize),
                unit: "")
            await engine.close()

            // Throughput: N writers in this process commit as fast as they can (group commit
            // shares log entries among them); the baseline is N clients doing bare PUTs.
            var putsAt64 = 0.0
            for writers in [1, 8, 64] {
                let db = S3Store(try S3Configuration(
                    bucket: config.bucket, prefix: "tput\(writers)/", endpoint: url, region: config.region,
                    credentials: credentials))
                let e = try await Engine.open(db, options: options)
                let row = value
                let strata = try await rate(writers: writers, seconds: duration) { w, n in
                    _ = try await e.put(Array("w\(w)/\(n)".utf8), row)
                }
                await e.close()
                let size = entrySize
                let puts = try await rate(writers: writers, seconds: duration) { w, n in
                    try await s3.put("bench/tput/\(writers)/\(w)/\(n)", [UInt8](repeating: 1, count: size))
                }
                report("s3.commits.\(writers)", strata, "put", puts, unit: "/s")
                if writers == 64 { putsAt64 = puts }
            }

            // The same 64 writers in four processes on one database. With the commit relay
            // (the way to run several writer processes), the processes that lose a race
            // send their transactions to the winner, whose groups carry everyone's; without
            // it ("racing"), each process's leader races the others for every log position.
            let environment = [
                "AWS_ACCESS_KEY_ID": credentials.accessKeyID, "AWS_SECRET_ACCESS_KEY": credentials.secretAccessKey,
            ].merging(credentials.sessionToken.map { ["AWS_SESSION_TOKEN": $0] } ?? [:]) { $1 }
            let runs: [(name: String, processes: Int, relay: String?)] = [
                ("s3.commits.64.procs4", 4, "127.0.0.1"), ("s3.commits.64.procs8", 8, "127.0.0.1"),
                ("s3.commits.64.procs4.racing", 4, nil),
            ]
            for run in runs {
                let strata = try await processRate(
                    processes: run.processes, writersEach: 64 / run.processes, seconds: duration,
                    database: "s3://\(config.bucket)/\(run.name)?endpoint=\(url)&region=\(config.region)&cache=none",
                    relay: run.relay, environment: environment)
                report(run.name, strata, "put", putsAt64, unit: "/s")
            }
        }

        /// Commits per second of `processes` child processes (`strata debug load`) with
        /// `writersEach` writers each, started together once all have opened the database.
        func processRate(
            processes: Int, writersEach: Int, seconds: Double, database: String, relay: String?, environment: [String: String]
        ) async throws -> Double {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("strata-bench-\(getpid())").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            let go = dir + "/go"
            let children = try (0..<processes).map { i in
                try ChildProcess(
                    executable,
                    ["debug", "load", database, "--writers", String(writersEach), "--seconds", String(seconds), "--go", go]
                        + (relay.map { ["--relay", $0] } ?? []),
                    output: dir + "/load\(i).txt", environment: environment)
            }
            while !children.allSatisfy({ $0.lines.contains("READY") }) {
                if let gone = children.first(where: \.hasExited) {
                    throw ValidationError("a load process ended before it was ready: \(gone.lines.suffix(3))")
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            _ = FileManager.default.createFile(atPath: go, contents: nil)
            var total = 0
            for child in children {
                let status = await child.wait()
                guard status == 0, let line = child.lines.last(where: { $0.hasPrefix("COMMITS ") }), let n = Int(line.dropFirst(8))
                else { throw ValidationError("a load process failed (exit \(status)): \(child.lines.suffix(3))") }
                total += n
            }
            return Double(total) / seconds
        }

        func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
        func ms(_ s: Double) -> Double { s * 1000 }

        func percentile(_ xs: [Double], _ p: Double) -> Double {
            let s = xs.sorted()
            return s[min(s.count - 1, Int(Double(s.count) * p))]
        }

        /// Operations per second of `writers` concurrent loops over `seconds`.
        func rate(writers: Int, seconds: Double, _ op: @escaping @Sendable (Int, Int) async throws -> Void) async throws -> Double {
            let clock = ContinuousClock()
            let start = clock.now
            let end = start + .milliseconds(Int(seconds * 1000))
            let total = try await withThrowingTaskGroup(of: Int.self) { group in
                for w in 0..<writers {
                    group.addTask {
                        var n = 0
                        while clock.now < end {
                            try await op(w, n)
                            n += 1
                        }
                        return n
                    }
                }
                var sum = 0
                for try await n in group { sum += n }
                return sum
            }
            return Double(total) / self.seconds(clock.now - start)
        }

        func report(_ name: String, _ strata: Double, _ baseline: String, _ base: Double, unit: String) {
            func f(_ x: Double) -> String { x >= 100 ? String(Int(x.rounded())) : String(format: "%.2f", x) }
            print("bench \(name) strata=\(f(strata))\(unit) \(baseline)=\(f(base))\(unit) ratio=\(String(format: "%.2f", strata / base))")
            fflush(nil)
        }
    }
}
