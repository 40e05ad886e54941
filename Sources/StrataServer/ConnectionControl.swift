import NIOCore
import NIOSSL
import StrataSQL
import Synchronization

/// What the server knows of one open connection, to end it from outside its task:
/// at shutdown, or when it has been idle too long.
final class ConnectionControl: Sendable {
    let channel: any Channel
    /// The key a CancelRequest for this connection must carry (sent in BackendKeyData).
    let secretKey = Int32.random(in: 1...Int32.max)
    /// Stops the connection's running statement when a matching CancelRequest arrives.
    let cancel = CancelFlag()
    /// True while a message is being handled; an idle connection waits for the next one.
    let busy = Atomic<Bool>(false)

    init(channel: any Channel) { self.channel = channel }

    /// Answers an SSLRequest with `S` and puts TLS in front of everything that follows.
    /// Both happen in one event-loop turn, so the client's handshake, which it sends once it
    /// reads the `S`, cannot reach the protocol decoder unencrypted.
    func startTLS(_ context: NIOSSLContext) async throws {
        let channel = self.channel
        try await channel.eventLoop.submit {
            var answer = channel.allocator.buffer(capacity: 1)
            answer.writeInteger(UInt8(ascii: "S"))
            channel.writeAndFlush(answer, promise: nil)
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context), position: .first)
        }.get()
    }

    /// Sends a FATAL error and closes the connection, if it is idle. The connection's task
    /// then sees the end of its input and rolls back what the client left open.
    func terminateIfIdle(sqlState: String, _ message: String) {
        guard !busy.load(ordering: .acquiring) else { return }
        Self.terminate(channel, sqlState: sqlState, message)
    }

    /// Sends a FATAL error on `channel` and closes it.
    static func terminate(_ channel: any Channel, sqlState: String, _ message: String) {
        var writer = BackendWriter(allocator: channel.allocator)
        writer.report(severity: "FATAL", sqlState: sqlState, message)
        channel.writeAndFlush(writer.buffer).whenComplete { _ in channel.close(promise: nil) }
    }
}

/// Ends connections that stay idle (between messages, outside a running statement)
/// longer than the server's idle timeout, as PostgreSQL's `idle_session_timeout` does.
final class IdleConnectionHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = Any
    let control: ConnectionControl

    init(control: ConnectionControl) { self.control = control }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            control.terminateIfIdle(sqlState: "57P05", "terminating connection due to idle-session timeout")
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
