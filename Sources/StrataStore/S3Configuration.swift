#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where and how an ``S3Store`` reaches its bucket.
///
/// Built from a database URL, `s3://bucket/prefix?endpoint=http://127.0.0.1:9000&region=us-east-1`,
/// with the AWS conventions filling in what the URL does not say:
/// `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`, `AWS_REGION` / `AWS_DEFAULT_REGION`,
/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`.
public struct S3Configuration: Sendable, Equatable {
    /// The bucket's name.
    public var bucket: String
    /// Prepended to every key: `""` or a path ending in `/`, so several databases can share a bucket.
    public var prefix: String
    /// `http` or `https`.
    public var scheme: String
    /// The endpoint's host name or address (without the bucket).
    public var host: String
    /// The endpoint's port; nil for the scheme's default.
    public var port: Int?
    /// Path-style addressing (`host/bucket/key`) instead of virtual-hosted (`bucket.host/key`).
    public var pathStyle: Bool
    /// The IP address to connect to instead of resolving the host name, as `curl --resolve`
    /// does; requests still name the host in their `Host` header (and signature). For an
    /// endpoint whose names do not resolve, such as virtual-hosted buckets on a local server.
    public var address: String?
    /// The region requests are signed for.
    public var region: String
    /// The credentials; nil sends unsigned requests (a public bucket, or a test server).
    public var credentials: S3Credentials?
    /// How long one request may take, from sending to the last byte of the reply.
    public var requestTimeout: Duration = .seconds(30)
    /// Attempts per operation before a transient failure is reported.
    public var maxAttempts = 6
    /// The local disk cache of immutable objects; nil for none.
    public var cacheDirectory: String?
    /// The disk cache's size limit in bytes.
    public var cacheBytes = 1 << 30
    /// Objects larger than this go up as multipart uploads.
    public var multipartThreshold = 16 << 20
    /// The size of each part of a multipart upload (S3 requires at least 5 MiB).
    public var partSize = 8 << 20
    /// Parts of one upload in flight at once.
    public var partConcurrency = 4
    /// Keys asked for per ListObjectsV2 request (S3 returns at most 1000); longer
    /// listings follow the server's continuation token.
    public var listPageSize = 1000

    /// Creates a configuration for `bucket` at an endpoint.
    public init(
        bucket: String, prefix: String = "", endpoint: String = "https://s3.us-east-1.amazonaws.com",
        region: String = "us-east-1", pathStyle: Bool? = nil, credentials: S3Credentials? = nil
    ) throws {
        self.bucket = bucket
        self.prefix = prefix
        self.region = region
        self.credentials = credentials
        (scheme, host, port) = try Self.parseEndpoint(endpoint)
        // Buckets on AWS itself are addressed by host name; local and custom servers by path.
        self.pathStyle = pathStyle ?? !host.hasSuffix("amazonaws.com")
        try validate()
    }

    /// True when `location` names a bucket (`s3://...`) rather than a directory.
    public static func isS3URL(_ location: String) -> Bool { location.hasPrefix("s3://") }

    /// Parses `s3://bucket[/prefix][?name=value&...]`. Query parameters: `endpoint`,
    /// `region`, `addressing` (`path` or `virtual`), `access_key_id`,
    /// `secret_access_key`, `session_token`, `timeout` (seconds), `attempts`,
    /// `cache` (a directory, or `none`), `cache_size` (bytes; `K`, `M`, `G` suffixes) and
    /// `address` (an IP address to connect to instead of resolving the endpoint's host; http only).
    /// Values the URL omits come from `environment` (the process's by default).
    public static func parse(_ url: String, environment: [String: String]? = nil) throws -> S3Configuration {
        let env = environment ?? processEnvironment()
        guard isS3URL(url) else { throw StoreError.permanent("not an s3:// URL: \(url)") }
        var rest = Substring(url.dropFirst(5))
        var params: [String: String] = [:]
        if let q = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: q)...].split(separator: "&") where !pair.isEmpty {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard let name = S3URI.decode(kv[0], plusIsSpace: true),
                    let value = S3URI.decode(kv.count > 1 ? kv[1] : "", plusIsSpace: true)
                else { throw StoreError.permanent("malformed query parameter '\(pair)' in \(url)") }
                params[name] = value
            }
            rest = rest[..<q]
        }
        let known: Set = [
            "endpoint", "region", "addressing", "access_key_id", "secret_access_key", "session_token", "timeout",
            "attempts", "cache", "cache_size", "address",
        ]
        if let unknown = params.keys.first(where: { !known.contains($0) }) {
            throw StoreError.permanent("unknown parameter '\(unknown)' in \(url); known: \(known.sorted().joined(separator: ", "))")
        }
        let bucket = String(rest.prefix { $0 != "/" })
        var prefix = String(rest.dropFirst(bucket.count + 1))
        while prefix.hasSuffix("/") { prefix.removeLast() }
        if !prefix.isEmpty { prefix += "/" }
        let region = params["region"] ?? env["AWS_REGION"] ?? env["AWS_DEFAULT_REGION"] ?? "us-east-1"
        let endpoint = params["endpoint"] ?? env["AWS_ENDPOINT_URL_S3"] ?? env["AWS_ENDPOINT_URL"]
            ?? "https://s3.\(region).amazonaws.com"
        var pathStyle: Bool?
        switch params["addressing"] {
        case nil: pathStyle = nil
        case "path": pathStyle = true
        case "virtual": pathStyle = false
        case let other?: throw StoreError.permanent("addressing must be 'path' or 'virtual', not '\(other)'")
        }
        var credentials: S3Credentials?
        let keyID = params["access_key_id"] ?? env["AWS_ACCESS_KEY_ID"]
        let secret = params["secret_access_key"] ?? env["AWS_SECRET_ACCESS_KEY"]
        if let keyID, let secret, !keyID.isEmpty {
            credentials = S3Credentials(
                accessKeyID: keyID, secretAccessKey: secret, sessionToken: params["session_token"] ?? env["AWS_SESSION_TOKEN"])
        } else if keyID != nil || secret != nil {
            throw StoreError.permanent("an access key id needs its secret access key, and the other way round")
        }
        var config = try S3Configuration(
            bucket: bucket, prefix: prefix, endpoint: endpoint, region: region, pathStyle: pathStyle, credentials: credentials)
        if let t = params["timeout"] {
            guard let seconds = Double(t), seconds > 0 else { throw StoreError.permanent("timeout must be a positive number of seconds") }
            config.requestTimeout = .milliseconds(Int(seconds * 1000))
        }
        if let address = params["address"] {
            guard config.scheme == "http" else {
                // TLS would check the certificate against the address, not the host it names.
                throw StoreError.permanent("address= works with http endpoints only")
            }
            var buffer = in6_addr()
            guard inet_pton(AF_INET, address, &buffer) == 1 || inet_pton(AF_INET6, address, &buffer) == 1 else {
                throw StoreError.permanent("address '\(address)' is not an IP address")
            }
            config.address = address
        }
        if let a = params["attempts"] {
            guard let n = Int(a), n >= 1 else { throw StoreError.permanent("attempts must be at least 1") }
            config.maxAttempts = n
        }
        switch params["cache"] {
        case "none"?: config.cacheDirectory = nil
        case let dir?: config.cacheDirectory = dir
        case nil:
            let base = env["XDG_CACHE_HOME"] ?? (env["HOME"].map { $0 + "/.cache" } ?? "/tmp")
            config.cacheDirectory = "\(base)/strata/\(config.host)-\(config.port ?? 0)-\(bucket)/\(prefix)"
        }
        if let size = params["cache_size"] {
            guard let n = parseByteCount(size) else { throw StoreError.permanent("cache_size '\(size)' is not a byte count") }
            config.cacheBytes = n
        }
        return config
    }

    /// The `Host` header value: the endpoint, with the bucket in front for virtual-hosted addressing.
    public var hostHeader: String {
        let h = pathStyle ? host : "\(bucket).\(host)"
        return port.map { "\(h):\($0)" } ?? h
    }

    /// The request path (URI-encoded) of `key` (a key inside the prefix), or of the bucket for nil.
    public func path(for key: String?) -> String {
        let base = pathStyle ? "/" + bucket : ""
        guard let key else { return pathStyle ? base : "/" }
        return base + "/" + S3URI.encode(prefix + key, keepSlash: true)
    }

    /// The absolute URL of a request path: at ``address`` when one is set, else at the ``hostHeader`` name.
    public func url(path: String, query: [(String, String)]) -> String {
        var authority = hostHeader
        if let address {
            let a = address.contains(":") ? "[\(address)]" : address
            authority = port.map { "\(a):\($0)" } ?? a
        }
        var u = "\(scheme)://\(authority)\(path)"
        if !query.isEmpty {
            u += "?" + query.map { S3URI.encode($0.0, keepSlash: false) + "=" + S3URI.encode($0.1, keepSlash: false) }
                .joined(separator: "&")
        }
        return u
    }

    private func validate() throws {
        let b = bucket.utf8
        let ok = b.count >= 3 && b.count <= 63
            && b.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d || $0 == 0x2e }
        guard ok else {
            throw StoreError.permanent("invalid bucket name '\(bucket)': 3 to 63 lowercase letters, digits, '-' or '.'")
        }
        if !prefix.isEmpty { try validateKey(prefix + "x") }
    }

    static func parseEndpoint(_ endpoint: String) throws -> (String, String, Int?) {
        let parts = endpoint.split(separator: "://", maxSplits: 1).map(String.init)
        guard parts.count == 2, parts[0] == "http" || parts[0] == "https" else {
            throw StoreError.permanent("endpoint must be http://HOST[:PORT] or https://HOST[:PORT], not '\(endpoint)'")
        }
        var authority = Substring(parts[1])
        while authority.hasSuffix("/") { authority.removeLast() }
        guard !authority.isEmpty, !authority.contains("/") else {
            throw StoreError.permanent("endpoint '\(endpoint)' must not have a path")
        }
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
            guard let port = Int(authority[authority.index(after: colon)...]), port > 0, port < 65536 else {
                throw StoreError.permanent("bad port in endpoint '\(endpoint)'")
            }
            return (parts[0], String(authority[..<colon]), port)
        }
        return (parts[0], String(authority), nil)
    }

    static func parseByteCount(_ s: String) -> Int? {
        var digits = Substring(s.uppercased())
        var unit = 1
        if digits.hasSuffix("IB") { digits.removeLast(2) } else if digits.hasSuffix("B") { digits.removeLast() }
        switch digits.last {
        case "K": unit = 1 << 10
        case "M": unit = 1 << 20
        case "G": unit = 1 << 30
        case "T": unit = 1 << 40
        default: break
        }
        if unit > 1 { digits.removeLast() }
        guard let n = Int(digits), n >= 0 else { return nil }
        return n * unit
    }

    static func processEnvironment() -> [String: String] {
        var env: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") { env[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
            p += 1
        }
        return env
    }
}
