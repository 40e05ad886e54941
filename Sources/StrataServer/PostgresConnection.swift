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

    /// Serves the connection until the client terminates or breaks the protocol, then closes it.
    func run(_ channel: any Channel, _ inbox: MessageInbox) async throws {
        defer { channel.close(promise: nil) }
        let out = BackendOutput(channel)
        do {
            guard let session = try await startup(inbox, out) else {
                try await out.flush()
                return
            }
            // The session was counted for its role's connection limit when it logged in.
            defer { server.endLogin(session.user ?? "") }
            try await out.flush()
            try await serve(session, inbox, out)
        } catch let violation as ProtocolViolation {
            // Broken framing or a message that makes no sense: say why, then hang up.
            out.writer.report(severity: "FATAL", sqlState: "08P01", violation.message)
            try? await out.flush()
        }
    }

    /// The startup phase: answers an SSL request with `S` and TLS when the server has a
    /// certificate (`N` otherwise, and for GSS requests), handles a cancel request, and
    /// opens a session for a StartupMessage.
    private func startup(
        _ messages: MessageInbox, _ out: BackendOutput
    ) async throws -> Session? {
        var secured = false
        while let message = try await messages.next() {
            switch message {
            case .sslRequest where !secured && server.configuration.tls != nil:
                try await control.startTLS(server.configuration.tls!)
                secured = true
            case .sslRequest where secured:
                throw ProtocolViolation("SSLRequest after TLS has started")
            case .sslRequest, .gssEncryptionRequest:
                // The client reads the answer before it sends the StartupMessage.
                out.writer.buffer.writeInteger(UInt8(ascii: "N"))
                try await out.flush()
            case .cancelRequest(let pid, let key):
                server.cancel(processID: pid, secretKey: key)
                return nil
            case .startup(_, let parameters):
                if server.configuration.requireTLS && !secured {
                    out.writer.report(severity: "FATAL", sqlState: "28000", "this server accepts TLS connections only (use sslmode=require)")
                    return nil
                }
                return try await open(parameters, messages, out)
            case .message:
                throw ProtocolViolation("expected a startup message")
            }
        }
        return nil
    }

    private func open(
        _ parameters: [String: String], _ messages: MessageInbox,
        _ output: BackendOutput
    ) async throws -> Session? {
        guard let user = parameters["user"], !user.isEmpty else {
            output.writer.report(severity: "FATAL", sqlState: "28000", "no PostgreSQL user name specified in startup packet")
            return nil
        }
        let database = parameters["database"] ?? user
        guard database == server.configuration.database else {
            output.writer.report(severity: "FATAL", sqlState: "3D000", "database \"\(database)\" does not exist")
            return nil
        }
        let session = server.makeSession()
        var limit: Int? = nil
        if !server.configuration.trust {
            guard let role = try await authenticate(user, session, messages, output) else { return nil }
            limit = role.connectionLimit
        }
        guard server.beginLogin(user, limit: limit) else {
            output.writer.report(severity: "FATAL", sqlState: "53300", "too many connections for role \"\(user)\"")
            return nil
        }
        session.user = user
        session.database = server.configuration.database
        session.settings["application_name"] = parameters["application_name"] ?? ""
        output.writer.authenticationOk()
        let statuses: [(String, String)] = [
            ("server_version", "15.0"), ("server_encoding", "UTF8"), ("client_encoding", "UTF8"),
            ("DateStyle", "ISO, MDY"), ("TimeZone", "UTC"), ("IntervalStyle", "postgres"), ("integer_datetimes", "on"),
            ("standard_conforming_strings", "on"), ("is_superuser", "on"), ("session_authorization", user),
            ("application_name", parameters["application_name"] ?? ""),
        ]
        for (name, value) in statuses { output.writer.parameterStatus(name, value) }
        output.writer.backendKeyData(processID: processID, secretKey: secretKey)
        output.writer.readyForQuery(UInt8(ascii: "I"))
        return session
    }

    /// SCRAM-SHA-256 against the role's secret in the database. A role that does not
    /// exist, may not log in or has no password goes through the same exchange against a
    /// secret nobody knows, so the client learns only "wrong"; the log says why. A failed
    /// login is answered only after a pause, to slow down password guessing.
    private func authenticate(
        _ user: String, _ session: Session,
        _ messages: MessageInbox, _ output: BackendOutput
    ) async throws -> LoginRole? {
        let role = try await session.currentRoles()[user]
        var exchange = ScramExchange(secret: role?.secret ?? ScramSecret.mock(user: user, key: server.mockSecretKey))
        output.writer.authenticationSASL(["SCRAM-SHA-256"])
        try await output.flush()
        do {
            guard var initial = try await nextPasswordMessage(messages) else { return nil }
            guard let mechanism = initial.readNullTerminatedString(), let length = initial.readInteger(as: Int32.self),
                length >= 0, let first = initial.readBytes(length: Int(length))
            else {
                throw ScramExchange.Failure.malformed("malformed SASLInitialResponse message")
            }
            guard mechanism == "SCRAM-SHA-256" else {
                throw ScramExchange.Failure.malformed("client selected an invalid SASL authentication mechanism")
            }
            output.writer.authenticationSASL(step: 11, try exchange.clientFirst(first))
            try await output.flush()
            guard var response = try await nextPasswordMessage(messages) else { return nil }
            let final = try exchange.clientFinal(response.readBytes(length: response.readableBytes) ?? [])
            guard let role, role.secret != nil else {
                // Unreachable in practice (the mock secret's password is unknown), but never let it in.
                throw ScramExchange.Failure.wrongPassword
            }
            guard role.canLogin else {
                server.log("login refused for role \"\(user)\": the role is not permitted to log in (NOLOGIN)")
                output.writer.report(severity: "FATAL", sqlState: "28000", "role \"\(user)\" is not permitted to log in")
                return nil
            }
            output.writer.authenticationSASL(step: 12, final)
            return role
        } catch ScramExchange.Failure.malformed(let reason) {
            output.writer.report(severity: "FATAL", sqlState: "08P01", reason)
            return nil
        } catch ScramExchange.Failure.wrongPassword {
            let why = role == nil ? "the role does not exist" : role?.secret == nil ? "the role has no password" : "wrong password"
            server.log("password authentication failed for user \"\(user)\" (\(why))")
            try await Task.sleep(for: server.configuration.failedLoginDelay)
            output.writer.report(severity: "FATAL", sqlState: "28P01", "password authentication failed for user \"\(user)\"")
            return nil
        }
    }

    /// The next message, which must be a password message (`p`); nil when the client hung up.
    private func nextPasswordMessage(
        _ messages: MessageInbox
    ) async throws -> ByteBuffer? {
        guard let message = try await messages.next() else { return nil }
        guard case .message(UInt8(ascii: "p"), let body) = message else {
            throw ProtocolViolation("expected SASL response, got another message")
        }
        return body
    }

    /// The message loop after startup.
    private func serve(
        _ session: Session, _ messages: MessageInbox,
        _ output: BackendOutput
    ) async throws {
        // A CancelRequest sets it; the session clears it as each statement starts.
        session.cancelFlag = control.cancel
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
                if !more || type == UInt8(ascii: "S") || type == UInt8(ascii: "H") || type == UInt8(ascii: "Q")
                    || type == UInt8(ascii: "c") || type == UInt8(ascii: "f")
                {
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
///
/// Replies are written to the channel directly rather than through the async channel's
/// writer: the connection's task runs on the channel's event loop, where a write goes
/// straight to the socket. The writer's bookkeeping (a lock, a yield, a hand-over per
/// reply) was a seventh of the server's time under pgbench. The task waits for a write
/// only when the socket is backed up, so a client that does not read is not sent more.
final class BackendOutput {
    var writer: BackendWriter
    private let channel: any Channel

    init(_ channel: any Channel) {
        self.channel = channel
        writer = BackendWriter(allocator: channel.allocator)
    }

    /// Sends what has been written so far.
    func flush() async throws {
        guard writer.buffer.readableBytes > 0 else { return }
        let bytes = writer.buffer
        writer.buffer.clear()
        if channel.eventLoop.inEventLoop && channel.isWritable {
            channel.writeAndFlush(bytes, promise: nil)
        } else {
            try await channel.writeAndFlush(bytes).get()
        }
    }
}
