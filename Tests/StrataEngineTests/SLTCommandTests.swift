import Foundation
import Testing

/// `strata slt` over the shared sqllogictest corpus: the SQL engine's conformance check.
@Suite(.serialized) struct SLTCommandTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../shared/slt").standardized.path

    /// The numbers in a line `N passed, N failed, N skipped`.
    static func counts(_ line: Substring) -> (passed: Int, failed: Int, skipped: Int)? {
        let numbers = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        guard numbers.count >= 3 else { return nil }
        return (numbers[numbers.count - 3], numbers[numbers.count - 2], numbers[numbers.count - 1])
    }

    /// select1-3, index/* and random/* pass every record PostgreSQL runs.
    @Test func coreCorpusPassesCompletely() async throws {
        let c = Self.corpus
        let (status, output) = try await runStrata(["slt", c + "/select1.test", c + "/select2.test", c + "/select3.test", c + "/index", c + "/random"])
        let lines = output.split(separator: "\n")
        let total = try #require(lines.last { $0.hasPrefix("total:") })
        let n = try #require(Self.counts(total))
        #expect(status == 0, "\(output.suffix(2000))")
        #expect(n.failed == 0)
        #expect(n.passed > 45_000)
        #expect(lines.filter { $0.contains(".test: ") }.count == 10)
    }

    /// The evidence files run to the end; what fails there is SQLite-only syntax.
    @Test func evidenceFilesRun() async throws {
        let (status, output) = try await runStrata(["slt", Self.corpus + "/evidence", "--failures", "100"])
        let lines = output.split(separator: "\n")
        let total = try #require(lines.last { $0.hasPrefix("total:") })
        let n = try #require(Self.counts(total))
        #expect(lines.filter { $0.contains(".test: ") }.count == 12)
        #expect(n.passed >= 280)
        #expect(status == (n.failed == 0 ? 0 : 1))
        // Every failure is a SQLite-only construct: triggers, REPLACE / INSERT OR, empty IN lists, x'..' blobs.
        for line in lines where line.hasPrefix("  line ") {
            let known = ["TRIGGER", "INSERT OR", "REPLACE", "replace", "expected an expression", "'303132'"]
            #expect(known.contains { line.contains($0) }, "unexpected failure: \(line)")
        }
    }
}
