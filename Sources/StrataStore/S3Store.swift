import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An ``ObjectStore`` in an S3-compatible bucket (AWS S3, MinIO, R2, moto), over
/// HTTP with SigV4 signing.
///
/// `putIfAbsent` is `PUT` with `If-None-Match: *`: the server refuses with 412 when
/// the key exists, which makes it the atomic primitive the commit log needs across
/// any number of processes. Transient failures (connection errors, timeouts, 5xx,
/// throttling) are retried with jittered exponential backoff; a put-if-absent whose
/// outcome is unknown is never blindly retried: the store first reads what is
/// there, and reports success only if it is exactly the bytes it sent.
public final class S3Store: ObjectStore {
    /// Where the bucket is and how to reach it.
    public let configuration: S3Configuration
    private let signer: SigV4Signer?
    /// The shared HTTP client for this store's request timeout (see ``client(timeout:)``).
    private let client: HTTPClient
    private let counters = Counters()

    /// Requests, bytes and retries since the store was created.
    public struct Statistics: Sendable, Equatable {
        /// HTTP requests sent, retries included.
        public var requests = 0
        /// Request body bytes sent.
        public var bytesSent = 0
        /// Response body bytes received.
        public var bytesReceived = 0
        /// Requests that were attempts after a transient failure.
        public var retries = 0
        /// GET requests (whole and ranged).
        public var gets = 0
        /// PUT requests (plain and conditional).
        public var puts = 0
        /// ListObjectsV2 requests.
        public var lists = 0
        /// DELETE requests.
        public var deletes = 0
    }

    enum Operation { case get, put, list, delete }

    private final class Counters: Sendable {
        let requests = Atomic<Int>(0), bytesSent = Atomic<Int>(0), bytesReceived = Atomic<Int>(0)
        let retries = Atomic<Int>(0), gets = Atomic<Int>(0), puts = Atomic<Int>(0)
        let lists = Atomic<Int>(0), deletes = Atomic<Int>(0)

        func count(_ op: Operation) {
            switch op {
            case .get: gets.add(1, ordering: .relaxed)
            case .put: puts.add(1, ordering: .relaxed)
            case .list: lists.add(1, ordering: .relaxed)
            case .delete: deletes.add(1, ordering: .relaxed)
            }
        }
    }

    /// The counters so far.
    public var statistics: Statistics {
        Statistics(
            requests: counters.requests.load(ordering: .relaxed), bytesSent: counters.bytesSent.load(ordering: .relaxed),
            bytesReceived: counters.bytesReceived.load(ordering: .relaxed), retries: counters.retries.load(ordering: .relaxed),
            gets: counters.gets.load(ordering: .relaxed), puts: counters.puts.load(ordering: .relaxed),
            lists: counters.lists.load(ordering: .relaxed), deletes: counters.deletes.load(ordering: .relaxed))
    }

    /// The HTTP clients of the process, one per request timeout: stores with the same
    /// timeout share one pool of kept-alive connections. Clients live as long as the process.
    private static let clients = Mutex<[Duration: HTTPClient]>([:])

    /// The shared client whose read timeout is `timeout`. The read timeout runs on the
    /// connection's event loop, so a request whose reply is late fails even while every
    /// thread of the cooperative pool is busy; the per-request deadline alone is delivered
    /// through a task and can come after a late reply has already been accepted.
    static func client(timeout: Duration) -> HTTPClient {
        clients.withLock { clients in
            if let client = clients[timeout] { return client }
            var config = HTTPClient.Configuration()
            config.timeout = .init(connect: .seconds(5), read: TimeAmount(timeout))
            config.connectionPool = .init(idleTimeout: .seconds(50), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
            config.decompression = .disabled
            config.redirectConfiguration = .disallow
            let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: config)
            clients[timeout] = client
            return client
        }
    }

    /// Opens the bucket described by `configuration`. No request is sent until the first operation.
    public init(_ configuration: S3Configuration) {
        self.configuration = configuration
        self.signer = configuration.credentials.map { SigV4Signer(credentials: $0, region: configuration.region) }
        self.client = Self.client(timeout: configuration.requestTimeout)
    }

