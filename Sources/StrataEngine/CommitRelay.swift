import NIOCore
import NIOPosix
import StrataStore
import Synchronization

/// Where a process's commit relay listens, as published in the store under
/// `relay/WRITER`: `host port secret`.
struct RelayEndpoint: Equatable, Sendable {
    var host: String
    var port: Int
    /// A random token (hex digits) a client must present.
    var secret: String

    var text: String { "\(host) \(port) \(secret)" }

    init(host: String, port: Int, secret: String) {
        self.host = host
        self.port = port
        self.secret = secret
    }

    init?(_ bytes: [UInt8]) {
        let parts = String(decoding: bytes, as: UTF8.self).split(separator: " ")
        guard parts.count == 3, let port = Int(parts[1]) else { return nil }
        self.init(host: String(parts[0]), port: port, secret: String(parts[2]))
    }
}

/// The listening side of the commit relay: accepts commits from other processes on
/// the same database and hands them to ``Engine/serveRelayed(_:answer:)``.
///
/// Every writer process races for each log position, and a position is taken one PUT
/// round trip at a time, so without the relay the whole database commits at most one
/// process's group per round trip, and the process that keeps winning starves the
/// others. With it, a process that loses the race to a process with a relay sends its
/// transactions there instead; that process validates them like its own and commits
/// them in its next group, so all processes' transactions share entries.
final class RelayListener: Sendable {
    let channel: any Channel
    let endpoint: RelayEndpoint
    private let connections: Connections

    /// The accepted connections, closed with the listener.
    final class Connections: Sendable {
        let open = Mutex<[ObjectIdentifier: any Channel]>([:])
    }

    private init(channel: any Channel, endpoint: RelayEndpoint, connections: Connections) {
        self.channel = channel
        self.endpoint = endpoint
        self.connections = connections
    }

    static func start(host: String, engine: Engine) async throws -> RelayListener {
        let secret = (0..<4).map { _ in String(UInt64.random(in: .min ... .max), radix: 16) }.joined()
        let connections = Connections()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [weak engine] channel in
                let id = ObjectIdentifier(channel)
                connections.open.withLock { $0[id] = channel }
                channel.closeFuture.whenComplete { _ in _ = connections.open.withLock { $0.removeValue(forKey: id) } }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RelayFrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(RelayServerHandler(engine: engine, secret: Array(secret.utf8)))
                }
            }
            .bind(host: host, port: 0).get()
        let port = channel.localAddress?.port ?? 0
        return RelayListener(channel: channel, endpoint: RelayEndpoint(host: host, port: port, secret: secret), connections: connections)
    }

    func close() async {
        try? await channel.close()
        for c in connections.open.withLock({ Array($0.values) }) { try? await c.close() }
    }
}

