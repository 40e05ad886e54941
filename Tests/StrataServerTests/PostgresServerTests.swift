import Foundation
import StrataEngine
import StrataLocalServers
import StrataServer
import StrataStore
import Synchronization
import Testing

/// `strata serve`'s protocol driven by real clients: psql, and raw sockets for broken input.
@Suite(.serialized) struct PostgresServerTests {
    /// Runs `psql` with `script` on standard input; returns everything it printed.
    func psql(
        _ port: Int, _ script: String, database: String = "strata", user: String = "tester", password: String? = nil,
        format: [String] = ["-A", "-t"]
    ) async throws -> (Int32, [String]) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("strata-psql-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let child = try ChildProcess(
            URL(fileURLWithPath: "/usr/bin/psql"),
            ["-X"] + format + ["-w", "-h", "127.0.0.1", "-p", String(port), "-U", user, "-d", database],
            output: dir + "/out.txt", mergeErrors: true, input: script,
            environment: ["PGCONNECT_TIMEOUT": "10", "PGPASSWORD": password ?? ""])
        let status = await child.wait()
        return (status, child.lines)
    }

    @Test func psqlCreatesInsertsSelectsAndRollsBack() async throws {
        let server = try await ServeProcess()
        let port = server.port
        let (status, lines) = try await psql(
            port,
            """
            CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, price NUMERIC, at DATE);
            INSERT INTO t VALUES (1, 'one', 1.25, '2026-01-02'), (2, NULL, 2, NULL);
            SELECT id, name, price, at FROM t ORDER BY id;
            BEGIN;
            INSERT INTO t VALUES (3, 'three', 3, NULL);
            SELECT count(*) FROM t;
            ROLLBACK;
            SELECT count(*) AS n FROM t;
            SELECT * FROM nosuch;
            SELECT 'still ' || 'usable';
            """)
        #expect(status == 0, "\(lines)")
        #expect(
            lines == [
                "CREATE TABLE", "INSERT 0 2", "1|one|1.25|2026-01-02", "2||2|", "BEGIN", "INSERT 0 1", "3", "ROLLBACK", "2",
                "ERROR:  relation \"nosuch\" does not exist", "still usable",
            ], "\(lines)")
    }

    /// pgbench drives the extended protocol: `-M extended` (unnamed statements and portals)
    /// and `-M prepared` (named statements across Syncs), next to `-M simple`. Two clients
    /// updating the same rows meet serialization failures (40001, as under PostgreSQL's
    /// SERIALIZABLE); pgbench retries them, and every transaction ends up done.
    @Test func pgbenchRunsInEveryQueryMode() async throws {
        let server = try await ServeProcess()
        let port = server.port
        let (status, lines) = try await psql(
            port,
            """
            CREATE TABLE accounts (aid INTEGER PRIMARY KEY, abalance INTEGER NOT NULL, note TEXT);
            INSERT INTO accounts SELECT x, 0, NULL FROM generate_series(1, 50) AS g(x);
            """)
        #expect(status == 0, "\(lines)")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("strata-pgbench-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let script = """
            \\set aid random(1, 50)
            \\set delta random(-100, 100)
            BEGIN;
            UPDATE accounts SET abalance = abalance + :delta, note = 'n' || :aid WHERE aid = :aid;
            SELECT abalance, note FROM accounts WHERE aid = :aid;
            END;
            UPDATE accounts SET abalance = abalance - :delta WHERE aid = :aid;

            """
        try script.write(toFile: dir + "/script.sql", atomically: true, encoding: .utf8)
        for mode in ["simple", "extended", "prepared"] {
            let child = try ChildProcess(
                URL(fileURLWithPath: "/usr/bin/pgbench"),
                [
                    "-n", "-h", "127.0.0.1", "-p", String(port), "-U", "tester", "-M", mode, "-c", "2", "-t", "40",
                    "--max-tries", "100", "-f", dir + "/script.sql", "strata",
                ],
                output: dir + "/\(mode).txt", mergeErrors: true)
            #expect(await child.wait() == 0, "\(mode): \(child.lines)")
            #expect(child.lines.contains("number of transactions actually processed: 80/80"), "\(mode): \(child.lines)")
            #expect(child.lines.contains { $0.hasPrefix("number of failed transactions: 0 ") }, "\(mode): \(child.lines)")
        }
        // Each transaction adds delta and the next statement takes it away again.
        let (_, sums) = try await psql(port, "SELECT sum(abalance), count(note) FROM accounts;")
        #expect(sums.count == 1 && sums[0].hasPrefix("0|"), "\(sums)")
    }

    /// Time travel and the session functions clients ask for, through the server.
    @Test func timeTravelAndSettingsThroughTheServer() async throws {
        let server = try await ServeProcess()
        let port = server.port
        let (status, lines) = try await psql(
            port,
            """
            CREATE TABLE p (id INTEGER PRIMARY KEY, v TEXT);
            INSERT INTO p VALUES (1, 'old');
            UPDATE p SET v = 'new' WHERE id = 1;
            SELECT v FROM p FOR SYSTEM_TIME AS OF VERSION 2;
            SELECT v FROM p;
            SELECT count(*) FROM p FOR SYSTEM_TIME ALL;
            SHOW server_version;
            SET application_name = 'tests';
            SHOW application_name;
            SELECT current_schema();
            """)
        #expect(status == 0, "\(lines)")
        #expect(
            lines == ["CREATE TABLE", "INSERT 0 1", "UPDATE 1", "old", "new", "2", "15.0", "SET", "tests", "public"], "\(lines)")
    }

    @Test func aWrongDatabaseNameIsRefused() async throws {
        let server = try await ServeProcess()
        let port = server.port
        let (status, lines) = try await psql(port, "SELECT 1;", database: "other")
        #expect(status != 0)
        #expect(lines.contains { $0.contains("database \"other\" does not exist") }, "\(lines)")
    }

    /// Garbage, a truncated startup packet and an oversized length each end their own
    /// connection with an error; the server keeps serving others.
    @Test func brokenConnectionsEndAloneWithAnError() async throws {
        let server = try await ServeProcess()
        let port = server.port
        let garbage: [[UInt8]] = [
            Array("GET / HTTP/1.1\r\n\r\n".utf8),
            [0, 0, 0, 8, 0, 2, 0, 0],  // protocol 2.0
            [0, 0, 0, 3],  // a length shorter than itself
            RawClient.startupPacket() + [UInt8(ascii: "Q"), 0x7f, 0xff, 0xff, 0xff],  // a 2 GiB query
            RawClient.startupPacket() + [UInt8(ascii: "Q"), 0, 0, 0, 9, 0x41, 0x42, 0x43, 0x44, 0x45],  // no terminator
            RawClient.startupPacket() + [UInt8(ascii: "!"), 0, 0, 0, 4],  // unknown message type
        ]
        for bytes in garbage {
            let reply = try await blocking { try exchange(port, bytes) }
            #expect(reply.contains(UInt8(ascii: "E")), "no error for \(bytes.prefix(16))")
            #expect(String(decoding: reply, as: UTF8.self).contains("08P01"), "\(String(decoding: reply, as: UTF8.self))")
        }
        let (status, lines) = try await psql(port, "SELECT 40 + 2;")
        #expect(status == 0 && lines == ["42"], "\(lines)")
    }

    /// Sends `bytes` on a new connection and reads until the server closes it (5 s at most).
    @Sendable func exchange(_ port: Int, _ bytes: [UInt8]) throws -> [UInt8] {
        let client = try RawClient(port: port, timeout: 5)
        client.send(bytes)
        var reply: [UInt8] = []
        while let m = client.next() { reply += [m.type.asciiValue!] + m.body }
        return reply
    }
}