    /// Creates the bucket (for tests and first use against a local server); an existing
    /// bucket of this account is fine.
    public func createBucket() async throws {
        var body: [UInt8] = []
        if configuration.region != "us-east-1" {
            body = Array(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>\(configuration.region)</LocationConstraint></CreateBucketConfiguration>"
                    .utf8)
        }
        let r = try await send(.PUT, key: nil, body: body, counter: .put)
        if r.status == 200 || r.code == "BucketAlreadyOwnedByYou" { return }
        throw failure(r, what: "create bucket \(configuration.bucket)")
    }

    // MARK: ObjectStore

    public func get(_ key: String) async throws -> [UInt8] {
        try validateKey(key)
        let r = try await send(.GET, key: key, counter: .get)
        switch r.status {
        case 200: return r.body
        case 404: throw StoreError.notFound(key)
        default: throw failure(r, what: "get \(key)")
        }
    }

    public func get(_ key: String, range: Range<Int>) async throws -> [UInt8] {
        try validateKey(key)
        guard range.lowerBound >= 0 else { throw StoreError.permanent("negative range start") }
        if range.isEmpty {
            // A zero-length range cannot be asked for; still report an absent object.
            let r = try await send(.GET, key: key, headers: [("range", "bytes=0-0")], counter: .get)
            switch r.status {
            case 200, 206, 416: return []
            case 404: throw StoreError.notFound(key)
            default: throw failure(r, what: "get \(key) range")
            }
        }
        let r = try await send(
            .GET, key: key, headers: [("range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)")], counter: .get)
        switch r.status {
        case 206: return r.body
        // A server that ignores ranges sends the whole object.
        case 200: return Array(r.body[try clamp(range, size: r.body.count)])
        case 416: return []
        case 404: throw StoreError.notFound(key)
        default: throw failure(r, what: "get \(key) range")
        }
    }

    public func put(_ key: String, _ bytes: [UInt8]) async throws {
        try validateKey(key)
        if bytes.count > configuration.multipartThreshold { return try await putInParts(key, bytes) }
        let r = try await send(.PUT, key: key, body: bytes, counter: .put)
        guard r.status == 200 else { throw failure(r, what: "put \(key)") }
    }

    /// Uploads a large object as a multipart upload, parts in parallel: one stream per
    /// part instead of one for the whole object, and a failed part is sent again alone.
    /// The upload is aborted (its parts deleted) when it cannot be completed.
    private func putInParts(_ key: String, _ bytes: [UInt8]) async throws {
        let created = try await send(.POST, key: key, query: [("uploads", "")], counter: .put)
        guard created.status == 200,
            let uploadID = XMLScan.element("UploadId", in: String(decoding: created.body, as: UTF8.self)[...])
        else { throw failure(created, what: "start a multipart upload of \(key)") }
        do {
            // S3 allows at most 10,000 parts of at least 5 MiB (all but the last).
            let partSize = max(configuration.partSize, 5 << 20, (bytes.count + 9_999) / 10_000)
            let parts = (bytes.count + partSize - 1) / partSize
            var etags = [String](repeating: "", count: parts)
            try await withThrowingTaskGroup(of: (Int, String).self) { group in
                for part in 0..<parts {
                    if part >= configuration.partConcurrency, let (done, etag) = try await group.next() { etags[done] = etag }
                    let body = Array(bytes[part * partSize..<min(bytes.count, (part + 1) * partSize)])
                    group.addTask {
                        let query = [("partNumber", String(part + 1)), ("uploadId", uploadID)]
                        let r = try await self.send(.PUT, key: key, query: query, body: body, counter: .put)
                        guard r.status == 200, let etag = r.etag else { throw self.failure(r, what: "upload part \(part + 1) of \(key)") }
                        return (part, etag)
                    }
                }
                for try await (done, etag) in group { etags[done] = etag }
            }
            var xml = "<CompleteMultipartUpload>"
            for (i, etag) in etags.enumerated() {
                xml += "<Part><PartNumber>\(i + 1)</PartNumber><ETag>\(XMLScan.escape(etag))</ETag></Part>"
            }
            xml += "</CompleteMultipartUpload>"
            let r = try await send(.POST, key: key, query: [("uploadId", uploadID)], body: Array(xml.utf8), counter: .put)
            // S3 may answer 200 and still report an error in the body.
            if r.status == 200, S3ErrorDocument.code(in: r.body) == nil { return }
            // A retried completion finds the upload gone when an earlier attempt completed it.
            if r.code == "NoSuchUpload",
                let found = try await list(prefix: key, startAfter: nil, limit: 1).objects.first,
                found.key == key, found.size == bytes.count
            {
                return
            }
            throw failure(r, what: "complete the multipart upload of \(key)")
        } catch {
            _ = try? await send(.DELETE, key: key, query: [("uploadId", uploadID)], counter: .delete)
            throw error
        }
    }

