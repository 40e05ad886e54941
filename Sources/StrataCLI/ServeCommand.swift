import ArgumentParser
import Foundation
import StrataEngine
import StrataServer
import StrataStore

/// `strata serve DB`: the database behind the PostgreSQL wire protocol.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Serve a database to PostgreSQL clients (psql, drivers, pgbench).")
    @Argument(help: "The database: a directory or s3:// URL.") var db: String
    @Option(help: "HOST:PORT to listen on.") var listen = "127.0.0.1:5433"
    @Option(help: "The database name clients connect to.") var database = "strata"
    @Flag(help: "Accept every login without a password (otherwise: SCRAM-SHA-256 against the roles in the database).") var trust = false
    @Option(name: .customLong("max-connections"), help: "Connections served at once.") var maxConnections = 100
    @Option(name: .customLong("idle-timeout"), help: "Close connections idle this many seconds (0: never).") var idleTimeout = 0.0
    @Option(name: .customLong("tls-cert"), help: "A PEM certificate (chain): offer TLS to clients that ask for it.") var tlsCert: String?
    @Option(name: .customLong("tls-key"), help: "The PEM private key of --tls-cert.") var tlsKey: String?
    @Flag(name: .customLong("tls-required"), help: "Refuse connections that do not use TLS.") var tlsRequired = false
    @Option(name: .customLong("cache-mib"), help: "Memory for the database's decoded blocks, in MiB (like PostgreSQL's shared_buffers).")
    var cacheMiB = 256
    @Option(help: "Relay commits with other writer processes through a TCP port on this host address (see README, \"On S3\").")
    var relay: String?

    func run() async throws {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port)
        else { throw ValidationError("--listen takes HOST:PORT, not '\(listen)'") }
        let host = String(listen[..<colon])
        var config = PostgresServer.Configuration()
        config.database = database
        config.trust = trust
        config.maxConnections = maxConnections
        if idleTimeout > 0 { config.idleTimeout = .milliseconds(Int(idleTimeout * 1000)) }
        switch (tlsCert, tlsKey) {
        case (let cert?, let key?): config.tls = try PostgresServer.Configuration.tls(certificateFile: cert, keyFile: key)
        case (nil, nil): if tlsRequired { throw ValidationError("--tls-required needs --tls-cert and --tls-key") }
        default: throw ValidationError("--tls-cert and --tls-key go together")
        }
        config.requireTLS = tlsRequired
        guard cacheMiB >= 1 else { throw ValidationError("--cache-mib takes a positive number of MiB") }
        var options = EngineOptions()
        // A server's reads come from many clients at once: its working set is larger than an
        // embedded application's, and the engine's 64 MiB default made select-only pgbench
        // decode a block per query once 60 s of TPC-B had pushed the table out of memory.
        options.blockCacheBytes = cacheMiB << 20
        options.relayHost = relay
        let store = try openStore(db)
        if store is DirectoryStore {
            // A server commits thousands of times a second: flushing every 1,000 commits
            // (the default, which bounds what a replica opening from a bucket must read)
            // means a small segment and soon a compaction several times a second. On a
            // local disk, replaying 10,000 journaled entries at open takes a moment.
            options.checkpointInterval = 10_000
        }
        let engine = try await Engine.open(store, options: options)
        let server = PostgresServer(engine: engine, configuration: config)
        if !trust, try await server.loginRoles().isEmpty {
            await engine.close()
            throw ValidationError(
                """
                no role can log in with a password yet. Create one first, e.g.
                  strata sql \(db) "CREATE ROLE app LOGIN PASSWORD 'choose-a-password'"
                or start with --trust to accept every login without a password.
                """)
        }
        // SIGINT and SIGTERM: stop accepting, let running statements finish, roll back
        // open transactions, then exit.
        let signals = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { server.shutdown() }
            source.resume()
            return source
        }
        let name = database
        try await server.run(host: host, port: port) { bound in
            print("strata serve: database \"\(name)\" on \(host):\(bound)")
            fflush(nil)
        }
        for source in signals { source.cancel() }
        await engine.close()
        print("strata serve: stopped")
    }
}
