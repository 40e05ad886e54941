/// What the runner needs from a database under test.
public protocol SLTDatabase {
    /// Runs a statement; throws when the database reports an error.
    func execute(_ sql: String) async throws
    /// Runs a query and returns its rows.
    func query(_ sql: String) async throws -> [[SLTValue]]
}

/// The outcome of running records: counts, and a message per failure.
public struct SLTReport: Equatable, Sendable {
    /// Records that behaved as expected.
    public var passed = 0
    /// Records that did not.
    public var failed = 0
    /// Records excluded for this engine, or after `halt`.
    public var skipped = 0
    /// `line N: what went wrong`, one per failed record.
    public var failures: [String] = []

    /// An empty report.
    public init() {}

    /// Adds another report's counts and failures.
    public mutating func add(_ other: SLTReport) {
        passed += other.passed
        failed += other.failed
        skipped += other.skipped
        failures += other.failures
    }

    /// `N passed, N failed, N skipped`.
    public var summary: String { "\(passed) passed, \(failed) failed, \(skipped) skipped" }
}

/// Runs sqllogictest records against a database with the reference runner's rules.
public enum SLTRunner {
    /// Runs `records` in order. A record after `halt` counts as skipped.
    public static func run(_ records: [SLTRecord], on db: some SLTDatabase) async -> SLTReport {
        var report = SLTReport()
        var threshold = 8
        var labels: [String: String] = [:]
        var halted = false
        for (n, record) in records.enumerated() {
            // Thousands of records in one call: let other tasks on the pool run.
            if n % 32 == 31 { await Task.yield() }
            if halted {
                if case .statement = record { report.skipped += 1 }
                if case .query = record { report.skipped += 1 }
                continue
            }
            switch record {
            case .halt:
                halted = true
            case .hashThreshold(let n):
                threshold = n
            case .skipped:
                report.skipped += 1
            case .statement(let sql, let expectError, let line):
                do {
                    try await db.execute(sql)
                    if expectError {
                        fail(&report, line, "statement succeeded but an error was expected")
                    } else {
                        report.passed += 1
                    }
                } catch {
                    if expectError {
                        report.passed += 1
                    } else {
                        fail(&report, line, "statement failed: \(error)")
                    }
                }
            case .query(let q):
                do {
                    let rows = try await db.query(q.sql)
                    if let bad = rows.first(where: { $0.count != q.types.count }) {
                        fail(&report, q.line, "expected \(q.types.count) columns, got \(bad.count)")
                        continue
                    }
                    let values = SLTResult.values(rows, types: q.types, sort: q.sort)
                    let hash = SLTResult.hash(values)
                    var problem: String?
                    switch q.expected {
                    case .hash(let count, let md5):
                        if count != values.count || md5 != hash {
                            problem = "expected \(count) values hashing to \(md5), got \(values.count) hashing to \(hash)"
                        }
                    case .values(let expected):
                        if expected != values {
                            let shown = values.count > threshold ? "\(values.count) values hashing to \(hash)" : values.joined(separator: " ")
                            problem = "expected \(expected.prefix(12).joined(separator: " ")), got \(shown.prefix(300))"
                        }
                    }
                    if problem == nil, let label = q.label {
                        if let earlier = labels[label], earlier != hash {
                            problem = "result differs from an earlier query labelled \(label)"
                        }
                        labels[label] = hash
                    }
                    if let problem { fail(&report, q.line, problem) } else { report.passed += 1 }
                } catch {
                    fail(&report, q.line, "query failed: \(error)")
                }
            }
        }
        return report
    }

    private static func fail(_ report: inout SLTReport, _ line: Int, _ message: String) {
        report.failed += 1
        report.failures.append("line \(line): \(message)")
    }
}