    public func putIfAbsent(_ key: String, _ bytes: [UInt8]) async throws {
        try validateKey(key)
        var ambiguous = false
        var attempt = 0
        while true {
            attempt += 1
            var outcomeUnknown = false
            do {
                let r = try await sendOnce(
                    .PUT, key: key, query: [], headers: [("if-none-match", "*")], body: bytes, counter: .put)
                switch r.status {
                case 200:
                    return
                case 412:
                    // After an attempt whose outcome was unknown, the object in the way may be our own.
                    if ambiguous, try await getIfPresent(key) == bytes { return }
                    throw StoreError.alreadyExists(key)
                case 409, 429, 500...599:
                    // 409: a concurrent conditional write on the key; 429/503: throttled; 5xx: unknown.
                    outcomeUnknown = true
                default:
                    throw failure(r, what: "put-if-absent \(key)")
                }
            } catch let e as StoreError {
                throw e
            } catch {
                outcomeUnknown = true
            }
            if outcomeUnknown {
                ambiguous = true
                // Never retry blindly: if the first attempt landed, a retry would report a loss.
                if let there = try await getIfPresent(key) {
                    if there == bytes { return }
                    throw StoreError.alreadyExists(key)
                }
                if attempt >= configuration.maxAttempts {
                    throw StoreError.transient("put-if-absent \(key): no answer after \(attempt) attempts")
                }
                counters.retries.add(1, ordering: .relaxed)
                try await Self.backoff(attempt)
            }
        }
    }

    public func list(prefix: String, startAfter: String?, limit: Int) async throws -> ListPage {
        var objects: [ObjectInfo] = []
        var token: String?
        let want = max(1, min(limit, 1000))
        while true {
            var query: [(String, String)] = [
                ("list-type", "2"), ("prefix", configuration.prefix + prefix), ("max-keys", String(min(want - objects.count, configuration.listPageSize))),
                ("encoding-type", "url"),
            ]
            if let token {
                query.append(("continuation-token", token))
            } else if let startAfter {
                query.append(("start-after", configuration.prefix + startAfter))
            }
            let r = try await send(.GET, key: nil, query: query, counter: .list)
            guard r.status == 200 else { throw failure(r, what: "list \(prefix)") }
            let result = try ListObjectsResult(r.body)
            for o in result.objects {
                guard o.key.hasPrefix(configuration.prefix) else { continue }
                objects.append(ObjectInfo(key: String(o.key.dropFirst(configuration.prefix.utf8.count)), size: o.size))
            }
            // A server may return fewer keys than asked while more follow: continue with its token.
            if result.isTruncated, objects.count < want, let next = result.continuationToken {
                token = next
                continue
            }
            let more = result.isTruncated && !objects.isEmpty
            return ListPage(objects: objects, nextStartAfter: more ? objects.last!.key : nil)
        }
    }

    public func delete(_ key: String) async throws {
        try validateKey(key)
        let r = try await send(.DELETE, key: key, counter: .delete)
        guard r.status == 204 || r.status == 200 || r.status == 404 else { throw failure(r, what: "delete \(key)") }
    }

    // MARK: Requests

    struct Response {
        var status: Int
        var body: [UInt8]
        /// The `ETag` header (an uploaded part's, for completing a multipart upload).
        var etag: String?
        /// The `<Code>` of an S3 error document, when there is one.
        var code: String? { status >= 300 ? S3ErrorDocument.code(in: body) : nil }
    }

