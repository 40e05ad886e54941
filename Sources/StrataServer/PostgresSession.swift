import NIOCore
import StrataEngine
import StrataSQL

/// A connection after startup: its SQL session, its prepared statements and portals,
/// and the reply being built. Handles one frontend message at a time.
final class PostgresSession {
    let session: Session
    let out: BackendOutput
    private var statements: [String: Prepared] = [:]
    private var portals: [String: Portal] = [:]
    /// After an error in an extended-protocol exchange, messages up to Sync are ignored.
    private var skipUntilSync = false
    /// The COPY FROM STDIN under way, if any.
    var copyIn: CopyInProgress?

    /// A parsed statement: nil for an empty query string, with the parameter types the client named.
    struct Prepared {
        var statement: PreparedStatement?
        var parameterTypes: [Int32]
    }

    /// A bound statement, run on its first Describe or Execute; its rows are sent as
    /// Execute asks for them.
    final class Portal {
        let prepared: Prepared
        let parameters: [SQLValue]
        let resultFormats: [Int16]
        var result: StatementResult?
        var sent = 0

        init(prepared: Prepared, parameters: [SQLValue], resultFormats: [Int16]) {
            self.prepared = prepared
            self.parameters = parameters
            self.resultFormats = resultFormats
        }
    }

    init(session: Session, out: BackendOutput) {
        self.session = session
        self.out = out
    }

    /// Handles one message; returns false when the client said goodbye.
    func handle(type: UInt8, body: inout ByteBuffer) async throws -> Bool {
        switch type {
        case UInt8(ascii: "Q"):
            guard let sql = body.readCString() else { throw ProtocolViolation("query message without a terminator") }
            skipUntilSync = false
            if await simpleQuery(sql) { out.writer.readyForQuery(status) }
        case UInt8(ascii: "X"):
            return false
        case UInt8(ascii: "S"):
            skipUntilSync = false
            portals[""] = nil
            out.writer.readyForQuery(status)
        case UInt8(ascii: "H"):
            break
        case UInt8(ascii: "d"), UInt8(ascii: "c"), UInt8(ascii: "f"):
            try await copyMessage(type, &body)
        case UInt8(ascii: "P"), UInt8(ascii: "B"), UInt8(ascii: "D"), UInt8(ascii: "E"), UInt8(ascii: "C"):
            if skipUntilSync { return true }
            do {
                try await extended(type, &body)
            } catch let violation as ProtocolViolation {
                throw violation
            } catch {
                report(error)
                skipUntilSync = true
            }
        default:
            throw ProtocolViolation("invalid frontend message type \(type)")
        }
        return true
    }

    /// Rolls back what the client left open.
    func close() async {
        if session.inTransaction { _ = try? await session.execute("ROLLBACK") }
    }

    var status: UInt8 {
        if session.isTransactionFailed { return UInt8(ascii: "E") }
        return session.inTransaction ? UInt8(ascii: "T") : UInt8(ascii: "I")
    }

    // MARK: Simple query

    /// Runs every statement of a simple Query message, stopping at the first error; false
    /// when a COPY FROM STDIN now waits for the client's data (ReadyForQuery comes after it).
    private func simpleQuery(_ sql: String) async -> Bool {
        switch await session.cachedStatement(sql) {
        case .prepared(let prepared, let values):
            do {
                try send(try await session.execute(prepared, values))
            } catch {
                report(error)
            }
            return true
        case .parsed(let statement):
            return await run([statement][...])
        case nil:
            break
        }
        let statements: [Statement]
        do {
            statements = try Parser.parse(sql)
        } catch {
            report(error)
            return true
        }
        if statements.isEmpty {
            out.writer.emptyQueryResponse()
            return true
        }
        return await run(statements[...])
    }

    /// Runs statements of a simple Query; false when a COPY FROM STDIN paused them.
    func run(_ statements: ArraySlice<Statement>) async -> Bool {
        for (i, statement) in zip(statements.indices, statements) {
            do {
                if case .copy(let copy) = statement {
                    if copy.isFrom {
                        try await beginCopyIn(copy, then: statements[(i + 1)...])
                        return false
                    }
                    try await copyOut(copy)
                    continue
                }
                try dropPrepared(statement)
                try send(try await session.execute(statement))
            } catch {
                report(error)
                return true
            }
        }
        return true
    }

