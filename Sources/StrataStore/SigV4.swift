import Crypto

/// AWS credentials: an access key pair and, for temporary credentials, a session token.
public struct S3Credentials: Sendable, Equatable {
    /// The access key id (`AWS_ACCESS_KEY_ID`).
    public var accessKeyID: String
    /// The secret access key (`AWS_SECRET_ACCESS_KEY`).
    public var secretAccessKey: String
    /// The session token of temporary credentials (`AWS_SESSION_TOKEN`).
    public var sessionToken: String?

    /// Creates credentials.
    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }
}

/// Signs requests with AWS Signature Version 4 (the `Authorization` header form),
/// the scheme every S3-compatible server accepts.
///
/// The signature covers the method, path, query, the headers named in
/// `SignedHeaders` and the payload's SHA-256, so a request altered in flight is refused.
public struct SigV4Signer: Sendable {
    /// The credentials requests are signed with.
    public let credentials: S3Credentials
    /// The region in the credential scope, e.g. `us-east-1`.
    public let region: String
    /// The service in the credential scope: `s3`.
    public let service: String

    /// Creates a signer for `region` and `service`.
    public init(credentials: S3Credentials, region: String, service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// The hex SHA-256 of an empty payload.
    public static let emptyPayloadHash = hexSHA256([])

    /// Adds `x-amz-date`, `x-amz-content-sha256`, the session token if any, and
    /// `authorization` to `headers`. `path` is the already URI-encoded path; `query`
    /// holds unencoded names and values; `headers` must include `host`.
    /// `date` is `yyyyMMdd'T'HHmmss'Z'` in UTC.
    public func sign(
        method: String, path: String, query: [(String, String)], headers: inout [(String, String)],
        payloadHash: String, date: String
    ) {
        headers.append(("x-amz-date", date))
        headers.append(("x-amz-content-sha256", payloadHash))
        if let token = credentials.sessionToken { headers.append(("x-amz-security-token", token)) }
        let canonical = headers.map { (name: $0.0.lowercased(), value: Self.trimmed($0.1)) }
            .sorted { $0.name < $1.name }
        let signedHeaders = canonical.map(\.name).joined(separator: ";")
        var encoded: [(name: String, value: String)] = []
        for (name, value) in query {
            encoded.append((S3URI.encode(name, keepSlash: false), S3URI.encode(value, keepSlash: false)))
        }
        encoded.sort { a, b in a.name == b.name ? a.value < b.value : a.name < b.name }
        let canonicalQuery = encoded.map { $0.name + "=" + $0.value }.joined(separator: "&")
        var request = method + "\n" + path + "\n" + canonicalQuery + "\n"
        for h in canonical { request += h.name + ":" + h.value + "\n" }
        request += "\n" + signedHeaders + "\n" + payloadHash
        let day = String(date.prefix(8))
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let toSign = "AWS4-HMAC-SHA256\n\(date)\n\(scope)\n\(Self.hexSHA256(Array(request.utf8)))"
        var key = SymmetricKey(data: Array(("AWS4" + credentials.secretAccessKey).utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        let signature = Self.hex(Array(HMAC<SHA256>.authenticationCode(for: Array(toSign.utf8), using: key)))
        headers.append((
            "authorization",
            "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope),SignedHeaders=\(signedHeaders),Signature=\(signature)"
        ))
    }

    /// The lowercase hex SHA-256 of `bytes`.
    public static func hexSHA256(_ bytes: [UInt8]) -> String { hex(Array(SHA256.hash(data: bytes))) }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Header values are signed with surrounding spaces removed and inner runs collapsed.
    static func trimmed(_ value: String) -> String {
        value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }

    /// `yyyyMMdd'T'HHmmss'Z'` for seconds since 1970 (UTC), without Foundation.
    public static func amzDate(secondsSince1970 t: Int) -> String {
        let days = t >= 0 ? t / 86400 : (t - 86399) / 86400
        let secs = t - days * 86400
        let (y, m, d) = CivilDate.fromDays(Int64(days))
        func two<T: BinaryInteger>(_ n: T) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(y)\(two(m))\(two(d))T\(two(secs / 3600))\(two(secs / 60 % 60))\(two(secs % 60))Z"
    }
}

/// URI encoding as S3 and SigV4 want it: every byte but `A-Z a-z 0-9 - _ . ~`
/// (and `/` in paths) as `%XX` with uppercase hex.
enum S3URI {
    static func encode(_ s: String, keepSlash: Bool) -> String {
        let hexDigits = Array("0123456789ABCDEF".utf8)
        var out = [UInt8]()
        out.reserveCapacity(s.utf8.count)
        for c in s.utf8 {
            let unreserved = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39)
                || c == 0x2d || c == 0x5f || c == 0x2e || c == 0x7e || (keepSlash && c == 0x2f)
            if unreserved {
                out.append(c)
            } else {
                out.append(0x25)
                out.append(hexDigits[Int(c >> 4)])
                out.append(hexDigits[Int(c & 15)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes `%XX` escapes (and `+` as a space when `plusIsSpace`); nil when malformed.
    static func decode(_ s: Substring, plusIsSpace: Bool = false) -> String? {
        var out = [UInt8]()
        var it = Array(s.utf8)[...]
        while let c = it.popFirst() {
            if c == 0x25 {
                guard it.count >= 2, let hi = hexValue(it.popFirst()!), let lo = hexValue(it.popFirst()!) else { return nil }
                out.append(hi << 4 | lo)
            } else if c == 0x2b && plusIsSpace {
                out.append(0x20)
            } else {
                out.append(c)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x37
        case 0x61...0x66: return c - 0x57
        default: return nil
        }
    }
}