/// One accepted relay connection: checks the hello, then serves each commit in its own task.
private final class RelayServerHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = RelayMessage
    weak var engine: Engine?
    let secret: [UInt8]
    /// Touched only on the channel's event loop.
    private var client: String?
    private let sent = SentEntries()

    /// The newest log entry this connection has sent.
    final class SentEntries: Sendable {
        let through = Mutex<UInt64>(0)
    }

    init(engine: Engine?, secret: [UInt8]) {
        self.engine = engine
        self.secret = secret
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message = unwrapInboundIn(data)
        let channel = context.channel
        guard let engine else {
            context.close(promise: nil)
            return
        }
        switch message {
        case .hello(let secret, let branch, let writer) where client == nil:
            if !Self.sameSecret(secret, self.secret) || branch != engine.branch {
                context.writeAndFlush(NIOAny(RelayMessage.refused("wrong secret or branch").frame(channel.allocator)), promise: nil)
                context.close(promise: nil)
                return
            }
            client = writer
            context.writeAndFlush(NIOAny(RelayMessage.welcome.frame(channel.allocator)), promise: nil)
        case .commit(let number, let deadline, let knownHead, let priority, let payload) where client != nil:
            let request = CommitRequest(payload, priority: priority, relay: RelayTag(writer: client!, number: number, deadline: deadline))
            let sent = self.sent
            engine.serveRelayed(request) { served in
                switch served {
                case .committed(let seq):
                    // Each entry goes once per connection, with the first answer that needs
                    // it; answers are built and queued in order under the lock, so the
                    // client sees every entry before an answer that refers to it.
                    sent.through.withLock { through in
                        let entries = engine.relayEntries(after: max(knownHead, through), through: seq)
                        through = max(through, seq)
                        channel.writeAndFlush(RelayMessage.committed(number: number, seq: seq, entries: entries).frame(channel.allocator), promise: nil)
                    }
                case .answer(let message):
                    channel.writeAndFlush(message.frame(channel.allocator), promise: nil)
                case .dropConnection:
                    channel.close(promise: nil)
                }
            }
        default:
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Compares every byte whatever the first difference, so that how long a refusal
    /// takes says nothing about how much of a guessed secret was right.
    static func sameSecret(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}

/// A connection to another process's relay, on which this process's transactions are
/// sent while that process is winning the log.
final class RelayClient: Sendable {
    /// The writer id of the process at the other end.
    let writer: String
    private let channel: any Channel
    private let replies: RelayReplies

    /// The connection ended or an answer did not come: the outcome is unknown.
    struct Lost: Error {}
    /// The connection had already ended: nothing was sent.
    struct NotSent: Error {}

    private init(writer: String, channel: any Channel, replies: RelayReplies) {
        self.writer = writer
        self.channel = channel
        self.replies = replies
    }

    /// Connects and says hello; throws when the relay cannot be reached or refuses.
    ///
    /// `entries` is called on the connection's event loop with the log entries of each
    /// answer, in order, before the answer is handed to its caller.
    static func connect(
        to endpoint: RelayEndpoint, writer: String, branch: String, from me: String,
        entries: @escaping @Sendable ([[UInt8]]) -> Void
    ) async throws -> RelayClient {
        let replies = RelayReplies(entries: entries)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(2))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RelayFrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(RelayClientHandler(replies: replies))
                }
            }
            .connect(host: endpoint.host, port: endpoint.port).get()
        let client = RelayClient(writer: writer, channel: channel, replies: replies)
        let answer = try await client.send(0, .hello(secret: Array(endpoint.secret.utf8), branch: branch, writer: me), timeout: .seconds(5))
        guard answer == .welcome else {
            client.close()
            throw Lost()
        }
        return client
    }

    /// Sends a message and waits for the answer with its number; throws ``Lost`` when the
    /// connection ends or no answer comes within `timeout` (the outcome is then unknown).
    func send(_ number: UInt64, _ message: RelayMessage, timeout: Duration) async throws -> RelayMessage {
        let frame = message.frame(channel.allocator)
        let timer = channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) { [self] in
            // A late answer would be matched to nothing: the connection is given up.
            if replies.fail(number) { close() }
        }
        defer { timer.cancel() }
        return try await withCheckedThrowingContinuation { c in
            if replies.expect(number, c) { channel.writeAndFlush(frame, promise: nil) }
        }
    }

    /// Closes the connection; every transaction waiting for an answer gets ``Lost``.
    func close() {
        replies.closeAll()
        channel.close(promise: nil)
    }

    var isClosed: Bool { replies.isClosed }
}

/// The callers waiting for answers on one relay connection, by message number.
final class RelayReplies: Sendable {
    private let entries: @Sendable ([[UInt8]]) -> Void
    private let state = Mutex<(waiting: [UInt64: CheckedContinuation<RelayMessage, any Error>], closed: Bool)>(([:], false))

    init(entries: @escaping @Sendable ([[UInt8]]) -> Void) { self.entries = entries }

    /// Registers a caller; false (and the caller resumed with ``RelayClient/NotSent``) when closed.
    func expect(_ number: UInt64, _ c: CheckedContinuation<RelayMessage, any Error>) -> Bool {
        let closed = state.withLock { s -> Bool in
            if s.closed { return true }
            s.waiting[number] = c
            return false
        }
        if closed { c.resume(throwing: RelayClient.NotSent()) }
        return !closed
    }

    /// Hands an answer to its caller; false when no caller waits for it.
    @discardableResult
    func deliver(_ message: RelayMessage) -> Bool {
        let number: UInt64
        switch message {
        case .welcome, .refused: number = 0
        case .committed(let n, _, let e):
            number = n
            if !e.isEmpty { entries(e) }
        case .failed(let n, _, _, _), .declined(let n): number = n
        case .hello, .commit: return false
        }
        guard let c = state.withLock({ $0.waiting.removeValue(forKey: number) }) else { return false }
        c.resume(returning: message)
        return true
    }

    /// Fails one caller with ``RelayClient/Lost``; false if it was no longer waiting.
    func fail(_ number: UInt64) -> Bool {
        guard let c = state.withLock({ $0.waiting.removeValue(forKey: number) }) else { return false }
        c.resume(throwing: RelayClient.Lost())
        return true
    }

    func closeAll() {
        let pending = state.withLock { s -> [CheckedContinuation<RelayMessage, any Error>] in
            s.closed = true
            defer { s.waiting.removeAll() }
            return Array(s.waiting.values)
        }
        for c in pending { c.resume(throwing: RelayClient.Lost()) }
    }

    var isClosed: Bool { state.withLock { $0.closed } }
}

private final class RelayClientHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = RelayMessage
    let replies: RelayReplies

    init(replies: RelayReplies) { self.replies = replies }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !replies.deliver(unwrapInboundIn(data)) { context.close(promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        replies.closeAll()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        replies.closeAll()
        context.close(promise: nil)
    }
}
