/// `COPY ... FROM STDIN` on a session: rows from the client are inserted as a prepared
/// INSERT would insert them (defaults, constraints, indexes), all in one transaction.
public final class CopyIn {
    let session: Session
    let insert: PreparedStatement
    /// True when the COPY runs in a transaction of its own (no BEGIN was open): it commits
    /// at ``finish()`` and rolls back on failure.
    let ownsTransaction: Bool
    /// Columns each row must have.
    public let columnCount: Int
    private var count = 0

    init(session: Session, insert: PreparedStatement, ownsTransaction: Bool, columnCount: Int) {
        self.session = session
        self.insert = insert
        self.ownsTransaction = ownsTransaction
        self.columnCount = columnCount
    }

    /// Inserts rows (text fields, nil for NULL); `line` is the first row's line, for errors.
    public func insert(_ rows: [[String?]], firstLine line: Int) async throws {
        for (offset, row) in rows.enumerated() {
            guard row.count == columnCount else {
                throw SQLError(
                    SQLError.badCopyFormat,
                    "\(row.count < columnCount ? "missing data for a column" : "extra data after last expected column") (COPY line \(line + offset))")
            }
            _ = try await session.execute(insert, row.map { $0.map(SQLValue.text) ?? .null })
            count += 1
        }
    }

    /// Ends the COPY: commits its own transaction; returns `COPY n`.
    public func finish() async throws -> StatementResult {
        if ownsTransaction { _ = try await session.execute("COMMIT") }
        return StatementResult(tag: "COPY \(count)", rowsAffected: count)
    }

    /// The COPY failed (bad data, or the client sent CopyFail): its own transaction is
    /// rolled back; an enclosing one is left failed, as after any failed statement.
    public func fail() async {
        if ownsTransaction {
            _ = try? await session.execute("ROLLBACK")
        } else {
            session.failTransaction()
        }
    }
}

extension Session {
    /// Starts `COPY table FROM STDIN`: checks the table and columns and returns the loader
    /// the server feeds rows to.
    public func beginCopyIn(_ copy: CopyStatement) async throws -> CopyIn {
        guard copy.isFrom, case .table(let name, let listed) = copy.target else {
            throw SQLError(SQLError.internalError, "not a COPY FROM")
        }
        if transactionFailed && transaction != nil {
            throw SQLError(SQLError.inFailedTransaction, "current transaction is aborted, commands ignored until end of transaction block")
        }
        let catalog = try await catalog(currentSource())
        guard let table = catalog.tables[name] else {
            throw SQLError(SQLError.undefinedTable, "relation \"\(name)\" does not exist")
        }
        let columns = listed.isEmpty ? table.visibleColumns.map { table.columns[$0].name } : listed
        for c in columns where table.column(named: c) == nil {
            throw SQLError(SQLError.undefinedColumn, "column \"\(c)\" of relation \"\(name)\" does not exist")
        }
        let sql = "INSERT INTO \(Self.quoted(name)) (\(columns.map(Self.quoted).joined(separator: ", "))) VALUES ("
            + (1...max(columns.count, 1)).map { "$\($0)" }.joined(separator: ", ") + ")"
        let insert = try prepare(sql)
        let owns = transaction == nil
        if owns { _ = try await execute("BEGIN") }
        return CopyIn(session: self, insert: insert, ownsTransaction: owns, columnCount: columns.count)
    }

    /// Runs `COPY ... TO STDOUT`'s query: the rows the server writes out, and their columns.
    public func copyOut(_ copy: CopyStatement) async throws -> StatementResult {
        switch copy.target {
        case .query(let query):
            return try await execute(.select(query))
        case .table(let name, let columns):
            let list = columns.isEmpty ? "*" : columns.map(Self.quoted).joined(separator: ", ")
            return try await execute("SELECT \(list) FROM \(Self.quoted(name))")[0]
        }
    }

    /// `name` as a quoted SQL identifier, for the statements COPY runs.
    static func quoted(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
}
