import StrataEngine
import StrataSQL
import Testing

/// Roles: created, altered, renamed and dropped with SQL, stored in the catalog with only
/// a SCRAM secret of their password, and visible to a login as of the newest commit.
@Suite struct RoleTests {
    @Test func rolesAreCreatedAlteredRenamedAndDropped() async throws {
        let db = try await memorySession()
        #expect(try await db.currentRoles().isEmpty)
        #expect(try await db.tag("CREATE ROLE app WITH LOGIN PASSWORD 'pencil' CONNECTION LIMIT 5") == "CREATE ROLE")
        #expect(try await db.tag("CREATE USER reader PASSWORD 'r'") == "CREATE ROLE")
        #expect(try await db.tag("CREATE ROLE nologin_role") == "CREATE ROLE")
        var roles = try await db.currentRoles()
        #expect(roles.keys.sorted() == ["app", "nologin_role", "reader"])
        #expect(roles["app"]?.canLogin == true && roles["app"]?.connectionLimit == 5)
        #expect(roles["reader"]?.canLogin == true, "CREATE USER implies LOGIN")
        #expect(roles["nologin_role"]?.canLogin == false && roles["nologin_role"]?.secret == nil)

        // Only the secret is stored, and it checks the right password.
        let secret = try #require(roles["app"]?.secret)
        #expect(!secret.text.contains("pencil"))
        let auth = Array("n=,r=abc,r=abcdef,s=x,i=4096,c=biws,r=abcdef".utf8)
        let proof = ScramSecret.clientProof(password: "pencil", salt: secret.salt, iterations: secret.iterations, authMessage: auth)
        #expect(secret.verify(proof: proof, authMessage: auth) != nil)
        let wrong = ScramSecret.clientProof(password: "pencil2", salt: secret.salt, iterations: secret.iterations, authMessage: auth)
        #expect(secret.verify(proof: wrong, authMessage: auth) == nil)

        #expect(try await db.tag("ALTER ROLE app NOLOGIN PASSWORD NULL") == "ALTER ROLE")
        roles = try await db.currentRoles()
        #expect(roles["app"]?.canLogin == false && roles["app"]?.secret == nil)
        #expect(try await db.tag("ALTER USER reader RENAME TO writer") == "ALTER ROLE")
        roles = try await db.currentRoles()
        #expect(roles["reader"] == nil && roles["writer"]?.canLogin == true && roles["writer"]?.secret != nil)
        #expect(try await db.tag("DROP ROLE writer, nologin_role") == "DROP ROLE")
        #expect(try await db.tag("DROP ROLE IF EXISTS writer") == "DROP ROLE")
        #expect(try await db.currentRoles().keys.sorted() == ["app"])
    }

    @Test func roleErrorsCarryTheirSQLState() async throws {
        let db = try await memorySession()
        _ = try await db.execute("CREATE ROLE app LOGIN PASSWORD 'x'")
        #expect(await db.sqlState("CREATE ROLE app") == "42710")
        #expect(await db.sqlState("CREATE ROLE pg_monitor2") == "42939")
        #expect(await db.sqlState("ALTER ROLE nobody LOGIN") == "42704")
        #expect(await db.sqlState("DROP ROLE nobody") == "42704")
        #expect(await db.sqlState("ALTER ROLE app RENAME TO app") == "42710")
        #expect(await db.sqlState("CREATE ROLE b PASSWORD 'md5" + String(repeating: "a", count: 32) + "'") == "0A000")
        #expect(await db.sqlState("CREATE ROLE b LOGIN PASSWORD") == "42601")
        #expect(await db.sqlState("CREATE ROLE b FLY") == "42601")
        db.user = "app"
        #expect(await db.sqlState("DROP ROLE app") == "55006")
        // The failed statements changed nothing.
        #expect(try await db.currentRoles().keys.sorted() == ["app"])
    }

    @Test func roleChangesAreTransactional() async throws {
        let db = try await memorySession()
        let other = Session(engine: db.engine)
        _ = try await db.execute("BEGIN; CREATE ROLE app LOGIN PASSWORD 'x'")
        // Not committed yet: a login (another session) does not see it.
        #expect(try await other.currentRoles().isEmpty)
        _ = try await db.execute("COMMIT")
        #expect(try await other.currentRoles().keys.sorted() == ["app"])
        // A rolled-back CREATE ROLE leaves no role behind.
        _ = try await db.execute("BEGIN; CREATE ROLE temp LOGIN; DROP ROLE app; ROLLBACK")
        #expect(try await other.currentRoles().keys.sorted() == ["app"])
    }

    @Test func aSecretMadeByPostgreSQLIsReadAndReproduced() throws {
        // Made by PostgreSQL 15: CREATE ROLE x PASSWORD 'pencil'; SELECT rolpassword FROM pg_authid.
        let text = "SCRAM-SHA-256$4096:11jbIu7FGVLnoYiffylJzA==$TkvAXgEe2k+U/yiye97haajmb00NVvvhVJA5uIJ2Ciw=:B1zZBsaRLX4K/iEzBYaZbKEh+RdnO+1phSYcPMXFrVc="
        let parsed = try #require(ScramSecret(parsing: text))
        #expect(parsed.text == text)
        #expect(ScramSecret(password: "pencil", salt: parsed.salt, iterations: 4096) == parsed)
        #expect(ScramSecret(password: "pencil!", salt: parsed.salt, iterations: 4096) != parsed)
        for broken in ["", "SCRAM-SHA-256$", "SCRAM-SHA-256$4096:!!$a:b", "MD5$1:AA==$AA==:AA==", String(text.dropLast(4))] {
            #expect(ScramSecret(parsing: broken) == nil, "\(broken)")
        }
    }

    @Test func aStoredSecretIsKeptAsGiven() async throws {
        let db = try await memorySession()
        let text = "SCRAM-SHA-256$4096:11jbIu7FGVLnoYiffylJzA==$TkvAXgEe2k+U/yiye97haajmb00NVvvhVJA5uIJ2Ciw=:B1zZBsaRLX4K/iEzBYaZbKEh+RdnO+1phSYcPMXFrVc="
        _ = try await db.execute("CREATE ROLE moved LOGIN PASSWORD '\(text)'")
        #expect(try await db.currentRoles()["moved"]?.secret?.text == text)
    }
}
