import AsyncHTTPClient
import Foundation
import NIOCore
import StrataStore

/// An HTTP proxy in front of an S3 server that injects the failures S3 clients meet:
/// throttling and server errors, connections reset before the request is handled, and
/// conditional PUTs that land but whose reply is lost (closed connection) or late.
///
/// For tests of ``S3Store``'s own retry logic against a real server; a small Python
/// program (standard library only), ended by a watchdog when this process is gone.
/// Faults are set and counted through `/__proxy/config` and `/__proxy/stats`, so a
/// test can both change them while running and check that they really happened.
public final class S3FaultProxy: Sendable {
    /// `http://127.0.0.1:PORT`: point a store's endpoint here instead of at the server.
    public let endpoint: String
    private let process: ChildProcess

    /// What the proxy is told to do; zero turns a fault off.
    public struct Faults: Sendable {
        /// Every Nth request is answered `failStatus` without reaching the server.
        public var failEvery = 0
        /// 503 (`SlowDown`), 500 (`InternalError`) or 429 (`TooManyRequests`).
        public var failStatus = 503
        /// Every Nth request's connection is closed before the request is forwarded.
        public var resetEvery = 0
        /// Every Nth conditional PUT (`If-None-Match: *`) is forwarded, then its connection
        /// is closed with no reply: the write landed, or was refused, and the client cannot know which.
        public var dropConditionalPutEvery = 0
        /// Every Nth conditional PUT is forwarded, then answered only after `delaySeconds`.
        public var delayConditionalPutEvery = 0
        /// How late a delayed reply comes.
        public var delaySeconds = 0.0

        /// No faults: every request is forwarded and answered.
        public init() {}
    }

    /// What the proxy has done so far.
    public struct Statistics: Sendable, Equatable {
        /// Requests received (control requests excluded).
        public var requests = 0
        /// Requests answered with an error status.
        public var failed = 0
        /// Connections closed before forwarding.
        public var reset = 0
        /// Conditional PUTs forwarded whose reply was dropped.
        public var dropped = 0
        /// Conditional PUTs forwarded whose reply was delayed.
        public var delayed = 0
    }

    private init(endpoint: String, process: ChildProcess) {
        self.endpoint = endpoint
        self.process = process
    }

    /// Starts a proxy in front of `upstream` (`http://HOST:PORT`) and waits until it listens
    /// (it prints its port once its socket accepts connections).
    public static func start(upstream: String) async throws -> S3FaultProxy {
        guard let url = URL(string: upstream), let host = url.host, let upstreamPort = url.port else {
            throw StoreError.permanent("upstream must be http://HOST:PORT, not \(upstream)")
        }
        let p = try ChildProcess(
            URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", program, host, String(upstreamPort)],
            output: MotoServer.temporaryLog("s3-proxy"), mergeErrors: true)
        let port = try await p.announcedPort(prefix: "proxy listening on")
        return S3FaultProxy(endpoint: "http://127.0.0.1:\(port)", process: p)
    }

    /// Replaces the faults the proxy injects from now on.
    public func set(_ faults: Faults) async throws {
        let query =
            "fail_every=\(faults.failEvery)&fail_status=\(faults.failStatus)&reset_every=\(faults.resetEvery)"
            + "&drop_conditional_put_every=\(faults.dropConditionalPutEvery)"
            + "&delay_conditional_put_every=\(faults.delayConditionalPutEvery)"
            + "&delay_seconds=\(faults.delaySeconds)"
        _ = try await control("config?" + query)
    }

