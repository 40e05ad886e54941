import Foundation
import StrataSLT
import StrataSQL
import Testing

@Suite struct CorpusParsingTests {
    /// Every statement and query of the corpus that PostgreSQL runs (not skipped for the
    /// `postgresql` engine, not expected to fail) parses. The evidence files are left out:
    /// they use SQLite-only syntax (triggers, `NOT INDEXED`, `IN ()`) which PostgreSQL rejects too.
    @Test func everyPostgresCorpusStatementParses() throws {
        let (root, files) = try corpusFiles()
        var parsed = 0
        var failures = 0
        for file in files.sorted() where !file.hasPrefix("evidence/") {
            let records = try SLTParser.parse(try String(contentsOfFile: root + "/" + file, encoding: .utf8))
            for record in records {
                let sql: String
                switch record {
                case .statement(let s, let expectError, _) where !expectError: sql = s
                case .query(let q): sql = q.sql
                default: continue
                }
                do {
                    _ = try Parser.parse(sql)
                    parsed += 1
                } catch {
                    failures += 1
                    if failures <= 30 { Issue.record("\(file): \(error) in: \(sql.prefix(200))") }
                }
            }
        }
        #expect(failures == 0)
        #expect(parsed > 10_000)
    }
}
