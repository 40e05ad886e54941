import ArgumentParser
import StrataEngine

/// `strata demo [DB]`: the engine's main job in one run: commit, read back,
/// read an older version, list history, verify.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Commit, read back, read an older version and verify, on a local database.")
    @Argument(help: "Database directory.") var db: String = "./strata-data"

    func run() async throws {
        let engine = try await openEngine(db)
        print("opened \(db) at commit \(engine.head)")
        let key = Array("greeting".utf8)
        let before = try await engine.transactionWithSequence { tx in
            tx.put(key, Array("hello".utf8))
            tx.put(Array("visits".utf8), Array(String((Int(display(try await tx.get(Array("visits".utf8)) ?? Array("0".utf8))) ?? 0) + 1).utf8))
        }.seq
        print("commit \(before): greeting = hello")
        let after = try await engine.put(key, Array("hello, world".utf8))
        print("commit \(after): greeting = hello, world")
        func line(_ label: String, _ value: [UInt8]?) {
            print(label.padding(toLength: 14, withPad: " ", startingAt: 0) + "greeting = " + display(value ?? []))
        }
        line("now:", try await engine.get(key))
        line("as of \(before):", try await engine.get(key, at: before))
        print("visits = \(display(try await engine.get(Array("visits".utf8)) ?? []))")
        print("history of greeting:")
        for v in try await engine.history(key).prefix(5) {
            print("  \(v.seq)  \(formatTimestamp(v.timestamp))  \(display(v.value))")
        }
        await engine.close()
        let report = try await Engine.verify(try openStore(db))
        print("verify: \(report.entries) log entries, \(report.objects) objects: \(report.isValid ? "ok" : report.problems.joined(separator: "; "))")
        if !report.isValid { throw ExitCode(1) }
    }
}