    /// Sends a request, retrying transient failures (connection errors, timeouts,
    /// 429, 5xx) up to `maxAttempts` times with jittered backoff. Only for requests
    /// that are safe to repeat.
    private func send(
        _ method: HTTPMethod, key: String?, query: [(String, String)] = [], headers: [(String, String)] = [],
        body: [UInt8] = [], counter: Operation
    ) async throws -> Response {
        var attempt = 0
        while true {
            attempt += 1
            var lastError: String
            do {
                let r = try await sendOnce(method, key: key, query: query, headers: headers, body: body, counter: counter)
                if r.status != 429 && r.status < 500 { return r }
                lastError = "HTTP \(r.status) \(r.code ?? "")"
            } catch let e as StoreError {
                throw e
            } catch {
                lastError = "\(error)"
            }
            if attempt >= configuration.maxAttempts {
                throw StoreError.transient("\(method) \(key ?? configuration.bucket): \(lastError) after \(attempt) attempts")
            }
            counters.retries.add(1, ordering: .relaxed)
            try await Self.backoff(attempt)
        }
    }

    /// Sends one request and reads the whole reply, within the request timeout.
    private func sendOnce(
        _ method: HTTPMethod, key: String?, query: [(String, String)], headers extra: [(String, String)], body: [UInt8],
        counter: Operation
    ) async throws -> Response {
        let path = configuration.path(for: key)
        var headers: [(String, String)] = [("host", configuration.hostHeader)]
        headers.append(contentsOf: extra)
        if method == .PUT || method == .POST { headers.append(("content-length", String(body.count))) }
        if let signer {
            // Small bodies are signed; large ones are sent as UNSIGNED-PAYLOAD (hashing
            // 64 MiB costs more than the request), and their content hash is checked on read.
            let payloadHash = body.count <= 1 << 20 ? SigV4Signer.hexSHA256(body) : "UNSIGNED-PAYLOAD"
            signer.sign(
                method: method.rawValue, path: path, query: query, headers: &headers, payloadHash: payloadHash,
                date: SigV4Signer.amzDate(secondsSince1970: Int(time(nil))))
        }
        var request = HTTPClientRequest(url: configuration.url(path: path, query: query))
        request.method = method
        for (name, value) in headers where name != "content-length" { request.headers.add(name: name, value: value) }
        if method == .PUT || method == .POST { request.body = .bytes(body) }
        counters.requests.add(1, ordering: .relaxed)
        counters.count(counter)
        counters.bytesSent.add(body.count, ordering: .relaxed)
        let deadline = NIODeadline.now() + TimeAmount(configuration.requestTimeout)
        let response = try await client.execute(request, deadline: deadline)
        let expected = response.headers.first(name: "content-length").flatMap { Int($0) } ?? 0
        var bytes = [UInt8]()
        // Stream the body into one buffer of the announced size (no doubling copies).
        bytes.reserveCapacity(min(expected, 1 << 30))
        for try await chunk in response.body {
            chunk.withUnsafeReadableBytes { bytes.append(contentsOf: $0) }
        }
        counters.bytesReceived.add(bytes.count, ordering: .relaxed)
        return Response(status: Int(response.status.code), body: bytes, etag: response.headers.first(name: "etag"))
    }

    /// Sleeps before attempt `attempt + 1`: full jitter over 20 ms doubling, capped at 2 s.
    static func backoff(_ attempt: Int) async throws {
        let cap = min(2000, 20 << min(attempt - 1, 10))
        try await Task.sleep(for: .milliseconds(Int.random(in: cap / 4...cap)))
    }

    private func failure(_ r: Response, what: String) -> StoreError {
        let doc = S3ErrorDocument.message(in: r.body)
        let detail = "\(what): HTTP \(r.status)\(r.code.map { " \($0)" } ?? "")\(doc.map { ": \($0)" } ?? "")"
        if r.status == 429 || r.status >= 500 { return .transient(detail) }
        if r.code == "NoSuchBucket" { return .permanent("bucket '\(configuration.bucket)' does not exist (\(detail))") }
        return .permanent(detail)
    }
}
