import Foundation
import Logging
import PostgresNIO
import Testing

/// PostgresNIO, Swift's PostgreSQL client, against `strata serve`: a password login
/// (SCRAM-SHA-256), DDL, inserts with binary parameters, typed decoding, a rolled-back
/// transaction, an error that leaves the connection usable, and time travel.
extension PostgresServerTests {
    @Test func postgresNIORunsAnApplicationsQueries() async throws {
        let server = try await ServeProcess(trust: false, setup: "CREATE ROLE app LOGIN PASSWORD 'pw'")
        let logger = Logger(label: "strata.test.postgres-nio")
        let configuration = PostgresNIO.PostgresConnection.Configuration(
            host: "127.0.0.1", port: server.port, username: "app", password: "pw", database: "strata", tls: .disable)
        let connection: PostgresNIO.PostgresConnection
        do {
            connection = try await PostgresNIO.PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
        } catch {
            Issue.record("\(String(reflecting: error))")
            return
        }
        do {
            try await connection.query("CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT NOT NULL, price DOUBLE PRECISION, added DATE)", logger: logger)
            for (id, name, price) in [(1, "one", 1.5), (2, "two", 2.25), (3, "three", -3.0)] {
                let id = Int64(id)
                try await connection.query("INSERT INTO items (id, name, price) VALUES (\(id), \(name), \(price))", logger: logger)
            }
            var rows: [String] = []
            let minimum = 0.0
            for try await (id, name, price) in try await connection.query(
                "SELECT id, name, price FROM items WHERE price > \(minimum) ORDER BY id", logger: logger
            ).decode((Int64, String, Double).self) {
                rows.append("\(id) \(name) \(price)")
            }
            #expect(rows == ["1 one 1.5", "2 two 2.25"])

            // A transaction that throws is rolled back.
            struct Abandon: Error {}
            await #expect(throws: (any Error).self) {
                try await connection.withTransaction(logger: logger) { tx in
                    try await tx.query("DELETE FROM items", logger: logger)
                    throw Abandon()
                }
            }
            #expect(try await count(connection, logger) == 3)

            // An error names its SQLSTATE and leaves the connection usable.
            do {
                try await connection.query("SELECT * FROM nosuch", logger: logger)
                Issue.record("a query of a missing table succeeded")
            } catch let error as PSQLError {
                #expect(error.serverInfo?[.sqlState] == "42P01")
            }
            #expect(try await count(connection, logger) == 3)

            // Version 1 created the role, 2 the table, 3 the first row.
            let old = Int64(3)
            var seen: [String] = []
            for try await name in try await connection.query(
                "SELECT name FROM items FOR SYSTEM_TIME AS OF VERSION \(old) ORDER BY id", logger: logger
            ).decode(String.self) {
                seen.append(name)
            }
            #expect(seen == ["one"])
        } catch {
            // PSQLError hides the server's message unless reflected.
            Issue.record("\(String(reflecting: error))")
        }
        try await connection.close()
    }

    private func count(_ connection: PostgresNIO.PostgresConnection, _ logger: Logger) async throws -> Int64 {
        for try await n in try await connection.query("SELECT count(*) FROM items", logger: logger).decode(Int64.self) { return n }
        return -1
    }
}
