import ArgumentParser
import Foundation
import StrataEngine
import StrataSLT
import StrataSQL
import StrataStore

/// A sqllogictest database over a fresh in-memory Strata database.
final class StrataSLTDatabase: SLTDatabase {
    let session: Session

    init(session: Session) { self.session = session }

    static func open() async throws -> StrataSLTDatabase {
        StrataSLTDatabase(session: Session(engine: try await Engine.open(MemoryStore())))
    }

    func execute(_ sql: String) async throws { _ = try await session.execute(sql) }

    func query(_ sql: String) async throws -> [[SLTValue]] {
        guard let result = try await session.execute(sql).last else { return [] }
        return result.rows.map { row in
            row.map { v in
                switch v {
                case .null: .null
                case .int(let i): .integer(i)
                case .double(let d): .real(d)
                case .numeric(let d): .real(Double(d.description) ?? .nan)
                case .bool(let b): .bool(b)
                default: .text(v.text ?? "")
                }
            }
        }
    }
}

/// `strata slt FILE...`: runs sqllogictest files against fresh in-memory databases.
struct SLTCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slt",
        abstract: "Run sqllogictest files (engine name: postgresql) and print per-file and total counts."
    )

    @Argument(help: "sqllogictest files or directories holding *.test files.")
    var paths: [String]

    @Option(help: "Print at most this many failures per file.")
    var failures = 5

    mutating func run() async throws {
        var files: [String] = []
        for p in paths {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: p, isDirectory: &isDir), isDir.boolValue {
                let found = FileManager.default.enumerator(atPath: p)?.compactMap { $0 as? String }.filter { $0.hasSuffix(".test") } ?? []
                files += found.sorted().map { p + "/" + $0 }
            } else {
                files.append(p)
            }
        }
        var total = SLTReport()
        for file in files {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            let records = try SLTParser.parse(text, engine: "postgresql")
            let db = try await StrataSLTDatabase.open()
            let started = ContinuousClock.now
            let report = await SLTRunner.run(records, on: db)
            let seconds = (ContinuousClock.now - started).components
            print("\(file): \(report.summary) (\(seconds.seconds).\(String(format: "%02d", seconds.attoseconds / 10_000_000_000_000_000))s)")
            for f in report.failures.prefix(failures) { print("  " + f) }
            total.passed += report.passed
            total.failed += report.failed
            total.skipped += report.skipped
        }
        print("total: \(total.summary)")
        if total.failed > 0 { throw ExitCode(1) }
    }
}
