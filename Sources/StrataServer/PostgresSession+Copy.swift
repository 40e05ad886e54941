import NIOCore
import StrataSQL

/// A COPY FROM STDIN under way: where rows go, how the bytes are split into rows, and the
/// statements of the same Query message that run after it.
final class CopyInProgress {
    let loader: CopyIn
    var reader: CopyReader
    let remaining: ArraySlice<Statement>
    /// An error was reported: data is discarded until CopyDone or CopyFail.
    var failed = false

    init(loader: CopyIn, reader: CopyReader, remaining: ArraySlice<Statement>) {
        self.loader = loader
        self.reader = reader
        self.remaining = remaining
    }
}

/// COPY over the wire: CopyInResponse, then the client's CopyData until CopyDone or
/// CopyFail; CopyOutResponse, CopyData per row and CopyDone the other way.
extension PostgresSession {
    func beginCopyIn(_ copy: CopyStatement, then remaining: ArraySlice<Statement>) async throws {
        let loader = try await session.beginCopyIn(copy)
        copyIn = CopyInProgress(loader: loader, reader: CopyReader(format: copy.format), remaining: remaining)
        out.writer.message(UInt8(ascii: "G")) { body in
            body.writeInteger(UInt8(0))  // text (CSV is text too)
            body.writeInteger(Int16(loader.columnCount))
            for _ in 0..<loader.columnCount { body.writeInteger(Int16(0)) }
        }
        try await out.flush()
    }

    /// CopyData (`d`), CopyDone (`c`) or CopyFail (`f`) during a COPY FROM STDIN; outside
    /// one (a COPY that failed before it began) they are ignored, as PostgreSQL does.
    func copyMessage(_ type: UInt8, _ body: inout ByteBuffer) async throws {
        guard let copy = copyIn else { return }
        switch type {
        case UInt8(ascii: "d"):
            guard !copy.failed else { return }
            do {
                let first = copy.reader.line + 1
                let rows = try body.withUnsafeReadableBytes { try copy.reader.feed($0) }
                try await copy.loader.insert(rows, firstLine: first)
            } catch {
                await fail(copy, error)
            }
        case UInt8(ascii: "c"):
            copyIn = nil
            var more = true
            if !copy.failed {
                do {
                    let first = copy.reader.line + 1
                    try await copy.loader.insert(try copy.reader.finish(), firstLine: first)
                    out.writer.commandComplete(try await copy.loader.finish().tag)
                    more = await run(copy.remaining)
                } catch {
                    await fail(copy, error)
                }
            }
            if more { out.writer.readyForQuery(status) }
        default:
            copyIn = nil
            let reason = body.readCString() ?? ""
            if !copy.failed {
                await fail(copy, SQLError(SQLError.queryCanceled, "COPY from stdin failed: \(reason)"))
            }
            out.writer.readyForQuery(status)
        }
    }

    private func fail(_ copy: CopyInProgress, _ error: any Error) async {
        copy.failed = true
        await copy.loader.fail()
        report(error)
    }

    /// COPY ... TO STDOUT: the rows as CopyData, sent on in pieces so a large table does
    /// not sit in memory twice.
    func copyOut(_ copy: CopyStatement) async throws {
        let result = try await session.copyOut(copy)
        let writer = CopyWriter(format: copy.format)
        out.writer.message(UInt8(ascii: "H")) { body in
            body.writeInteger(UInt8(0))
            body.writeInteger(Int16(result.columns.count))
            for _ in result.columns { body.writeInteger(Int16(0)) }
        }
        if let header = writer.header(result.columns.map(\.name)) {
            out.writer.message(UInt8(ascii: "d")) { $0.writeBytes(header) }
        }
        for row in result.rows {
            let bytes = writer.row(row)
            out.writer.message(UInt8(ascii: "d")) { $0.writeBytes(bytes) }
            if out.writer.buffer.readableBytes > 1 << 20 { try await out.flush() }
        }
        out.writer.message(UInt8(ascii: "c")) { _ in }
        out.writer.commandComplete("COPY \(result.rows.count)")
    }
}
