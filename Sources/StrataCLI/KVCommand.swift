import ArgumentParser
import StrataEngine

/// `strata kv DB VERB ...`: the key-value engine from the command line.
struct KVCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kv", abstract: "Read and write keys of the key-value engine.",
        discussion: """
            strata kv DB put KEY VALUE      set KEY in one durable commit
            strata kv DB get KEY [--at SEQ] print the value (exit 1 when absent)
            strata kv DB delete KEY         delete KEY in one durable commit
            strata kv DB scan [PREFIX] [--at SEQ] [--reverse] [--limit N]
            strata kv DB history KEY        every version, newest first
            """)

    @Argument(help: "Database: a directory or s3://bucket/prefix?endpoint=...&region=...") var db: String
    @Argument(help: "put, get, delete, scan or history.") var verb: String
    @Argument(help: "The verb's key, value or prefix.") var operands: [String] = []
    @Option(help: "Read the state after this commit sequence number.") var at: UInt64?
    @Flag(help: "Scan in descending key order.") var reverse = false
    @Option(help: "Scan at most this many rows.") var limit: Int = .max

    func validate() throws {
        let counts = ["put": 2...2, "get": 1...1, "delete": 1...1, "scan": 0...1, "history": 1...1]
        guard let range = counts[verb] else { throw ValidationError("unknown verb '\(verb)': use put, get, delete, scan or history") }
        guard range.contains(operands.count) else { throw ValidationError("'\(verb)' takes \(range.lowerBound == range.upperBound ? "\(range.lowerBound)" : "\(range.lowerBound) or \(range.upperBound)") operand(s)") }
    }

    func run() async throws {
        let engine = try await openEngine(db)
        let key = Array((operands.first ?? "").utf8)
        switch verb {
        case "put":
            print("committed \(try await engine.put(key, Array(operands[1].utf8)))")
        case "delete":
            print("committed \(try await engine.delete(key))")
        case "get":
            guard let value = try await engine.get(key, at: at) else {
                printError("\(operands[0]): not found")
                throw ExitCode(1)
            }
            print(display(value))
        case "scan":
            for r in try await engine.scan(.prefix(key), at: at, reverse: reverse, limit: limit) {
                print("\(display(r.key))\t\(display(r.value))")
            }
        default:
            for v in try await engine.history(key) {
                let value = v.kind == .put ? display(v.value) : ""
                print("\(v.seq)\t\(formatTimestamp(v.timestamp))\t\(v.kind == .put ? "put" : "delete")\t\(value)")
            }
        }
        await engine.close()
    }
}

/// `strata log DB`: one line per log entry.
struct LogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log", abstract: "List the commit log: sequence, timestamp, writer, hash, kind.")
    @Argument(help: "Database: a directory or s3://bucket/prefix?endpoint=...&region=...") var db: String
    @Option(help: "Start at this sequence number.") var from: UInt64 = 1

    func run() async throws {
        let store = try openStore(db)
        for r in try await Engine.log(store, from: from) {
            print("\(r.seq)\t\(formatTimestamp(r.timestamp))\t\(r.writer)\t\(r.hash.hex)\t\(r.kind)\(r.kind == "commit" ? " \(r.writes) key(s)" : "")\(r.relayed > 0 ? ", \(r.relayed) relayed" : "")")
        }
    }
}

/// `strata verify DB`: checks every hash and the whole chain.
struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every object's hash, the log's hash chain and every segment; exit 1 naming what is wrong.")
    @Argument(help: "Database: a directory or s3://bucket/prefix?endpoint=...&region=...") var db: String

    func run() async throws {
        let store = try openStore(db)
        let report = try await Engine.verify(store)
        for p in report.problems { print("problem: \(p)") }
        print("verified \(report.entries) log entries, \(report.objects) objects, \(report.segments) segments: \(report.isValid ? "ok" : "\(report.problems.count) problem(s)")")
        if !report.isValid { throw ExitCode(1) }
    }
}
