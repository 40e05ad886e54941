import NIOCore
import NIOPosix
import NIOSSL
import StrataEngine
import StrataSQL
import Logging
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
        /// Accept every login without a password (`--trust`). Otherwise a client logs in
        /// with SCRAM-SHA-256 as a role created with `CREATE ROLE name LOGIN PASSWORD '...'`.
        public var trust = false
        /// How long a failed login waits before it is answered, to slow down password guessing.
        public var failedLoginDelay: Duration = .seconds(1)
        /// Connections served at once; more are refused with SQLSTATE 53300.
        public var maxConnections = 100
        /// Connections idle (between statements) for longer are closed with 57P05; nil for never.
        public var idleTimeout: Duration?

        /// TLS for clients that ask for it (SSLRequest answered `S`); nil answers `N`.
        public var tls: NIOSSLContext?
        /// Refuse connections that did not start TLS (28000), as a `hostssl` line of pg_hba.conf.
        public var requireTLS = false

        /// Where the server reports failed logins and other events for the operator.
        public var logger = Logger(label: "strata.serve")

        /// The defaults: database `strata`, 64 MiB messages, passwords required.
        public init() {}

        /// TLS from a PEM certificate chain and private key, as PostgreSQL's `ssl_cert_file`
        /// and `ssl_key_file` name them.
        public static func tls(certificateFile: String, keyFile: String) throws -> NIOSSLContext {
            let chain = try NIOSSLCertificate.fromPEMFile(certificateFile).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
            return try NIOSSLContext(configuration: .makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key)))
        }
    }

    /// The engine every session runs on.
    public let engine: Engine
    /// The settings the server was started with.
    public let configuration: Configuration
    private let schemas = SchemaCache()
    /// Keys the made-up secrets of roles that do not exist: random per server, so the
    /// salt offered for an unknown name is stable while the server runs and says nothing.
    let mockSecretKey = (0..<32).map { _ in UInt8.random(in: 0...255) }
    private let nextProcessID = Atomic<Int32>(1)
    private let listener = Mutex<(any Channel)?>(nil)
    private let connections = Mutex<[Int32: ConnectionControl]>([:])
    let shuttingDown = Atomic<Bool>(false)
    /// Sessions open per role, for roles' CONNECTION LIMIT.
    private let sessionsByRole = Mutex<[String: Int]>([:])

    /// A server for `engine`; nothing listens until ``run(host:port:onListening:)``.
    public init(engine: Engine, configuration: Configuration = Configuration()) {
        self.engine = engine
        self.configuration = configuration
    }

    func makeSession() -> Session { Session(engine: engine, cache: schemas) }

    /// Counts a new session of `user`; false (and not counted) when the role already has
    /// `limit` sessions open.
    func beginLogin(_ user: String, limit: Int?) -> Bool {
        sessionsByRole.withLock { open in
            let count = open[user, default: 0]
            if let limit, count >= limit { return false }
            open[user] = count + 1
            return true
        }
    }

    /// A session counted by ``beginLogin(_:limit:)`` has ended.
    func endLogin(_ user: String) {
        sessionsByRole.withLock { open in
            let count = open[user, default: 0] - 1
            open[user] = count > 0 ? count : nil
        }
    }

    /// Reports an event to the operator.
    func log(_ message: String) { configuration.logger.warning("\(message)") }

    /// The roles that can log in with a password now; without one (and without trust) no
    /// client can connect, so the CLI refuses to start and says how to create one.
    public func loginRoles() async throws -> [String] {
        try await makeSession().currentRoles().values.filter { $0.canLogin && $0.secret != nil }.map(\.name).sorted()
    }

    /// A CancelRequest: stops the statement running on connection `processID` if the key
    /// matches; a wrong key or an idle connection changes nothing, and the requester is told
    /// nothing either way (as in PostgreSQL).
    func cancel(processID: Int32, secretKey: Int32) {
        guard let control = connections.withLock({ $0[processID] }), control.secretKey == secretKey else {
            if connections.withLock({ $0[processID] }) != nil { log("cancel request for connection \(processID) with a wrong key") }
            return
        }
        control.cancel.cancel()
    }

    /// Listens on `host:port` (port 0 picks a free one, reported to `onListening`) and
    /// serves connections until ``shutdown()``; returns when every connection has ended.
    public func run(host: String, port: Int, onListening: @Sendable (Int) -> Void = { _ in }) async throws {
        let maxBytes = configuration.maxMessageBytes
        let idle = configuration.idleTimeout
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let control = ConnectionControl(channel: channel)
                    if let idle {
                        try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: TimeAmount(idle)))
                        try channel.pipeline.syncOperations.addHandler(IdleConnectionHandler(control: control))
                    }
                    let inbox = MessageInbox(loop: channel.eventLoop)
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(FrontendMessageDecoder(maxMessageBytes: maxBytes)))
                    try channel.pipeline.syncOperations.addHandler(inbox)
                    return (channel, control, inbox)
                }
            }
        listener.withLock { $0 = server.channel }
        onListening(server.channel.localAddress?.port ?? port)
        try await withThrowingDiscardingTaskGroup { group in
            try await server.executeThenClose { accepted in
                for try await (channel, control, inbox) in accepted {
                    let pid = nextProcessID.add(1, ordering: .relaxed).oldValue
                    let admitted = connections.withLock { open -> Bool in
                        guard open.count < configuration.maxConnections, !shuttingDown.load(ordering: .relaxed) else { return false }
                        open[pid] = control
                        return true
                    }
                    guard admitted else {
                        ConnectionControl.terminate(channel, sqlState: "53300", "sorry, too many clients already")
                        continue
                    }
                    let handler = PostgresConnection(server: self, control: control, processID: pid, secretKey: control.secretKey)
                    group.addTask(executorPreference: EventLoopTaskExecutor(channel.eventLoop)) {
                        // A connection's failure (a reset, a broken client) ends that connection only.
                        try? await handler.run(channel, inbox)
                        self.connections.withLock { _ = $0.removeValue(forKey: pid) }
                    }
                }
            }
        }
    }

    /// Connections open now.
    public var connectionCount: Int { connections.withLock { $0.count } }

    /// Stops accepting connections and ends the open ones: an idle connection at once, a
    /// busy one when its statement has finished; transactions left open are rolled back.
    /// ``run(host:port:onListening:)`` returns when all have ended.
    public func shutdown() {
        shuttingDown.store(true, ordering: .relaxed)
        listener.withLock { $0 }?.close(promise: nil)
        for control in connections.withLock({ Array($0.values) }) {
            control.terminateIfIdle(sqlState: "57P01", "terminating connection due to administrator command")
        }
    }
}
