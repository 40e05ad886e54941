import ArgumentParser
import StrataEngine
import StrataStore

/// `strata backup SRC DST`: copies a database between any two stores, incrementally.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy a database to another store (directory or bucket), sending only what the copy lacks; then verify the copy.")
    @Argument(help: "The database to copy: a directory or s3:// URL.") var source: String
    @Argument(help: "Where the copy goes: a directory or s3:// URL (empty, or an earlier copy of the same database).")
    var destination: String

    func run() async throws {
        let from = try openStore(source), to = try openStore(destination)
        let report = try await Engine.backup(from: from, to: to)
        print("copied \(report.objectsCopied) objects (\(report.bytesCopied) bytes) and \(report.entriesCopied) log entries; \(report.skipped) already there")
        var problems = 0
        for branch in report.branches {
            let v = try await Engine.verify(to, branch: branch)
            for p in v.problems { print("problem: \(p)") }
            problems += v.problems.count
            print("verified branch \(branch): \(v.entries) log entries, \(v.objects) objects, \(v.segments) segments: \(v.isValid ? "ok" : "\(v.problems.count) problem(s)")")
        }
        if problems > 0 { throw ExitCode(1) }
    }
}
