import Foundation
import StrataEngine
import StrataLocalServers
import StrataStore
import Testing

@testable import StrataServer

/// Logins with SCRAM-SHA-256 against roles stored in the database, through psql (libpq's
/// own SCRAM client).
extension PostgresServerTests {
    static let roles = """
        CREATE ROLE app LOGIN PASSWORD 'pencil';
        CREATE ROLE locked PASSWORD 'pencil';
        CREATE ROLE nopassword LOGIN;
        """

    @Test func psqlLogsInWithAPasswordAndOnlyWithTheRightOne() async throws {
        let server = try await ServeProcess(trust: false, setup: Self.roles)
        let (status, lines) = try await psql(
            server.port, "CREATE TABLE t (a INT); INSERT INTO t VALUES ($1);".replacingOccurrences(of: "$1", with: "7")
                + "SELECT a, current_user FROM t;", user: "app", password: "pencil")
        #expect(status == 0 && lines == ["CREATE TABLE", "INSERT 0 1", "7|app"], "\(lines)")

        // Wrong password, unknown role, no password: the client learns the same thing.
        for (user, password) in [("app", "pencil2"), ("ghost", "pencil"), ("nopassword", "pencil")] {
            let started = ContinuousClock.now
            let (status, lines) = try await psql(server.port, "SELECT 1;", user: user, password: password)
            #expect(status != 0)
            #expect(lines.contains { $0.contains("FATAL:  password authentication failed for user \"\(user)\"") }, "\(lines)")
            // Failed logins are slowed down (one second by default).
            #expect(ContinuousClock.now - started >= .milliseconds(900))
        }
        // The right password of a NOLOGIN role is still refused.
        let (lockedStatus, locked) = try await psql(server.port, "SELECT 1;", user: "locked", password: "pencil")
        #expect(lockedStatus != 0 && locked.contains { $0.contains("role \"locked\" is not permitted to log in") }, "\(locked)")

        // Every failure is in the server's log, with the reason the client was not told.
        let log = server.output.joined(separator: "\n")
        #expect(log.contains("password authentication failed for user \"app\" (wrong password)"), "\(log)")
        #expect(log.contains("password authentication failed for user \"ghost\" (the role does not exist)"), "\(log)")
        #expect(log.contains("password authentication failed for user \"nopassword\" (the role has no password)"), "\(log)")
        #expect(log.contains("login refused for role \"locked\""), "\(log)")
    }

    @Test func rolesChangedThroughTheServerTakeEffectForTheNextLogin() async throws {
        let server = try await ServeProcess(trust: false, setup: Self.roles)
        var (status, lines) = try await psql(
            server.port, "CREATE ROLE second LOGIN PASSWORD 'two'; ALTER ROLE app PASSWORD 'new';", user: "app", password: "pencil")
        #expect(status == 0 && lines == ["CREATE ROLE", "ALTER ROLE"], "\(lines)")
        (status, lines) = try await psql(server.port, "SELECT current_user;", user: "second", password: "two")
        #expect(status == 0 && lines == ["second"], "\(lines)")
        (status, _) = try await psql(server.port, "SELECT 1;", user: "app", password: "pencil")
        #expect(status != 0, "the old password no longer works")
        (status, lines) = try await psql(server.port, "DROP ROLE app;", user: "app", password: "new")
        #expect(lines.contains("ERROR:  current user cannot be dropped"), "\(lines)")
    }

    @Test func withoutTrustOrALoginRoleTheServerDoesNotStart() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("strata-noroles-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let child = try ChildProcess(
            ChildProcess.strataExecutable(), ["serve", dir + "/db", "--listen", "127.0.0.1:0"], output: dir + "/out.txt",
            mergeErrors: true)
        #expect(await child.wait() != 0)
        let text = child.lines.joined(separator: "\n")
        #expect(text.contains("no role can log in with a password yet") && text.contains("CREATE ROLE"), "\(text)")
    }

    @Test func aRoleConnectionLimitCountsOpenSessions() async throws {
        let server = PostgresServer(engine: try await Engine.open(MemoryStore()))
        #expect(server.beginLogin("app", limit: 2) && server.beginLogin("app", limit: 2))
        #expect(!server.beginLogin("app", limit: 2), "a third session is over the limit")
        #expect(server.beginLogin("other", limit: 2), "limits are per role")
        server.endLogin("app")
        #expect(server.beginLogin("app", limit: 2), "an ended session frees its place")
        #expect(!server.beginLogin("app", limit: 0) && server.beginLogin("app", limit: nil))
    }
}
