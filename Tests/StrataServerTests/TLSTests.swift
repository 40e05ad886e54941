import Foundation
import StrataLocalServers
import Testing

/// TLS: with `--tls-cert`/`--tls-key` an SSLRequest is answered `S` and the connection
/// continues encrypted (psql verifies the certificate and host name); `--tls-required`
/// refuses clients that do not ask for it.
extension PostgresServerTests {
    /// A self-signed certificate for 127.0.0.1, made with openssl in `dir`.
    static func makeCertificate(in dir: String) async throws -> (certificate: String, key: String) {
        let certificate = dir + "/server.crt", key = dir + "/server.key"
        let openssl = try ChildProcess(
            URL(fileURLWithPath: "/usr/bin/openssl"),
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", key, "-out", certificate, "-days", "2"],
            output: dir + "/openssl.txt", mergeErrors: true)
        guard await openssl.wait() == 0 else { throw ChildProcessError(message: "openssl failed: \(openssl.lines)") }
        return (certificate, key)
    }

    @Test func tlsIsOfferedVerifiedAndCanBeRequired() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("strata-tls-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (certificate, key) = try await Self.makeCertificate(in: dir)
        let setup = "CREATE ROLE app LOGIN PASSWORD 'pw'"
        let offered = try await ServeProcess(["--tls-cert", certificate, "--tls-key", key], trust: false, setup: setup)
        let verifyFull = "dbname=strata sslmode=verify-full sslrootcert=\(certificate)"
        let (status, lines) = try await psql(offered.port, "\\conninfo\nSELECT current_user, 40 + 2;\n", database: verifyFull, user: "app", password: "pw")
        #expect(status == 0, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("SSL connection (protocol: TLSv1.") }, "\(lines)")
        #expect(lines.contains("app|42"), "\(lines)")
        // Without TLS the same server still answers.
        let (plain, plainLines) = try await psql(offered.port, "SELECT 1;\n", database: "dbname=strata sslmode=disable", user: "app", password: "pw")
        #expect(plain == 0 && plainLines == ["1"], "\(plainLines)")
        // A certificate the client does not trust is refused by the client.
        let (untrusted, untrustedLines) = try await psql(
            offered.port, "SELECT 1;\n", database: "dbname=strata sslmode=verify-full sslrootcert=/etc/ssl/certs/ca-certificates.crt",
            user: "app", password: "pw")
        #expect(untrusted != 0 && untrustedLines.contains { $0.contains("certificate verify failed") }, "\(untrustedLines)")

        let required = try await ServeProcess(["--tls-cert", certificate, "--tls-key", key, "--tls-required"], trust: false, setup: setup)
        let (refused, refusedLines) = try await psql(required.port, "SELECT 1;\n", database: "dbname=strata sslmode=disable", user: "app", password: "pw")
        #expect(refused != 0 && refusedLines.contains { $0.contains("accepts TLS connections only") }, "\(refusedLines)")
        let (accepted, acceptedLines) = try await psql(required.port, "SELECT 2;\n", database: "dbname=strata sslmode=require", user: "app", password: "pw")
        #expect(accepted == 0 && acceptedLines == ["2"], "\(acceptedLines)")
    }
}
