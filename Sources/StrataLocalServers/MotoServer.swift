import Foundation
import StrataStore

/// A real S3-compatible server for tests and benchmarks: Python's `moto` in server
/// mode on 127.0.0.1 and a free port, started once per process.
///
/// A watchdog thread in the server ends it once this process is gone, so it stops
/// when the process exits however it exits.
public final class MotoServer: Sendable {
    /// `http://127.0.0.1:PORT`.
    public let endpoint: String
    private let process: ChildProcess

    private init(endpoint: String, process: ChildProcess) {
        self.endpoint = endpoint
        self.process = process
    }

    private static let started = Task<MotoServer, any Error> { try await MotoServer.start() }

    /// The process's server, started on first use.
    public static func shared() async throws -> MotoServer { try await started.value }

    /// Starts a new server and waits until it answers.
    public static func start() async throws -> MotoServer {
        let p = try ChildProcess(
            URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", parentWatchdog + program],
            output: temporaryLog("moto"), mergeErrors: true)
        let port: Int
        do {
            port = try await p.announcedPort(prefix: "moto listening on")
        } catch {
            throw StoreError.permanent("moto did not start (is it installed? `pip install 'moto[server]'`): \(error)")
        }
        let server = MotoServer(endpoint: "http://127.0.0.1:\(port)", process: p)
        let probe = S3Store(try S3Configuration(bucket: "probe-bucket", endpoint: server.endpoint))
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            do {
                try await probe.createBucket()
                return server
            } catch {
                if ContinuousClock.now > deadline || p.hasExited {
                    throw StoreError.permanent("moto did not answer on port \(port): \(error)")
                }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    /// moto's WSGI application on a threaded werkzeug server bound to port 0, which prints
    /// the port it got, with conditional PUTs made atomic.
    private static let program = """
        import logging, os, sys
        from werkzeug.serving import make_server
        import moto.server

        # moto checks If-None-Match and then stores, without a lock, on a threaded
        # server: two concurrent conditional PUTs of one key can both succeed. Conditional
        # PUTs of one key take turns (striped locks), so that put-if-absent is atomic as on
        # S3; everything else stays concurrent.
        stripes = [threading.Lock() for _ in range(64)]
        class AtomicConditionalPuts(moto.server.DomainDispatcherApplication):
            def __call__(self, environ, start_response):
                if environ.get("REQUEST_METHOD") == "PUT" and environ.get("HTTP_IF_NONE_MATCH"):
                    key = environ.get("HTTP_HOST", "") + environ.get("PATH_INFO", "")
                    with stripes[hash(key) % len(stripes)]:
                        return list(super().__call__(environ, start_response))
                return super().__call__(environ, start_response)

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        server = make_server("127.0.0.1", 0, AtomicConditionalPuts(moto.server.create_backend_app), threaded=True)
        os.environ["MOTO_PORT"] = str(server.server_port)
        print("moto listening on", server.server_port, flush=True)
        server.serve_forever()
        """

    /// A new log file for a server's output in the temporary directory.
    static func temporaryLog(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("strata-\(name)-\(UUID()).log").path
    }

    /// A new empty bucket on this server, as a store configuration with fixed test credentials.
    public func makeBucket(_ name: String? = nil) async throws -> S3Configuration {
        let bucket = name ?? "strata-\(UInt64.random(in: 0...UInt64.max) % 1_000_000_000_000)"
        var config = try S3Configuration(
            bucket: bucket, endpoint: endpoint, region: "us-east-1",
            credentials: S3Credentials(accessKeyID: "testing", secretAccessKey: "testing"))
        config.requestTimeout = .seconds(10)
        try await S3Store(config).createBucket()
        return config
    }

    /// `s3://bucket?endpoint=...` for a configuration made by ``makeBucket(_:)``, with extra query parameters.
    public func url(_ config: S3Configuration, _ extra: String = "") -> String {
        "s3://\(config.bucket)\(config.prefix.isEmpty ? "" : "/" + config.prefix)?endpoint=\(endpoint)&access_key_id=testing&secret_access_key=testing\(extra)"
    }

    /// Stops the server.
    public func stop() {
        // SIGKILL, and no waiting: moto's server does not always end on SIGTERM, and
        // `Process.waitUntilExit` spins a run loop that, on a cooperative thread, never
        // sees the exit (a fresh-clone CI run hung here for 20 minutes).
        kill(process.processIdentifier, SIGKILL)
        try? FileManager.default.removeItem(atPath: process.outputPath)
    }

    /// Python that ends the program as soon as its parent process (this one) is gone.
    static let parentWatchdog = """
        import os, threading, time
        parent = os.getppid()
        def watch():
            while os.getppid() == parent:
                time.sleep(0.3)
            os._exit(0)
        threading.Thread(target=watch, daemon=True).start()

        """
}