    /// The proxy's counts so far.
    public func statistics() async throws -> Statistics {
        let body = try await control("stats")
        guard let object = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Int] else {
            throw StoreError.permanent("the fault proxy sent malformed statistics")
        }
        return Statistics(
            requests: object["requests"] ?? 0, failed: object["failed"] ?? 0, reset: object["reset"] ?? 0,
            dropped: object["dropped"] ?? 0, delayed: object["delayed"] ?? 0)
    }

    /// Stops the proxy (SIGKILL, without waiting; see ``MotoServer/stop()``).
    public func stop() {
        kill(process.processIdentifier, SIGKILL)
        try? FileManager.default.removeItem(atPath: process.outputPath)
    }

    private func control(_ path: String) async throws -> [UInt8] {
        let request = HTTPClientRequest(url: "\(endpoint)/__proxy/\(path)")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else { throw StoreError.permanent("the fault proxy answered \(response.status)") }
        return Array(buffer: body)
    }

    private static let program = MotoServer.parentWatchdog + """
        import http.client, http.server, json, os, socket, sys, threading, time, urllib.parse

        upstream_host, upstream_port = sys.argv[1], int(sys.argv[2])

        lock = threading.Lock()
        config = {"fail_every": 0, "fail_status": 503, "reset_every": 0, "drop_conditional_put_every": 0,
                  "delay_conditional_put_every": 0, "delay_seconds": 0.0}
        stats = {"requests": 0, "conditional": 0, "failed": 0, "reset": 0, "dropped": 0, "delayed": 0}
        codes = {503: "SlowDown", 500: "InternalError", 429: "TooManyRequests"}
        hop_by_hop = {"connection", "keep-alive", "transfer-encoding", "content-length"}
        local = threading.local()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self): self.handle_request()
            def do_PUT(self): self.handle_request()
            def do_DELETE(self): self.handle_request()
            def do_POST(self): self.handle_request()
            def do_HEAD(self): self.handle_request()

            def handle_request(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.path.startswith("/__proxy/"):
                    return self.control()
                conditional = self.command == "PUT" and self.headers.get("If-None-Match") == "*"
                with lock:
                    stats["requests"] += 1
                    n = stats["requests"]
                    fail = config["fail_every"] > 0 and n % config["fail_every"] == 0
                    reset = not fail and config["reset_every"] > 0 and n % config["reset_every"] == 0
                    drop = delay = False
                    if conditional and not fail and not reset:
                        stats["conditional"] += 1
                        c = stats["conditional"]
                        drop = config["drop_conditional_put_every"] > 0 and c % config["drop_conditional_put_every"] == 0
                        delay = not drop and config["delay_conditional_put_every"] > 0 and c % config["delay_conditional_put_every"] == 0
                    status = config["fail_status"]
                    seconds = config["delay_seconds"]
                    for name, happened in (("failed", fail), ("reset", reset), ("dropped", drop), ("delayed", delay)):
                        if happened: stats[name] += 1
                if fail:
                    code = codes.get(status, "InternalError")
                    doc = ('<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code>'
                           '<Message>injected by the fault proxy</Message></Error>' % code).encode()
                    return self.reply(status, [("Content-Type", "application/xml")], doc)
                if reset:
                    return self.abort()
                status, headers, data = self.forward(body)
                if drop:
                    return self.abort()
                if delay:
                    time.sleep(seconds)
                try:
                    self.reply(status, headers, data)
                except OSError:
                    self.close_connection = True

            def forward(self, body):
                headers = {k: v for k, v in self.headers.items() if k.lower() not in hop_by_hop}
                headers["Content-Length"] = str(len(body))
                for attempt in (1, 2):
                    conn = getattr(local, "conn", None)
                    if conn is None:
                        conn = local.conn = http.client.HTTPConnection(upstream_host, upstream_port, timeout=60)
                    try:
                        conn.request(self.command, self.path, body=body, headers=headers)
                        response = conn.getresponse()
                        data = response.read()
                        kept = [(k, v) for k, v in response.getheaders() if k.lower() not in hop_by_hop]
                        return response.status, kept, data
                    except (OSError, http.client.HTTPException):
                        conn.close()
                        local.conn = None
                        if attempt == 2:
                            raise

            def reply(self, status, headers, data):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                self.wfile.flush()

            def abort(self):
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

            def control(self):
                split = urllib.parse.urlsplit(self.path)
                if split.path == "/__proxy/config":
                    with lock:
                        for name, values in urllib.parse.parse_qs(split.query).items():
                            config[name] = type(config[name])(float(values[0]))
                with lock:
                    data = json.dumps(stats).encode()
                self.reply(200, [("Content-Type", "application/json")], data)

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        print("proxy listening on", server.server_address[1], flush=True)
        server.serve_forever()
        """
}
