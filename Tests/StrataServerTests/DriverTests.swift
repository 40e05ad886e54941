import Foundation
import StrataLocalServers
import Testing

/// `strata serve` driven by PostgreSQL drivers as applications use them, logging in with a
/// password: Python's psycopg 3 (extended protocol, server-side prepared statements after
/// five runs, DEALLOCATE on rollback, COPY) and asyncpg (binary parameters in the types the
/// server infers for them, transactions).
extension PostgresServerTests {
    static let psycopgScript = """
        import sys, psycopg
        conn = psycopg.connect(host="127.0.0.1", port=int(sys.argv[1]), user="app", password="pw", dbname="strata")
        cur = conn.cursor()
        cur.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price NUMERIC, day DATE)")
        cur.execute("INSERT INTO items VALUES (%s, %s, %s, %s)", (1, "one", 1.5, None))
        cur.executemany("INSERT INTO items (id, name) VALUES (%s, %s)", [(i, f"n{i}") for i in range(2, 12)])
        conn.commit()
        cur.execute("SELECT current_setting('server_version_num', true), current_user"); print(cur.fetchone())
        for i in range(8):  # psycopg prepares a statement on the server after five runs
            cur.execute("SELECT id, name, price FROM items WHERE id = %s", (1,))
        print(cur.fetchall())
        cur.execute("UPDATE items SET name = %s WHERE id = %s", ("uno", 1)); print(cur.rowcount)
        conn.commit()
        cur.execute("INSERT INTO items VALUES (99, 'gone', 0, NULL)")
        conn.rollback()
        cur.execute("SELECT count(*) FROM items"); print(cur.fetchone())
        try:
            cur.execute("SELECT * FROM nosuch")
        except psycopg.errors.UndefinedTable as e:
            print("error", e.sqlstate)
        conn.rollback()
        cur.execute("SELECT name FROM items FOR SYSTEM_TIME AS OF VERSION 2 WHERE id = 1"); print(cur.fetchone())
        with cur.copy("COPY items (id, name) FROM STDIN") as copy:
            copy.write_row((100, "copied"))
        conn.commit()
        with cur.copy("COPY (SELECT id, name FROM items WHERE id IN (1, 100) ORDER BY id) TO STDOUT") as copy:
            print([row for row in copy.rows()])
        conn.commit()
        conn.autocommit = True
        cur.execute("SELECT %s::text || 'x', %s + 1, %s", ("a", 41, None)); print(cur.fetchone())
        conn.close()
        """

    /// Runs a Python `script` (given the port as its argument) against a new server whose role
    /// `app` has password `pw`; returns its exit status and what it printed.
    func runPython(_ script: String, arguments: [String] = []) async throws -> (Int32, [String]) {
        let server = try await ServeProcess(trust: false, setup: "CREATE ROLE app LOGIN PASSWORD 'pw'")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("strata-driver-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let child = try ChildProcess(
            URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script, String(server.port)] + arguments, output: dir + "/out.txt",
            mergeErrors: true)
        return (await child.wait(), child.lines)
    }

    @Test func psycopgRunsAnApplicationsStatements() async throws {
        let (status, lines) = try await runPython(Self.psycopgScript)
        #expect(status == 0, "\(lines)")
        #expect(
            lines == [
                "('150000', 'app')", "[(1, 'one', Decimal('1.5'))]", "1", "(11,)", "error 42P01", "('one',)",
                "[('1', 'uno'), ('100', 'copied')]", "('ax', 42, None)",
            ], "\(lines)")
    }

    static let cancelScript = """
        import os, sys, threading, time, psycopg
        watchdog = threading.Timer(120, lambda: os._exit(3))  # a cancel that does not work fails, not hangs
        watchdog.daemon = True
        watchdog.start()
        conn = psycopg.connect(host="127.0.0.1", port=int(sys.argv[1]), user="app", password="pw", dbname="strata")
        slow = "SELECT count(*) FROM generate_series(1, 100000) a WHERE (SELECT count(*) FROM generate_series(1, 100000) b WHERE b < a) >= 0"
        conn.execute("CREATE TABLE t (id INT PRIMARY KEY)"); conn.commit()
        conn.execute("INSERT INTO t VALUES (1)")
        threading.Timer(0.5, conn.cancel).start()
        started = time.time()
        try:
            conn.execute(slow)
        except psycopg.errors.QueryCanceled as e:
            print("canceled", e.sqlstate, time.time() - started < 20)
        try:
            conn.execute("SELECT 1")
        except psycopg.errors.InFailedSqlTransaction as e:
            print("then", e.sqlstate)
        conn.rollback()
        print(conn.execute("SELECT count(*) FROM t").fetchone())
        conn.cancel()  # nothing runs: the next statement is not affected
        print(conn.execute("SELECT 42").fetchone())
        conn.close()
        """

    /// psycopg's `cancel()` sends a CancelRequest with the connection's BackendKeyData on a
    /// connection of its own; the running statement stops with 57014 and its transaction is
    /// failed until rolled back, as in PostgreSQL.
    @Test func aCancelRequestStopsTheRunningStatement() async throws {
        let (status, lines) = try await runPython(Self.cancelScript)
        #expect(status == 0, "\(lines)")
        #expect(lines == ["canceled 57014 True", "then 25P02", "(0,)", "(42,)"], "\(lines)")
    }

    static let asyncpgScript = """
        import asyncio, sys, asyncpg, datetime, decimal
        async def main():
            conn = await asyncpg.connect(host="127.0.0.1", port=int(sys.argv[1]), user="app", password="pw", database="strata")
            await conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price NUMERIC, day DATE)")
            await conn.execute("INSERT INTO items VALUES ($1, $2, $3, $4)", 1, "one", decimal.Decimal("-1234.56"), datetime.date(2026, 1, 2))
            await conn.executemany("INSERT INTO items (id, name) VALUES ($1, $2)", [(2, "two"), (3, "three")])
            for r in await conn.fetch("SELECT id, name, price, day FROM items WHERE id >= $1 ORDER BY id", 1):
                print(tuple(r))
            print(await conn.fetchval("SELECT count(*) FROM items WHERE price < $1", decimal.Decimal("0.001")))
            try:
                async with conn.transaction():
                    await conn.execute("INSERT INTO items VALUES (9, 'nine', 9, NULL)")
                    raise RuntimeError("roll back")
            except RuntimeError:
                pass
            print(await conn.fetchval("SELECT count(*) FROM items"))
            try:
                await conn.execute("SELECT * FROM nosuch")
            except asyncpg.exceptions.UndefinedTableError as e:
                print("error", e.sqlstate)
            # Version 1 created the role, 2 the table, 3 the first row.
            print(await conn.fetchval("SELECT name FROM items FOR SYSTEM_TIME AS OF VERSION 3 WHERE id = $1", 1))
            await conn.close()
        asyncio.run(main())
        """

    @Test func asyncpgSendsBinaryParametersInInferredTypes() async throws {
        let (status, lines) = try await runPython(Self.asyncpgScript)
        #expect(status == 0, "\(lines)")
        #expect(
            lines == [
                "(1, 'one', Decimal('-1234.56'), datetime.date(2026, 1, 2))", "(2, 'two', None, None)", "(3, 'three', None, None)",
                "1", "3", "error 42P01", "one",
            ], "\(lines)")
    }
}
