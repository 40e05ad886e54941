import Foundation
import StrataLocalServers
import StrataStore
import Testing

@Suite struct S3StoreTests {
    /// The example request of AWS's SigV4 documentation (GET /test.txt with a range),
    /// signed with its example keys, gives the documented signature.
    @Test func signatureMatchesTheAWSExample() {
        let signer = SigV4Signer(
            credentials: S3Credentials(
                accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            region: "us-east-1")
        var headers = [("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9")]
        signer.sign(
            method: "GET", path: "/test.txt", query: [], headers: &headers, payloadHash: SigV4Signer.emptyPayloadHash,
            date: "20130524T000000Z")
        let auth = headers.first { $0.0 == "authorization" }?.1
        #expect(
            auth
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        )
        #expect(SigV4Signer.amzDate(secondsSince1970: 1_369_353_600) == "20130524T000000Z")
        #expect(SigV4Signer.amzDate(secondsSince1970: 951_782_400 + 3661) == "20000229T010101Z")
    }

    @Test func urlsAndEnvironmentConfigureTheStore() throws {
        let env = [
            "AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK", "AWS_SESSION_TOKEN": "TOK", "AWS_REGION": "eu-west-1",
            "HOME": "/home/u",
        ]
        let c = try S3Configuration.parse("s3://my-bucket/apps/db1/?endpoint=http://127.0.0.1:9000&cache_size=64MiB", environment: env)
        #expect(c.bucket == "my-bucket" && c.prefix == "apps/db1/")
        #expect(c.scheme == "http" && c.host == "127.0.0.1" && c.port == 9000 && c.pathStyle)
        #expect(c.region == "eu-west-1")
        #expect(c.credentials == S3Credentials(accessKeyID: "AK", secretAccessKey: "SK", sessionToken: "TOK"))
        #expect(c.cacheBytes == 64 << 20)
        #expect(c.cacheDirectory == "/home/u/.cache/strata/127.0.0.1-9000-my-bucket/apps/db1/")
        #expect(c.url(path: c.path(for: "obj/a b"), query: []) == "http://127.0.0.1:9000/my-bucket/apps/db1/obj/a%20b")

        // With no endpoint, AWS itself, addressed by host name.
        let aws = try S3Configuration.parse("s3://logs?region=us-west-2&cache=none", environment: ["AWS_ENDPOINT_URL": ""].filter { !$0.value.isEmpty })
        #expect(aws.hostHeader == "logs.s3.us-west-2.amazonaws.com" && !aws.pathStyle && aws.scheme == "https")
        #expect(aws.credentials == nil && aws.cacheDirectory == nil)
        #expect(aws.url(path: aws.path(for: "k"), query: [("list-type", "2")]) == "https://logs.s3.us-west-2.amazonaws.com/k?list-type=2")
        let forced = try S3Configuration.parse("s3://b12?endpoint=http://localhost:1234&addressing=virtual", environment: [:])
        #expect(forced.hostHeader == "b12.localhost:1234")
        let pinned = try S3Configuration.parse("s3://b12/p?endpoint=http://s3.example.test:81&addressing=virtual&address=10.0.0.7", environment: [:])
        #expect(pinned.url(path: pinned.path(for: "k"), query: []) == "http://10.0.0.7:81/p/k" && pinned.hostHeader == "b12.s3.example.test:81")
        #expect(try S3Configuration.parse("s3://b12", environment: ["AWS_ENDPOINT_URL": "https://minio.local"]).host == "minio.local")

        for bad in ["s3://A_B", "s3://ok-bucket?endpoint=ftp://x", "s3://ok-bucket?colour=red", "s3://ok-bucket?addressing=odd",
            "s3://ok-bucket?cache_size=lots", "s3://ok-bucket?access_key_id=only", "s3://ok-bucket?endpoint=http://h:0",
            "s3://ok-bucket?endpoint=http://h&address=h2", "s3://ok-bucket?endpoint=https://h&address=127.0.0.1"]
        {
            #expect(throws: StoreError.self, "\(bad)") { try S3Configuration.parse(bad, environment: [:]) }
        }
    }

    /// Virtual-hosted requests (`Host: bucket.endpoint`) reach the bucket they name: moto
    /// routes by the Host header, and `address=` connects to it although the name does not resolve.
    @Test func virtualHostedAddressingReachesTheBucket() async throws {
        let moto = try await MotoServer.shared()
        let pathStyle = try await moto.makeBucket()
        let port = pathStyle.port!
        let url = "s3://\(pathStyle.bucket)/db?endpoint=http://s3.strata.test:\(port)&addressing=virtual&address=127.0.0.1"
            + "&access_key_id=testing&secret_access_key=testing&cache=none"
        var config = try S3Configuration.parse(url, environment: [:])
        #expect(!config.pathStyle && config.hostHeader == "\(pathStyle.bucket).s3.strata.test:\(port)")
        config.listPageSize = 2
        let store = S3Store(config)
        for i in 0..<5 { try await store.put("k\(i)", Array("value \(i)".utf8)) }
        try await store.putIfAbsent("once", [1, 2, 3])
        await #expect(throws: StoreError.alreadyExists("once")) { try await store.putIfAbsent("once", [9]) }
        #expect(try await store.get("k3", range: 2..<7) == Array("lue 3".utf8))
        #expect(try await store.listAll(prefix: "k").map(\.key) == ["k0", "k1", "k2", "k3", "k4"])
        try await store.delete("k0")
        #expect(store.statistics.requests >= 10)

        // The same objects, seen path-style: the Host header chose the bucket and the prefix held.
        var direct = pathStyle
        direct.prefix = "db/"
        #expect(try await S3Store(direct).listAll(prefix: "").map(\.key) == ["k1", "k2", "k3", "k4", "once"])
        #expect(try await S3Store(direct).get("once") == [1, 2, 3])

        // A bucket that does not exist, named only in the Host header, is reported as such.
        var missing = config
        missing.bucket = "no-such-bucket-\(UInt32.random(in: 0...UInt32.max))"
        do {
            try await S3Store(missing).put("k1", [1])
            Issue.record("a missing bucket answered")
        } catch let StoreError.permanent(message) {
            #expect(message.contains("does not exist"), "\(message)")
        }
    }

