import NIOCore
import StrataEngine
import StrataSQL

/// One client connection: the startup handshake, then messages in order, each
/// answered in full before the next is read. Owns its SQL session.
struct PostgresConnection {
    let server: PostgresServer
    let control: ConnectionControl
    let processID: Int32
    let secretKey: Int32

    /// Serves the connection until the client terminates or breaks the protocol.
    func run(_ channel: NIOAsyncChannel<FrontendMessage, ByteBuffer>) async throws {
        try await channel.executeThenClose { inbound, outbound in
            var messages = inbound.makeAsyncIterator()
            let out = BackendOutput(outbound, allocator: channel.channel.allocator)
            do {
                guard let session = try await startup(&messages, out) else {
                    try await out.flush()
                    return
                }
                try await out.flush()
                try await serve(session, &messages, out)
            } catch let violation as ProtocolViolation {
                // Broken framing or a message that makes no sense: say why, then hang up.
                out.writer.report(severity: "FATAL", sqlState: "08P01", violation.message)
                try? await out.flush()
            }
        }
    }

    /// The startup phase: answers SSL and GSS requests with `N` (no encryption),
    /// handles a cancel request, and opens a session for a StartupMessage.
    private func startup(
        _ messages: inout NIOAsyncChannelInboundStream<FrontendMessage>.AsyncIterator, _ out: BackendOutput
    ) async throws -> Session? {
        while let message = try await messages.next() {
            switch message {
            case .sslRequest, .gssEncryptionRequest:
                // The client reads the answer before it sends the StartupMessage.
                out.writer.buffer.writeInteger(UInt8(ascii: "N"))
                try await out.flush()
            case .cancelRequest(let pid, let key):
                server.cancel(processID: pid, secretKey: key)
                return nil
            case .startup(_, let parameters):
                return try open(parameters, &out.writer)
            case .message:
                throw ProtocolViolation("expected a startup message")
            }
        }
        return nil
    }

    private func open(_ parameters: [String: String], _ out: inout BackendWriter) throws -> Session? {
        guard let user = parameters["user"], !user.isEmpty else {
            out.report(severity: "FATAL", sqlState: "28000", "no PostgreSQL user name specified in startup packet")
            return nil
        }
        let database = parameters["database"] ?? user
        guard database == server.configuration.database else {
            out.report(severity: "FATAL", sqlState: "3D000", "database \"\(database)\" does not exist")
            return nil
        }
        let session = server.makeSession()
        session.settings["application_name"] = parameters["application_name"] ?? ""
        out.authenticationOk()
        let statuses: [(String, String)] = [
            ("server_version", "15.0"), ("server_encoding", "UTF8"), ("client_encoding", "UTF8"),
            ("DateStyle", "ISO, MDY"), ("TimeZone", "UTC"), ("IntervalStyle", "postgres"), ("integer_datetimes", "on"),
            ("standard_conforming_strings", "on"), ("is_superuser", "on"), ("session_authorization", user),
            ("application_name", parameters["application_name"] ?? ""),
        ]
        for (name, value) in statuses { out.parameterStatus(name, value) }
        out.backendKeyData(processID: processID, secretKey: secretKey)
        out.readyForQuery(UInt8(ascii: "I"))
        return session
    }

    /// The message loop after startup.
    private func serve(
        _ session: Session, _ messages: inout NIOAsyncChannelInboundStream<FrontendMessage>.AsyncIterator,
        _ output: BackendOutput
    ) async throws {
        let connection = PostgresSession(session: session, out: output)
        do {
            while true {
                control.busy.store(false, ordering: .releasing)
                if server.shuttingDown.load(ordering: .relaxed) {
                    output.writer.report(severity: "FATAL", sqlState: "57P01", "terminating connection due to administrator command")
                    try await output.flush()
                    break
                }
                guard let message = try await messages.next() else { break }
                control.busy.store(true, ordering: .releasing)
                guard case .message(let type, var body) = message else { throw ProtocolViolation("unexpected startup packet") }
                let more = try await connection.handle(type: type, body: &body)
                // Replies go out at Sync, Flush and after a simple query; an extended-protocol
                // exchange's messages are answered together.
                if !more || type == UInt8(ascii: "S") || type == UInt8(ascii: "H") || type == UInt8(ascii: "Q") {
                    try await output.flush()
                }
                if !more { break }
            }
        } catch {
            await connection.close()
            throw error
        }
        // An open transaction the client did not finish is rolled back.
        await connection.close()
    }
}

/// The reply being built for the client, and the channel it goes out on.
final class BackendOutput {
    var writer: BackendWriter
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>

    init(_ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, allocator: ByteBufferAllocator) {
        self.outbound = outbound
        writer = BackendWriter(allocator: allocator)
    }

    /// Sends what has been written so far.
    func flush() async throws {
        guard writer.buffer.readableBytes > 0 else { return }
        try await outbound.write(writer.buffer)
        writer.buffer.clear()
    }
}
