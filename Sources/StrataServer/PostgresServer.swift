import NIOCore
import NIOPosix
import StrataEngine
import StrataSQL
import Synchronization

/// `strata serve`: one database behind the PostgreSQL v3 wire protocol, so psql,
/// drivers and tools connect to it as to PostgreSQL.
public final class PostgresServer: Sendable {
    /// What the server serves and how.
    public struct Configuration: Sendable {
        /// The database name clients must ask for.
        public var database = "strata"
        /// The largest protocol message accepted, in bytes; longer ones end the connection.
        public var maxMessageBytes = 64 << 20
        /// Accept every login without a password (only when asked for on the command line).
        public var trust = false

        /// The defaults: database `strata`, 64 MiB messages, no trust.
        public init() {}
    }

    /// The engine every session runs on.
    public let engine: Engine
    /// The settings the server was started with.
    public let configuration: Configuration
    private let schemas = SchemaCache()
    private let nextProcessID = Atomic<Int32>(1)
    private let listener = Mutex<(any Channel)?>(nil)

    /// A server for `engine`; nothing listens until ``run(host:port:onListening:)``.
    public init(engine: Engine, configuration: Configuration = Configuration()) {
        self.engine = engine
        self.configuration = configuration
    }

    func makeSession() -> Session { Session(engine: engine, cache: schemas) }

    /// Cancelling a running query is not supported yet: the request is accepted and ignored,
    /// as PostgreSQL does for an unknown key.
    func cancel(processID: Int32, secretKey: Int32) {}

    /// Listens on `host:port` (port 0 picks a free one, reported to `onListening`) and
    /// serves connections until ``stop()``.
    public func run(host: String, port: Int, onListening: @Sendable (Int) -> Void = { _ in }) async throws {
        let maxBytes = configuration.maxMessageBytes
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(FrontendMessageDecoder(maxMessageBytes: maxBytes)))
                    return try NIOAsyncChannel<FrontendMessage, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        listener.withLock { $0 = server.channel }
        onListening(server.channel.localAddress?.port ?? port)
        try await withThrowingDiscardingTaskGroup { group in
            try await server.executeThenClose { connections in
                for try await connection in connections {
                    let pid = nextProcessID.add(1, ordering: .relaxed).oldValue
                    let handler = PostgresConnection(server: self, processID: pid, secretKey: Int32.random(in: 1...Int32.max))
                    group.addTask {
                        // A connection's failure (a reset, a broken client) ends that connection only.
                        try? await handler.run(connection)
                    }
                }
            }
        }
    }

    /// Stops accepting connections; ``run(host:port:onListening:)`` returns once open ones end.
    public func stop() {
        listener.withLock { $0 }?.close(promise: nil)
    }
}