    /// Two databases under different prefixes of one bucket never see each other's keys.
    @Test func prefixesKeepDatabasesApart() async throws {
        let moto = try await MotoServer.shared()
        var a = try await moto.makeBucket()
        var b = a
        a.prefix = "one/"
        b.prefix = "two/"
        let sa = S3Store(a), sb = S3Store(b)
        try await sa.put("k", Array("a".utf8))
        try await sb.putIfAbsent("k", Array("b".utf8))
        #expect(try await sa.get("k") == Array("a".utf8))
        #expect(try await sb.listAll(prefix: "").map(\.key) == ["k"])
        #expect(try await S3Store(try await moto.makeBucket()).listAll(prefix: "").isEmpty)
    }

    /// Listings longer than a server page follow the continuation token.
    @Test func listingsFollowContinuationTokens() async throws {
        var config = try await MotoServer.shared().makeBucket()
        config.listPageSize = 3
        let store = S3Store(config)
        for i in 0..<11 { try await store.put("p/\(i < 10 ? "0" : "")\(i)", [UInt8(i)]) }
        let before = store.statistics.lists
        let page = try await store.list(prefix: "p/", startAfter: "p/01", limit: 5)
        #expect(page.objects.map(\.key) == ["p/02", "p/03", "p/04", "p/05", "p/06"])
        #expect(page.nextStartAfter == "p/06")
        #expect(store.statistics.lists - before == 2)
        #expect(try await store.listAll(prefix: "p/").count == 11)
    }

    /// A large object goes up and comes back whole, and ranged reads of it are exact.
    @Test func largeObjectsAndRanges() async throws {
        let store = S3Store(try await MotoServer.shared().makeBucket())
        let big = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        try await store.put("obj/big", big)
        #expect(try await store.get("obj/big") == big)
        #expect(try await store.get("obj/big", range: 1_000_000..<1_000_100) == Array(big[1_000_000..<1_000_100]))
        #expect(try await store.get("obj/big", range: big.count - 5..<big.count + 100) == Array(big.suffix(5)))
        #expect(try await store.get("obj/big", range: big.count + 1..<big.count + 10) == [])
        #expect(store.statistics.bytesSent >= big.count && store.statistics.bytesReceived >= big.count)
    }

    /// An object over the multipart threshold goes up in parts, several at once, and
    /// comes back whole; a smaller one is one PUT.
    @Test func largeObjectsGoUpInParts() async throws {
        var config = try await MotoServer.shared().makeBucket()
        config.multipartThreshold = 6 << 20
        config.partSize = 5 << 20
        config.partConcurrency = 2
        let store = S3Store(config)
        let big = (0..<(13 << 20 + 17)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 11) }
        try await store.put("obj/parts", big)
        // Start, three parts, complete.
        #expect(store.statistics.puts == 5 && store.statistics.requests == 5)
        #expect(try await store.get("obj/parts") == big)
        #expect(try await store.get("obj/parts", range: (5 << 20) - 3..<(5 << 20) + 3) == Array(big[(5 << 20) - 3..<(5 << 20) + 3]))
        #expect(try await store.listAll(prefix: "obj/").map(\.size) == [big.count])
        try await store.put("obj/small", Array(big.prefix(6 << 20)))
        #expect(store.statistics.puts == 6)
    }

    /// A server that is not there: every attempt fails, is retried with backoff, and
    /// the error is reported as transient after `maxAttempts`.
    @Test func unreachableServersAreRetriedThenReportedTransient() async throws {
        var config = try S3Configuration(bucket: "nobody", endpoint: "http://127.0.0.1:9")
        config.maxAttempts = 3
        config.requestTimeout = .milliseconds(500)
        let store = S3Store(config)
        await #expect {
            _ = try await store.get("obj/x")
        } throws: { e in
            (e as? StoreError)?.isRetryable == true
        }
        #expect(store.statistics.requests == 3 && store.statistics.retries == 2)
        await #expect {
            try await store.putIfAbsent("log/main/1", [1])
        } throws: { e in
            (e as? StoreError)?.isRetryable == true
        }
    }

    /// Wrong credentials or a missing bucket are permanent errors that say so.
    @Test func missingBucketsArePermanentErrors() async throws {
        let moto = try await MotoServer.shared()
        let store = S3Store(try S3Configuration(bucket: "no-such-bucket-here", endpoint: moto.endpoint))
        await #expect {
            try await store.put("obj/x", [1])
        } throws: { e in
            guard let e = e as? StoreError, !e.isRetryable else { return false }
            return e.description.contains("does not exist")
        }
    }
}
