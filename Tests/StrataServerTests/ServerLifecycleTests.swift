import Foundation
import StrataEngine
import StrataLocalServers
import StrataSQL
import StrataServer
import StrataStore
import Synchronization
import Testing

/// Connection limits, idle timeouts, many connections at once, and shutdown.
@Suite(.serialized) struct ServerLifecycleTests {
    @Test func theConnectionLimitRefusesAndIdleConnectionsAreClosed() async throws {
        let server = try await ServeProcess(["--max-connections", "3", "--idle-timeout", "4"])
        let port = server.port
        // Everything before the idle timeout happens on one thread, quickly: a loaded
        // machine must not turn the held connections idle before the checks.
        let (held, refused, used) = try await blocking { () -> ([RawClient], String?, [String]) in
            let held = try (0..<3).map { _ in
                let c = try RawClient(port: port)
                #expect(c.startup().last?.type == "Z")
                return c
            }
            let extra = try RawClient(port: port)
            let refused = extra.startup().first(where: { $0.type == "E" }).flatMap { RawClient.sqlState($0.body) }
            let used = RawClient.firstColumns(held[0].query("SELECT count(*) FROM generate_series(1, 1000)"))
            return (held, refused, used)
        }
        #expect(refused == "53300")
        #expect(used == ["1000"])
        // Then all three sit idle past the timeout and are told why they are closed.
        let endings = try await blocking { held.map { c in c.untilReady().first(where: { $0.type == "E" }).flatMap { RawClient.sqlState($0.body) } } }
        #expect(endings == ["57P05", "57P05", "57P05"])
        try await Task.sleep(for: .milliseconds(100))
        let again = try await blocking { () -> [String] in
            let c = try RawClient(port: port)
            _ = c.startup()
            return RawClient.firstColumns(c.query("SELECT 7"))
        }
        #expect(again == ["7"])
    }

    /// 200 connections at once each run statements in their own transaction; all succeed.
    @Test func twoHundredConnectionsRunQueriesTogether() async throws {
        let server = try await ServeProcess(["--max-connections", "250"])
        let port = server.port
        let setup = try await blocking { () -> [Character] in
            let c = try RawClient(port: port)
            _ = c.startup()
            return c.query("CREATE TABLE hits (client INTEGER PRIMARY KEY, n INTEGER)").map(\.type)
        }
        #expect(!setup.contains("E"))
        let results = try await withThrowingTaskGroup(of: [String].self) { group in
            for client in 0..<200 {
                group.addTask {
                    try await blocking {
                        let c = try RawClient(port: port)
                        let hello = c.startup()
                        guard hello.last?.type == "Z" else {
                            return ["no startup: \(hello.map { "\($0.type) \(RawClient.field("M", $0.body) ?? "")" })"]
                        }
                        var errors: [String] = []
                        for step in 1...5 {
                            let reply = c.query(
                                step == 1 ? "INSERT INTO hits VALUES (\(client), 1)" : "UPDATE hits SET n = n + 1 WHERE client = \(client)")
                            errors += reply.filter { $0.type == "E" }.map { RawClient.field("M", $0.body) ?? "?" }
                        }
                        let n = RawClient.firstColumns(c.query("SELECT n FROM hits WHERE client = \(client)"))
                        if n != ["5"] { errors.append("client \(client) reads \(n)") }
                        return errors
                    }
                }
            }
            return try await group.reduce(into: [String]()) { $0 += $1 }
        }
        #expect(results.isEmpty, "\(results.prefix(5))")
        let total = try await blocking { () -> [String] in
            let c = try RawClient(port: port)
            _ = c.startup()
            return RawClient.firstColumns(c.query("SELECT sum(n) FROM hits"))
        }
        #expect(total == ["1000"])
    }

    /// SIGTERM: `strata serve` stops accepting, ends idle connections with 57P01, rolls
    /// back the transaction a client left open, keeps what was committed, and exits 0.
    @Test func sigtermRollsBackOpenTransactionsAndExits() async throws {
        let server = try await ServeProcess()
        let bound = server.port
        let client = try await blocking { () -> RawClient in
            let c = try RawClient(port: bound)
            _ = c.startup()
            #expect(!c.query("CREATE TABLE t (id INTEGER PRIMARY KEY)").contains { $0.type == "E" })
            #expect(!c.query("INSERT INTO t VALUES (1)").contains { $0.type == "E" })
            let open = c.query("BEGIN; INSERT INTO t VALUES (2)")
            #expect(open.last.map { $0.body == [UInt8(ascii: "T")] } == true, "not in a transaction")
            return c
        }
        kill(server.child.processIdentifier, SIGTERM)
        let ending = try await blocking { client.untilReady().first(where: { $0.type == "E" }).flatMap { RawClient.sqlState($0.body) } }
        #expect(ending == "57P01")
        #expect(await server.child.wait() == 0, "\(server.child.lines)")
        #expect(server.child.lines.contains("strata serve: stopped"))

        let session = Session(engine: try await Engine.open(try StoreLocation.open(server.directory + "/db")))
        let rows = try await session.execute("SELECT id FROM t ORDER BY id")
        #expect(rows.last?.rows == [[.int(1)]])
    }
}

extension PostgresServerTests {
    /// `--cache-mib` sizes the block cache; a server with a small one still answers, and a
    /// size that is not positive is refused before anything starts.
    @Test func theCacheSizeIsAnOption() async throws {
        let server = try await ServeProcess(["--cache-mib", "1"])
        let (status, lines) = try await psql(server.port, "CREATE TABLE t (k INT PRIMARY KEY, v TEXT); INSERT INTO t SELECT g, repeat('x', 500) FROM generate_series(1, 3000) g; SELECT count(*), sum(length(v)) FROM t;")
        #expect(status == 0 && lines.last == "3000|1500000", "\(lines)")
        #expect(await server.stop() == 0)
        let refused = try ChildProcess(
            ChildProcess.strataExecutable(), ["serve", server.directory + "/db", "--trust", "--cache-mib", "0"],
            output: server.directory + "/refused.txt", mergeErrors: true)
        #expect(await refused.wait() != 0)
        #expect(refused.lines.joined().contains("--cache-mib takes a positive number"), "\(refused.lines)")
    }
}