    /// A simple query's result: its rows (in text) and command tag.
    private func send(_ result: StatementResult) throws {
        if returnsRows(result) {
            out.writer.rowDescription(result.columns, formats: [])
            for row in result.rows { try out.writer.dataRow(row, types: result.columns, formats: []) }
        }
        out.writer.commandComplete(result.tag)
    }

    private func returnsRows(_ result: StatementResult) -> Bool {
        !result.columns.isEmpty || result.tag.hasPrefix("SELECT")
    }

    // MARK: Extended query

    private func extended(_ type: UInt8, _ body: inout ByteBuffer) async throws {
        switch type {
        case UInt8(ascii: "P"): try parse(&body)
        case UInt8(ascii: "B"): try bind(&body)
        case UInt8(ascii: "D"): try await describe(&body)
        case UInt8(ascii: "E"): try await execute(&body)
        default: try closeObject(&body)
        }
    }

    private func parse(_ body: inout ByteBuffer) throws {
        guard let name = body.readCString(), let sql = body.readCString(), let count = body.readInteger(as: Int16.self),
            count >= 0, let types = body.readArray(count: Int(count), as: Int32.self)
        else { throw ProtocolViolation("malformed Parse message") }
        if !name.isEmpty, statements[name] != nil {
            throw SQLError(SQLError.Code(sqlState: "42P05", name: "duplicate prepared statement"), "prepared statement \"\(name)\" already exists")
        }
        let statement = try Parser.parseAtMostOne(sql).map { PreparedStatement(statement: $0, sql: sql) }
        statements[name] = Prepared(statement: statement, parameterTypes: types)
        out.writer.message(UInt8(ascii: "1")) { _ in }
    }

    private func bind(_ body: inout ByteBuffer) throws {
        guard let portalName = body.readCString(), let statementName = body.readCString(),
            let formatCount = body.readInteger(as: Int16.self), formatCount >= 0,
            let formats = body.readArray(count: Int(formatCount), as: Int16.self),
            let valueCount = body.readInteger(as: Int16.self), valueCount >= 0
        else { throw ProtocolViolation("malformed Bind message") }
        guard let prepared = statements[statementName] else {
            throw SQLError(SQLError.Code(sqlState: "26000", name: "invalid SQL statement name"), "prepared statement \"\(statementName)\" does not exist")
        }
        guard formats.count <= 1 || formats.count == Int(valueCount) else {
            throw ProtocolViolation("Bind has \(formats.count) parameter formats for \(valueCount) parameters")
        }
        var values: [SQLValue] = []
        for i in 0..<Int(valueCount) {
            guard let length = body.readInteger(as: Int32.self), length >= -1 else { throw ProtocolViolation("malformed Bind message") }
            if length == -1 {
                values.append(.null)
                continue
            }
            guard let bytes = body.readSlice(length: Int(length)) else { throw ProtocolViolation("malformed Bind message") }
            let format = formats.isEmpty ? 0 : formats[formats.count == 1 ? 0 : i]
            let type = i < prepared.parameterTypes.count ? prepared.parameterTypes[i] : 0
            values.append(try ValueCoding.decode(bytes, type: type, binary: format == 1))
        }
        guard let resultCount = body.readInteger(as: Int16.self), resultCount >= 0,
            let resultFormats = body.readArray(count: Int(resultCount), as: Int16.self)
        else { throw ProtocolViolation("malformed Bind message") }
        if !portalName.isEmpty, portals[portalName] != nil {
            throw SQLError(SQLError.Code(sqlState: "42P03", name: "duplicate cursor"), "portal \"\(portalName)\" already exists")
        }
        portals[portalName] = Portal(prepared: prepared, parameters: values, resultFormats: resultFormats)
        out.writer.message(UInt8(ascii: "2")) { _ in }
    }

