import Foundation
import StrataLocalServers
import Testing

/// COPY through psql and pgbench: text and CSV in, CSV out, a failing COPY that leaves
/// nothing behind, and pgbench's own initialization (COPY ... WITH (FREEZE ON) of 100,000
/// rows, TRUNCATE, VACUUM, ALTER TABLE ... ADD PRIMARY KEY).
extension PostgresServerTests {
    @Test func copyInAndOutThroughPsql() async throws {
        let server = try await ServeProcess()
        let (status, lines) = try await psql(
            server.port,
            """
            CREATE TABLE c (id INT PRIMARY KEY, name TEXT, note TEXT);
            COPY c FROM STDIN;
            1\tone\t\\N
            2\ttwo\\ttab\tx
            \\.
            COPY c (id, name) FROM STDIN WITH (FORMAT csv);
            3,"three, quoted"
            \\.
            SELECT id, name, coalesce(note, 'NULL') FROM c ORDER BY id;
            COPY c FROM STDIN;
            4\tfour\tx
            4\tdup\ty
            \\.
            COPY c FROM STDIN;
            5\tfive
            \\.
            SELECT count(*) FROM c;
            COPY (SELECT id, name FROM c ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER);
            COPY c TO STDOUT;
            BEGIN;
            COPY c FROM STDIN;
            6\tsix\tz
            \\.
            ROLLBACK;
            SELECT count(*) FROM c;
            """)
        #expect(status == 0, "\(lines)")
        #expect(
            lines == [
                "CREATE TABLE", "COPY 2", "COPY 1", "1|one|NULL", "2|two\ttab|x", "3|three, quoted|NULL",
                "ERROR:  duplicate key value violates unique constraint \"c_pkey\": Key (id)=(4) already exists.",
                "ERROR:  missing data for a column (COPY line 1)",
                "3", "id,name", "1,one", "2,two\ttab", "3,\"three, quoted\"", "1\tone\t\\N", "2\ttwo\\ttab\tx", "3\tthree, quoted\t\\N",
                "BEGIN", "COPY 1", "ROLLBACK", "3",
            ], "\(lines)")
    }

    /// `pgbench -i -s 1`, then TPC-B with four clients for 30 s in each query mode. Concurrent
    /// updates of the one branch row conflict (40001, serializable) and pgbench retries
    /// them; afterwards every balance still adds up to the history's deltas.
    @Test func pgbenchInitializesAndRunsTPCB() async throws {
        let server = try await ServeProcess(trust: false, setup: "CREATE ROLE bench LOGIN PASSWORD 'bench'")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("strata-tpcb-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The issue's -T 30; STRATA_PGBENCH_SECONDS shortens it for a quick local run.
        let seconds = Int(ProcessInfo.processInfo.environment["STRATA_PGBENCH_SECONDS"] ?? "") ?? 30
        func pgbench(_ arguments: [String], _ name: String) async throws -> [String] {
            let child = try ChildProcess(
                URL(fileURLWithPath: "/usr/bin/pgbench"), ["-h", "127.0.0.1", "-p", String(server.port), "-U", "bench"] + arguments + ["strata"],
                output: dir + "/\(name).txt", mergeErrors: true, environment: ["PGPASSWORD": "bench"])
            let status = await child.wait(atMost: .seconds(seconds + 300))
            #expect(status == 0, "\(name): \(status.map { "exit \($0)" } ?? "did not end, killed"): \(child.lines)")
            return child.lines
        }
        let initialized = try await pgbench(["-i", "-s", "1"], "init")
        #expect(initialized.contains { $0.hasPrefix("done in") }, "\(initialized)")
        for mode in ["simple", "extended", "prepared"] {
            // -n: no VACUUM and TRUNCATE of the history before the run, so the history keeps
            // every run's deltas and must add up to the balances at the end.
            let lines = try await pgbench(["-n", "-M", mode, "-c", "4", "-j", "2", "-T", String(seconds), "--max-tries", "1000"], mode)
            #expect(lines.contains("number of failed transactions: 0 (0.000%)"), "\(mode): \(lines)")
            let processed = lines.first { $0.hasPrefix("number of transactions actually processed: ") }
                .flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
            #expect(processed > 0, "\(mode): \(lines)")
        }
        let (status, sums) = try await psql(
            server.port,
            """
            SELECT (SELECT count(*) FROM pgbench_accounts), (SELECT count(*) FROM pgbench_tellers),
                   (SELECT count(*) FROM pgbench_branches), (SELECT count(*) > 0 FROM pgbench_history);
            SELECT (SELECT sum(abalance) FROM pgbench_accounts) = (SELECT sum(delta) FROM pgbench_history),
                   (SELECT sum(tbalance) FROM pgbench_tellers) = (SELECT sum(delta) FROM pgbench_history),
                   (SELECT sum(bbalance) FROM pgbench_branches) = (SELECT sum(delta) FROM pgbench_history);
            """, user: "bench", password: "bench")
        #expect(status == 0 && sums == ["100000|10|1|t", "t|t|t"], "\(sums)")
    }
}
