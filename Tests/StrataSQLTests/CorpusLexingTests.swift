import Foundation
import StrataSQL
import Testing

/// The statements of a sqllogictest file: the SQL after `statement …` and `query …`
/// lines, up to `----` or a blank line.
func sqlStatements(inFile path: String) throws -> [String] {
    let text = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: "\r\n", with: "\n")
    var out: [String] = []
    for record in text.components(separatedBy: "\n\n") {
        var lines = record.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines.removeAll { $0.hasPrefix("#") || $0.hasPrefix("skipif") || $0.hasPrefix("onlyif") }
        guard let head = lines.first, head.hasPrefix("statement") || head.hasPrefix("query") else { continue }
        let body = lines.dropFirst().prefix { $0 != "----" }
        out.append(body.joined(separator: "\n"))
    }
    return out
}

/// The shared sqllogictest corpus beside the repository: its directory and its `.test`
/// files (relative paths); fails the test when the corpus is not there.
func corpusFiles() throws -> (root: String, files: [String]) {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../shared/slt").standardized.path
    let files = FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String }.filter { $0.hasSuffix(".test") } ?? []
    try #require(files.count >= 10, "the corpus is expected beside the repository at \(root)")
    return (root, files)
}

@Suite struct CorpusLexingTests {
    /// Every statement of the shared sqllogictest corpus tokenizes.
    @Test func everyCorpusStatementTokenizes() throws {
        let (root, files) = try corpusFiles()
        var statements = 0
        for file in files {
            for sql in try sqlStatements(inFile: root + "/" + file) {
                statements += 1
                do {
                    _ = try Lexer.tokenize(sql)
                } catch {
                    Issue.record("\(file): \(error) in: \(sql.prefix(120))")
                }
            }
        }
        #expect(statements > 10_000)
    }
}