    private func describe(_ body: inout ByteBuffer) async throws {
        guard let kind = body.readInteger(as: UInt8.self), let name = body.readCString() else {
            throw ProtocolViolation("malformed Describe message")
        }
        if kind == UInt8(ascii: "S") {
            guard let prepared = statements[name] else {
                throw SQLError(SQLError.Code(sqlState: "26000", name: "invalid SQL statement name"), "prepared statement \"\(name)\" does not exist")
            }
            var parameters: [SQLType?] = []
            var columns: [ResultColumn]?
            if let statement = prepared.statement { (parameters, columns) = try await session.describe(statement) }
            let types = (0..<max(parameters.count, prepared.parameterTypes.count)).map { i -> Int32 in
                if i < prepared.parameterTypes.count && prepared.parameterTypes[i] != 0 { return prepared.parameterTypes[i] }
                // A type the client left open: what the statement's context says, else text.
                let inferred = i < parameters.count ? parameters[i] : nil
                return Int32(bitPattern: (inferred ?? .text).oid)
            }
            // Bind decodes parameters by these types from now on (a client that asked sends
            // values in the types it was told, possibly binary).
            statements[name]?.parameterTypes = types
            out.writer.message(UInt8(ascii: "t")) { b in
                b.writeInteger(Int16(types.count))
                for t in types { b.writeInteger(t) }
            }
            if let columns { out.writer.rowDescription(columns, formats: []) } else { out.writer.message(UInt8(ascii: "n")) { _ in } }
            return
        }
        guard kind == UInt8(ascii: "P") else { throw ProtocolViolation("Describe of '\(kind)'") }
        let portal = try portal(name)
        // The portal runs now, so that its columns are known; Execute sends its rows.
        let result = try await run(portal)
        if let result, returnsRows(result) {
            out.writer.rowDescription(result.columns, formats: portal.resultFormats)
        } else {
            out.writer.message(UInt8(ascii: "n")) { _ in }
        }
    }

    private func execute(_ body: inout ByteBuffer) async throws {
        guard let name = body.readCString(), let maxRows = body.readInteger(as: Int32.self) else {
            throw ProtocolViolation("malformed Execute message")
        }
        let portal = try portal(name)
        guard let result = try await run(portal) else {
            out.writer.emptyQueryResponse()
            return
        }
        if returnsRows(result) {
            let end = maxRows > 0 ? min(result.rows.count, portal.sent + Int(maxRows)) : result.rows.count
            for row in result.rows[portal.sent..<end] {
                try out.writer.dataRow(row, types: result.columns, formats: portal.resultFormats)
            }
            portal.sent = end
            if end < result.rows.count {
                out.writer.message(UInt8(ascii: "s")) { _ in }
                return
            }
        }
        out.writer.commandComplete(result.tag)
    }

    private func closeObject(_ body: inout ByteBuffer) throws {
        guard let kind = body.readInteger(as: UInt8.self), let name = body.readCString() else {
            throw ProtocolViolation("malformed Close message")
        }
        if kind == UInt8(ascii: "S") { statements[name] = nil } else { portals[name] = nil }
        out.writer.message(UInt8(ascii: "3")) { _ in }
    }

    private func portal(_ name: String) throws -> Portal {
        guard let portal = portals[name] else {
            throw SQLError(SQLError.Code(sqlState: "34000", name: "invalid cursor name"), "portal \"\(name)\" does not exist")
        }
        return portal
    }

    /// `DEALLOCATE` drops this connection's prepared statements (the session then gives its tag).
    private func dropPrepared(_ statement: Statement) throws {
        guard case .deallocate(let name) = statement else { return }
        guard let name else {
            statements.removeAll()
            return
        }
        guard statements.removeValue(forKey: name) != nil else {
            throw SQLError(SQLError.Code(sqlState: "26000", name: "invalid SQL statement name"), "prepared statement \"\(name)\" does not exist")
        }
    }

    /// The portal's result, running its statement the first time; nil for an empty query.
    private func run(_ portal: Portal) async throws -> StatementResult? {
        if let result = portal.result { return result }
        guard let statement = portal.prepared.statement else { return nil }
        try dropPrepared(statement.statement)
        let result = try await session.execute(statement, portal.parameters)
        portal.result = result
        return result
    }

    // MARK: Errors

    func report(_ error: any Error) {
        switch error {
        case let e as SQLError:
            out.writer.report(severity: "ERROR", sqlState: e.sqlState, e.message, position: e.location.map { $0.offset + 1 })
        case let e as EngineError:
            out.writer.report(severity: "ERROR", sqlState: e.code.sqlState, e.message)
        case let e as any CodedError:
            out.writer.report(severity: "ERROR", sqlState: e.code.sqlState, "\(e)")
        default:
            out.writer.report(severity: "ERROR", sqlState: "XX000", "\(error)")
        }
    }
}

extension ByteBuffer {
    /// Reads `count` big-endian integers; nil when the buffer is too short.
    mutating func readArray<T: FixedWidthInteger>(count: Int, as: T.Type) -> [T]? {
        guard count >= 0, readableBytes >= count * MemoryLayout<T>.size else { return nil }
        return (0..<count).map { _ in readInteger(as: T.self)! }
    }
}
