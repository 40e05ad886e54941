/// One record of a sqllogictest file.
public enum SLTRecord: Equatable, Sendable {
    /// `statement ok` / `statement error` and its SQL.
    case statement(sql: String, expectError: Bool, line: Int)
    /// `query TYPES [SORT] [LABEL]`, its SQL and expected result.
    case query(SLTQuery)
    /// `hash-threshold N`: results with more values than N are written as a hash.
    case hashThreshold(Int)
    /// A record excluded for this engine by `skipif` / `onlyif`.
    case skipped(line: Int)
    /// `halt`: stop running the file.
    case halt
}

/// How a query's result is ordered before comparison.
public enum SLTSortMode: String, Equatable, Sendable {
    /// As the engine returned it.
    case nosort
    /// Rows sorted (compared value by value as strings).
    case rowsort
    /// All values sorted individually.
    case valuesort
}

/// What a query must return: values one per line, or a count and MD5 hash of them.
public enum SLTExpected: Equatable, Sendable {
    case values([String])
    case hash(count: Int, md5: String)
}

/// A `query` record.
public struct SLTQuery: Equatable, Sendable {
    /// One letter per column: `I` integer, `R` real, `T` text.
    public var types: [Character]
    /// How the result is ordered before comparison.
    public var sort: SLTSortMode
    /// Queries sharing a label must produce the same result hash.
    public var label: String?
    /// The query text.
    public var sql: String
    /// The result it must produce.
    public var expected: SLTExpected
    /// 1-based line of the `query` line in the file.
    public var line: Int

    /// Creates a query record.
    public init(types: [Character], sort: SLTSortMode, label: String?, sql: String, expected: SLTExpected, line: Int) {
        self.types = types
        self.sort = sort
        self.label = label
        self.sql = sql
        self.expected = expected
        self.line = line
    }
}

/// An error in a sqllogictest file's format.
public struct SLTFormatError: Error, Equatable, Sendable, CustomStringConvertible {
    /// 1-based line where the problem is.
    public var line: Int
    /// What is wrong.
    public var message: String
    public var description: String { "line \(line): \(message)" }
}

/// Reads the sqllogictest format: records separated by blank lines, `#` comments,
/// `skipif`/`onlyif ENGINE` conditions (a record is kept for `engine` unless a
/// `skipif` names it or an `onlyif` names another engine), CRLF or LF line ends.
public enum SLTParser {
    /// The records of `text` as seen by `engine` (Strata runs as `postgresql`).
    public static func parse(_ text: String, engine: String = "postgresql") throws -> [SLTRecord] {
        // "\r\n" is one Character in Swift: split on it as well as on "\n".
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        var records: [SLTRecord] = []
        var i = 0
        func isBlank(_ l: Substring) -> Bool { l.allSatisfy { $0 == " " || $0 == "\t" } }
        while i < lines.count {
            if isBlank(lines[i]) || lines[i].hasPrefix("#") {
                i += 1
                continue
            }
            var keep = true
            // Conditions come first.
            while i < lines.count {
                let words = lines[i].split(separator: " ", omittingEmptySubsequences: true)
                guard let first = words.first, first == "skipif" || first == "onlyif" else { break }
                guard words.count >= 2 else { throw SLTFormatError(line: i + 1, message: "\(first) needs an engine name") }
                let named = words[1] == engine
                if (first == "skipif" && named) || (first == "onlyif" && !named) { keep = false }
                i += 1
            }
            guard i < lines.count else { break }
            let head = lines[i]
            let recordLine = i + 1
            let words = head.split(separator: " ", omittingEmptySubsequences: true)
            i += 1
            // The record's body: lines up to the next blank line.
            var body: [Substring] = []
            while i < lines.count && !isBlank(lines[i]) {
                body.append(lines[i])
                i += 1
            }
            switch words.first {
            case "statement":
                guard words.count >= 2, words[1] == "ok" || words[1] == "error" else {
                    throw SLTFormatError(line: recordLine, message: "expected 'statement ok' or 'statement error'")
                }
                records.append(keep
                    ? .statement(sql: body.joined(separator: "\n"), expectError: words[1] == "error", line: recordLine)
                    : .skipped(line: recordLine))
            case "query":
                guard words.count >= 2, words[1].allSatisfy({ "IRT".contains($0) }) else {
                    throw SLTFormatError(line: recordLine, message: "query needs column types made of I, R and T")
                }
                var sort = SLTSortMode.nosort
                if words.count >= 3 {
                    guard let s = SLTSortMode(rawValue: String(words[2])) else {
                        throw SLTFormatError(line: recordLine, message: "unknown sort mode '\(words[2])'")
                    }
                    sort = s
                }
                let split = body.firstIndex(of: "----")
                let sql = body[..<(split ?? body.endIndex)].joined(separator: "\n")
                let result = split.map { Array(body[body.index(after: $0)...]) } ?? []
                var expected = SLTExpected.values(result.map(String.init))
                if result.count == 1, let hash = parseHashLine(result[0]) { expected = hash }
                guard keep else {
                    records.append(.skipped(line: recordLine))
                    continue
                }
                records.append(.query(SLTQuery(
                    types: Array(words[1]), sort: sort, label: words.count >= 4 ? String(words[3]) : nil,
                    sql: sql, expected: expected, line: recordLine)))
            case "hash-threshold":
                guard words.count == 2, let n = Int(words[1]), n >= 0 else {
                    throw SLTFormatError(line: recordLine, message: "hash-threshold needs a number")
                }
                records.append(.hashThreshold(n))
            case "halt":
                if keep { records.append(.halt) }
            default:
                throw SLTFormatError(line: recordLine, message: "unknown record '\(head.prefix(40))'")
            }
        }
        return records
    }

    /// `N values hashing to <32 hex digits>`.
    static func parseHashLine(_ line: Substring) -> SLTExpected? {
        let w = line.split(separator: " ")
        guard w.count == 5, let n = Int(w[0]), w[1] == "values", w[2] == "hashing", w[3] == "to",
              w[4].count == 32, w[4].allSatisfy(\.isHexDigit)
        else { return nil }
        return .hash(count: n, md5: w[4].lowercased())
    }
}
