import StrataEngine
import StrataSQL
import Testing

@Suite struct SessionTests {
    @Test func createInsertSelect() async throws {
        let db = try await memorySession()
        #expect(try await db.tag("CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT NOT NULL, amount DOUBLE PRECISION DEFAULT 1.5)") == "CREATE TABLE")
        #expect(try await db.tag("INSERT INTO t VALUES (2, 'b', 2.25), (1, 'a', 1)") == "INSERT 0 2")
        #expect(try await db.tag("INSERT INTO t (id, name) VALUES (3, 'c')") == "INSERT 0 1")
        #expect(try await db.rows("SELECT id, name, amount FROM t ORDER BY id") == [["1", "a", "1"], ["2", "b", "2.25"], ["3", "c", "1.5"]])
        #expect(try await db.rows("SELECT * FROM t WHERE id = $1", [.int(2)]) == [["2", "b", "2.25"]])
        #expect(try await db.rows("SELECT count(*), sum(id), max(name) FROM t") == [["3", "6", "c"]])
    }

    @Test func constraintsReportTheirSQLState() async throws {
        let db = try await memorySession()
        _ = try await db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, code TEXT UNIQUE, n INTEGER CHECK (n > 0), v VARCHAR(3))")
        _ = try await db.execute("INSERT INTO t VALUES (1, 'x', 1, 'abc')")
        #expect(await db.sqlState("INSERT INTO t VALUES (1, 'y', 1, 'a')") == "23505")
        #expect(await db.sqlState("INSERT INTO t VALUES (2, 'x', 1, 'a')") == "23505")
        #expect(await db.sqlState("INSERT INTO t VALUES (3, 'z', 0, 'a')") == "23514")
        #expect(await db.sqlState("INSERT INTO t VALUES (NULL, 'w', 1, 'a')") == "23502")
        #expect(await db.sqlState("INSERT INTO t VALUES (4, 'v', 1, 'abcd')") == "22001")
        #expect(await db.sqlState("INSERT INTO t VALUES (5, 'u', 2147483647 + 1, 'a')") == "22003")
        #expect(await db.sqlState("SELECT 1 / 0") == "22012")
        #expect(await db.sqlState("SELECT nope FROM t") == "42703")
        #expect(await db.sqlState("SELECT * FROM missing") == "42P01")
        #expect(await db.sqlState("SELEC 1") == "42601")
        #expect(await db.sqlState("SELECT id, count(*) FROM t") == "42803")
        #expect(await db.sqlState("SELECT (SELECT id FROM t UNION ALL SELECT id FROM t)") == "21000")
        #expect(try await db.rows("SELECT count(*) FROM t") == [["1"]])
        // ON CONFLICT
        #expect(try await db.tag("INSERT INTO t VALUES (1, 'q', 5, 'a') ON CONFLICT (id) DO NOTHING") == "INSERT 0 0")
        _ = try await db.execute("INSERT INTO t VALUES (1, 'q', 5, 'a') ON CONFLICT (id) DO UPDATE SET n = excluded.n + t.n")
        #expect(try await db.rows("SELECT id, code, n FROM t") == [["1", "x", "6"]])
        #expect(try await db.rows("INSERT INTO t VALUES (7, 'r', 1, 'a') RETURNING id * 2, code") == [["14", "r"]])
    }

    @Test func updateDeleteAndIndexes() async throws {
        let db = try await memorySession()
        _ = try await db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER, s TEXT)")
        _ = try await db.execute("CREATE INDEX t_k ON t (k)")
        for i in 0..<50 { _ = try await db.execute("INSERT INTO t VALUES ($1, $2, $3)", [.int(Int64(i)), .int(Int64(i % 5)), .text("s\(i)")]) }
        #expect(try await db.rows("SELECT count(*) FROM t WHERE k = 3") == [["10"]])
        let plan = try await db.rows("EXPLAIN SELECT * FROM t WHERE k = 3").map { $0[0] }.joined(separator: "\n")
        #expect(plan.contains("Index Range Scan using t_k"))
        let point = try await db.rows("EXPLAIN SELECT * FROM t WHERE id = 7").map { $0[0] }.joined(separator: "\n")
        #expect(point.contains("Primary Key Lookup"))
        #expect(try await db.tag("UPDATE t SET k = k + 10 WHERE k = 3") == "UPDATE 10")
        #expect(try await db.rows("SELECT count(*) FROM t WHERE k = 3") == [["0"]])
        #expect(try await db.rows("SELECT count(*) FROM t WHERE k = 13") == [["10"]])
        #expect(try await db.tag("UPDATE t SET id = id + 100 WHERE id < 5") == "UPDATE 5")
        #expect(try await db.rows("SELECT min(id), max(id) FROM t") == [["5", "104"]])
        #expect(try await db.tag("DELETE FROM t WHERE k >= 13") == "DELETE 10")
        #expect(try await db.rows("SELECT count(*), count(DISTINCT k) FROM t") == [["40", "4"]])
        #expect(try await db.rows("SELECT k, count(*) FROM t GROUP BY k ORDER BY k DESC LIMIT 2") == [["4", "10"], ["2", "10"]])
        #expect(try await db.tag("TRUNCATE t") == "TRUNCATE TABLE")
        #expect(try await db.rows("SELECT count(*) FROM t WHERE k = 1") == [["0"]])
    }

    @Test func queriesJoinsSubqueriesWindowsAndCTEs() async throws {
        let db = try await memorySession()
        _ = try await db.execute("""
            CREATE TABLE a (id INT PRIMARY KEY, g TEXT);
            CREATE TABLE b (aid INT, v INT);
            INSERT INTO a VALUES (1, 'x'), (2, 'x'), (3, 'y');
            INSERT INTO b VALUES (1, 10), (1, 20), (2, 5), (4, 7);
            """)
        #expect(try await db.rows("SELECT a.id, b.v FROM a JOIN b ON a.id = b.aid ORDER BY 1, 2") == [["1", "10"], ["1", "20"], ["2", "5"]])
        #expect(try await db.rows("SELECT a.id, b.v FROM a LEFT JOIN b ON a.id = b.aid WHERE a.id > 1 ORDER BY 1") == [["2", "5"], ["3", "NULL"]])
        #expect(try await db.rows("SELECT b.aid FROM a RIGHT JOIN b ON a.id = b.aid WHERE a.id IS NULL") == [["4"]])
        #expect(try await db.rows("SELECT count(*) FROM a FULL JOIN b ON a.id = b.aid") == [["5"]])
        #expect(try await db.rows("SELECT id FROM a WHERE EXISTS (SELECT 1 FROM b WHERE b.aid = a.id) ORDER BY id") == [["1"], ["2"]])
        #expect(try await db.rows("SELECT id, (SELECT sum(v) FROM b WHERE aid = a.id) FROM a ORDER BY id") == [["1", "30"], ["2", "5"], ["3", "NULL"]])
        #expect(try await db.rows("SELECT id FROM a WHERE id NOT IN (SELECT aid FROM b) ") == [["3"]])
        #expect(try await db.rows("SELECT g, sum(id) FROM a GROUP BY g HAVING count(*) > 1") == [["x", "3"]])
        #expect(try await db.rows("SELECT aid, v, row_number() OVER (PARTITION BY aid ORDER BY v DESC), sum(v) OVER (ORDER BY v) FROM b ORDER BY v")
            == [["2", "5", "1", "5"], ["4", "7", "1", "12"], ["1", "10", "2", "22"], ["1", "20", "1", "42"]])
        #expect(try await db.rows("WITH big AS (SELECT * FROM b WHERE v >= 10) SELECT count(*) FROM big") == [["2"]])
        #expect(try await db.rows("SELECT id FROM a UNION SELECT aid FROM b ORDER BY 1") == [["1"], ["2"], ["3"], ["4"]])
        #expect(try await db.rows("SELECT id FROM a INTERSECT SELECT aid FROM b ORDER BY 1") == [["1"], ["2"]])
        #expect(try await db.rows("SELECT id FROM a EXCEPT SELECT aid FROM b") == [["3"]])
        #expect(try await db.rows("SELECT DISTINCT g FROM a ORDER BY g DESC") == [["y"], ["x"]])
        #expect(try await db.rows("SELECT CASE WHEN id > 1 THEN 'big' ELSE 'small' END, coalesce(NULL, id) FROM a WHERE id <= 2 ORDER BY id")
            == [["small", "1"], ["big", "2"]])
        #expect(try await db.rows("SELECT * FROM generate_series(1, 3) AS s(n) WHERE n <> 2") == [["1"], ["3"]])
        _ = try await db.execute("CREATE VIEW totals AS SELECT aid, sum(v) AS total FROM b GROUP BY aid")
        #expect(try await db.rows("SELECT total FROM totals WHERE aid = 1") == [["30"]])
    }

    @Test func explicitTransactionsCommitAndRollBack() async throws {
        let db = try await memorySession()
        _ = try await db.execute("CREATE TABLE t (id INT PRIMARY KEY)")
        _ = try await db.execute("BEGIN; INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)")
        let other = Session(engine: db.engine)
        #expect(try await other.rows("SELECT count(*) FROM t") == [["0"]])
        _ = try await db.execute("COMMIT")
        #expect(try await other.rows("SELECT count(*) FROM t") == [["2"]])
        _ = try await db.execute("BEGIN; DELETE FROM t; ROLLBACK")
        #expect(try await db.rows("SELECT count(*) FROM t") == [["2"]])
        // An error aborts the transaction until ROLLBACK.
        _ = try await db.execute("BEGIN")
        #expect(await db.sqlState("INSERT INTO t VALUES (1)") == "23505")
        #expect(await db.sqlState("SELECT 1") == "25P02")
        #expect(try await db.tag("COMMIT") == "ROLLBACK")
        #expect(try await db.rows("SELECT 1") == [["1"]])
        // DDL is transactional.
        _ = try await db.execute("BEGIN; CREATE TABLE u (x INT); INSERT INTO u VALUES (1); ROLLBACK")
        #expect(await db.sqlState("SELECT * FROM u") == "42P01")
    }

    @Test func nowIsTheTransactionStartAsInPostgreSQL() async throws {
        let db = try await memorySession()
        _ = try await db.execute("CREATE TABLE t (id INT PRIMARY KEY, at TIMESTAMPTZ DEFAULT now())")
        _ = try await db.execute("BEGIN")
        let first = try await db.rows("SELECT now()")
        try await Task.sleep(for: .milliseconds(5))
        _ = try await db.execute("INSERT INTO t (id) VALUES (1)")
        let insert = try db.prepare("INSERT INTO t (id) VALUES ($1)")
        _ = try await db.execute(insert, [.int(2)])
        #expect(try await db.rows("SELECT now()") == first)
        #expect(try await db.rows("SELECT DISTINCT at FROM t") == first)
        _ = try await db.execute("COMMIT")
        // Outside a transaction each statement has its own time.
        try await Task.sleep(for: .milliseconds(5))
        #expect(try await db.rows("SELECT now() > $1::timestamptz", [.text(first[0][0])]) == [["t"]])
    }

    /// `statement_timeout` stops a statement that runs longer with 57014; the session goes on.
    @Test func statementTimeoutCancelsLongStatements() async throws {
        let s = try await memorySession()
        _ = try await s.execute("SET statement_timeout = '200ms'")
        let started = ContinuousClock.now
        // Minutes of work without the timeout (a 2,000-row version took 37 s in a loaded CI run).
        let slow = "SELECT count(*) FROM generate_series(1, 20000) a WHERE (SELECT count(*) FROM generate_series(1, 100000) b WHERE b < a) >= 0"
        do {
            _ = try await s.execute(slow)
            Issue.record("the slow statement was not stopped")
        } catch let e as SQLError {
            #expect(e.sqlState == "57014" && "\(e)".contains("statement timeout"), "\(e)")
        }
        #expect(ContinuousClock.now - started < .seconds(30))
        #expect(try await s.rows("SELECT 1") == [["1"]])
        _ = try await s.execute("SET statement_timeout = 0")
        #expect(try await s.rows("SHOW statement_timeout") == [["0"]])
        #expect(try await s.rows("SELECT count(*) FROM generate_series(1, 10)") == [["10"]])
    }

    /// A commit that loses a race is replayed in a new transaction and commits if every
    /// statement returns what the client saw; otherwise it fails with 40001.
    @Test func conflictingTransactionsReplayOrFailWith40001() async throws {
        let a = try await memorySession()
        let b = Session(engine: a.engine)
        _ = try await a.execute("CREATE TABLE acct (id INT PRIMARY KEY, bal INT); INSERT INTO acct VALUES (1, 100)")
        // Blind updates: b's replay returns "UPDATE 1" again, so both decrements count.
        // (a's are by range, not key: they take no row lock, so b does not wait for a.)
        _ = try await a.execute("BEGIN; UPDATE acct SET bal = bal - 10 WHERE id BETWEEN 1 AND 1")
        _ = try await b.execute("BEGIN; UPDATE acct SET bal = bal - 20 WHERE id = 1")
        _ = try await a.execute("COMMIT")
        _ = try await b.execute("COMMIT")
        #expect(b.replayedCommits == 1)
        #expect(try await a.rows("SELECT bal FROM acct") == [["70"]])
        // b saw the balance before a's change: its replay would see another one, so 40001.
        _ = try await a.execute("BEGIN; UPDATE acct SET bal = bal - 10 WHERE id BETWEEN 1 AND 1")
        #expect(try await b.rows("BEGIN; SELECT bal FROM acct WHERE id = 1") == [["70"]])
        _ = try await b.execute("UPDATE acct SET bal = bal - 20 WHERE id = 1")
        _ = try await a.execute("COMMIT")
        #expect(await sqlState { _ = try await b.execute("COMMIT") } == "40001")
        #expect(b.replayedCommits == 1)
        #expect(try await a.rows("SELECT bal FROM acct") == [["60"]])
        // The session goes on.
        #expect(try await b.rows("SELECT bal FROM acct") == [["60"]])
    }

    /// The same race with each statement sent alone (so run as a prepared statement of its
    /// shape) and with explicitly prepared ones: the replay runs each statement once, so it
    /// reads back exactly what the client saw and the hot row gets both changes once.
    @Test func preparedStatementsReplayOnce() async throws {
        let a = try await memorySession()
        let b = Session(engine: a.engine)
        _ = try await a.execute("CREATE TABLE acct (id INT PRIMARY KEY, bal INT)")
        _ = try await a.execute("CREATE TABLE own (id INT PRIMARY KEY, bal INT)")
        _ = try await a.execute("INSERT INTO acct VALUES (1, 100)")
        _ = try await a.execute("INSERT INTO own VALUES (1, 0)")
        _ = try await a.execute("INSERT INTO own VALUES (2, 0)")
        for round in 1...3 {
            _ = try await a.execute("BEGIN")
            _ = try await b.execute("BEGIN")
            _ = try await a.execute("UPDATE own SET bal = bal + 5 WHERE id = 1")
            _ = try await b.execute("UPDATE own SET bal = bal + 7 WHERE id = 2")
            #expect(try await b.rows("SELECT bal FROM own WHERE id = 2") == [["\(7 * round)"]])
            // A range, not a key: takes no row lock, so b's update below does not wait.
            _ = try await a.execute("UPDATE acct SET bal = bal - 10 WHERE id BETWEEN 1 AND 1")
            _ = try await b.execute("UPDATE acct SET bal = bal - 20 WHERE id = 1")
            _ = try await a.execute("COMMIT")
            _ = try await b.execute("COMMIT")
            #expect(b.replayedCommits == round)
        }
        let update = try b.prepare("UPDATE acct SET bal = bal - $1 WHERE id = 1")
        let read = try b.prepare("SELECT bal FROM own WHERE id = $1")
        _ = try await a.execute("BEGIN")
        _ = try await b.execute("BEGIN")
        _ = try await b.execute(update, [.int(1)])
        #expect(try await b.execute(read, [.int(2)]).rows == [[.int(21)]])
        _ = try await a.execute("UPDATE acct SET bal = bal - 2 WHERE id BETWEEN 1 AND 1")
        _ = try await a.execute("COMMIT")
        _ = try await b.execute("COMMIT")
        #expect(b.replayedCommits == 4)
        #expect(try await a.rows("SELECT bal FROM acct") == [["7"]])
        #expect(try await a.rows("SELECT id, bal FROM own ORDER BY id") == [["1", "15"], ["2", "21"]])
    }

    /// Concurrent transactions updating the same rows by key wait for each other's row
    /// locks (as in PostgreSQL) instead of losing their commits and being replayed.
    @Test func updatesOfOneRowWaitInsteadOfReplaying() async throws {
        let setup = try await memorySession()
        _ = try await setup.execute("CREATE TABLE counter (id INT PRIMARY KEY, n INT)")
        _ = try await setup.execute("INSERT INTO counter VALUES (1, 0), (2, 0)")
        _ = try await setup.execute("CREATE TABLE other (id INT PRIMARY KEY)")
        let engine = setup.engine
        let rounds = 15
        let replays = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<6 {
                group.addTask {
                    let session = Session(engine: engine)
                    for _ in 0..<rounds {
                        _ = try await session.execute("BEGIN")
                        _ = try await session.execute("UPDATE counter SET n = n + 1 WHERE id = 1")
                        // Work between the updates gives the others time to queue up.
                        _ = try await session.execute("SELECT count(*) FROM other")
                        _ = try await session.execute("UPDATE counter SET n = n + 1 WHERE id = 2")
                        _ = try await session.execute("COMMIT")
                    }
                    return session.replayedCommits
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(try await setup.rows("SELECT id, n FROM counter ORDER BY id") == [["1", "\(6 * rounds)"], ["2", "\(6 * rounds)"]])
        #expect(replays == 0)
    }

    @Test func crossedRowUpdatesFailOneTransactionWithDeadlock() async throws {
        let b = try await memorySession()
        _ = try await b.execute("CREATE TABLE t (id INT PRIMARY KEY, v INT)")
        _ = try await b.execute("INSERT INTO t VALUES (1, 0), (2, 0)")
        let engine = b.engine
        let aHoldsOne = Flag()
        let bHoldsTwo = Flag()
        let a = Task {
            let a = Session(engine: engine)
            _ = try await a.execute("BEGIN")
            _ = try await a.execute("UPDATE t SET v = v + 1 WHERE id = 1")
            aHoldsOne.set()
            try await bHoldsTwo.eventually()
            let tag = try await a.execute("UPDATE t SET v = v + 1 WHERE id = 2").last?.tag  // waits for b
            _ = try await a.execute("COMMIT")
            return tag
        }
        try await aHoldsOne.eventually()
        _ = try await b.execute("BEGIN")
        _ = try await b.execute("UPDATE t SET v = v + 10 WHERE id = 2")
        bHoldsTwo.set()
        try await Task.sleep(for: .milliseconds(50))
        #expect(await b.sqlState("DELETE FROM t WHERE id = 1") == "40P01")
        // The failed transaction holds no locks: a goes on before b's ROLLBACK.
        #expect(try await a.value == "UPDATE 1")
        #expect(await b.sqlState("SELECT 1") == "25P02")
        _ = try await b.execute("ROLLBACK")
        #expect(try await b.rows("SELECT id, v FROM t ORDER BY id") == [["1", "1"], ["2", "1"]])
    }

    @Test func aLockWaitEndsAtTheStatementTimeout() async throws {
        let a = try await memorySession()
        let b = Session(engine: a.engine)
        _ = try await a.execute("CREATE TABLE t (id INT PRIMARY KEY, v INT)")
        _ = try await a.execute("INSERT INTO t VALUES (1, 0)")
        // a holds the row while b, in the same task, waits for it until b's timeout.
        _ = try await a.execute("BEGIN")
        _ = try await a.execute("UPDATE t SET v = 1 WHERE id = 1")
        _ = try await b.execute("SET statement_timeout = 100")
        let started = ContinuousClock.now
        #expect(await b.sqlState("UPDATE t SET v = 2 WHERE id = 1") == "57014")
        // It waited for the timeout (a holds the row throughout), and the wait ended. The upper
        // bound is loose: under CI's parallel suites the shared pool resumes tasks seconds late.
        let waited = ContinuousClock.now - started
        #expect(waited >= .milliseconds(100) && waited < .seconds(30), "\(waited)")
        _ = try await a.execute("COMMIT")
        // The abandoned wait left nothing behind: b's next update runs at once.
        #expect(try await b.tag("UPDATE t SET v = v + 1 WHERE id = 1") == "UPDATE 1")
        #expect(try await a.rows("SELECT v FROM t") == [["2"]])
    }

    @Test func timeTravelAcrossDDLAndJoinsOfTwoMoments() async throws {
        let db = try await memorySession()
        _ = try await db.execute("CREATE TABLE p (id INT PRIMARY KEY, price INT)")
        _ = try await db.execute("INSERT INTO p VALUES (1, 10), (2, 20)")
        let v1 = db.engine.head
        _ = try await db.execute("UPDATE p SET price = price * 2")
        _ = try await db.execute("INSERT INTO p VALUES (3, 30)")
        #expect(try await db.rows("SELECT id, price FROM p FOR SYSTEM_TIME AS OF VERSION \(v1) ORDER BY id") == [["1", "10"], ["2", "20"]])
        // Two moments in one query.
        #expect(try await db.rows("""
            SELECT now.id, old.price, now.price FROM p AS now
            JOIN p FOR SYSTEM_TIME AS OF VERSION \(v1) AS old ON old.id = now.id ORDER BY now.id
            """) == [["1", "10", "20"], ["2", "20", "40"]])
        // A table created later does not exist at an older version.
        _ = try await db.execute("CREATE TABLE later (x INT)")
        #expect(await db.sqlState("SELECT * FROM later FOR SYSTEM_TIME AS OF VERSION \(v1)") == "42P01")
        #expect(await db.sqlState("SELECT * FROM p FOR SYSTEM_TIME AS OF VERSION 999999") == "22023")
        // AS OF TIMESTAMP: a time before the database existed sees no table.
        #expect(await db.sqlState("SELECT * FROM p FOR SYSTEM_TIME AS OF TIMESTAMP '2001-01-01 00:00:00'") == "42P01")
        #expect(try await db.rows("SELECT count(*) FROM p FOR SYSTEM_TIME AS OF TIMESTAMP '2999-01-01 00:00:00'") == [["3"]])
    }

    @Test func historyColumnsListEveryVersion() async throws {
        let db = try await memorySession()
        _ = try await db.execute("CREATE TABLE p (id INT PRIMARY KEY, price INT)")
        _ = try await db.execute("INSERT INTO p VALUES (1, 10)")
        let v1 = db.engine.head
        _ = try await db.execute("UPDATE p SET price = 11 WHERE id = 1")
        let v2 = db.engine.head
        _ = try await db.execute("INSERT INTO p VALUES (2, 20)")
        let v3 = db.engine.head
        _ = try await db.execute("DELETE FROM p WHERE id = 1")
        let v4 = db.engine.head
        let all = try await db.rows("SELECT id, price, _version, _op, _valid_to IS NULL FROM p FOR SYSTEM_TIME ALL ORDER BY id, _version")
        #expect(all == [["1", "10", "\(v1)", "insert", "f"], ["1", "11", "\(v2)", "update", "f"], ["1", "11", "\(v4)", "delete", "f"],
                        ["2", "20", "\(v3)", "insert", "t"]])
        // Validity intervals chain: each version ends where the next begins.
        let chained = try await db.rows("""
            SELECT count(*) FROM p FOR SYSTEM_TIME ALL AS a JOIN p FOR SYSTEM_TIME ALL AS b
            ON a.id = b.id AND a._valid_to = b._valid_from AND a._op <> 'delete'
            """)
        #expect(chained == [["2"]])
        // BETWEEN VERSION a AND b keeps the versions valid at some point in between.
        #expect(try await db.rows("SELECT id, price FROM p FOR SYSTEM_TIME BETWEEN VERSION \(v2) AND \(v3) ORDER BY id, price")
            == [["1", "11"], ["2", "20"]])
        #expect(try await db.rows("SELECT id, price FROM p FOR SYSTEM_TIME FROM VERSION \(v1) TO \(v2)") == [["1", "10"]])
        // Without history the system columns do not exist.
        #expect(await db.sqlState("SELECT _version FROM p") == "42703")
    }

    @Test func alterTableAndTimeTravelAcrossIt() async throws {
        let db = try await memorySession()
        _ = try await db.execute("CREATE TABLE t (id INT, name TEXT); INSERT INTO t VALUES (1, 'a'), (2, 'b')")
        let before = db.engine.head
        _ = try await db.execute("ALTER TABLE t ADD COLUMN score INT NOT NULL DEFAULT 7")
        #expect(try await db.rows("SELECT id, score FROM t ORDER BY id") == [["1", "7"], ["2", "7"]])
        // The column added later is absent as of before.
        #expect(await db.sqlState("SELECT score FROM t FOR SYSTEM_TIME AS OF VERSION \(before)") == "42703")
        #expect(try await db.rows("SELECT * FROM t FOR SYSTEM_TIME AS OF VERSION \(before) ORDER BY id") == [["1", "a"], ["2", "b"]])
        #expect(await db.sqlState("ALTER TABLE t ADD COLUMN z INT NOT NULL") == "23502")
        _ = try await db.execute("ALTER TABLE t ADD PRIMARY KEY (id)")
        #expect(await db.sqlState("INSERT INTO t VALUES (1, 'dup', 1)") == "23505")
        let plan = try await db.rows("EXPLAIN SELECT * FROM t WHERE id = 2").map { $0[0] }.joined()
        #expect(plan.contains("Primary Key Lookup"))
        _ = try await db.execute("ALTER TABLE t RENAME COLUMN name TO label")
        _ = try await db.execute("ALTER TABLE t DROP COLUMN score")
        #expect(try await db.rows("SELECT * FROM t ORDER BY id") == [["1", "a"], ["2", "b"]])
        _ = try await db.execute("ALTER TABLE t ADD COLUMN score TEXT DEFAULT 'new'")
        #expect(try await db.rows("SELECT label, score FROM t WHERE id = 1") == [["a", "new"]])
        _ = try await db.execute("ALTER TABLE t ADD CONSTRAINT label_unique UNIQUE (label)")
        #expect(await db.sqlState("INSERT INTO t VALUES (3, 'a')") == "23505")
        _ = try await db.execute("ALTER TABLE t DROP CONSTRAINT label_unique")
        #expect(try await db.tag("INSERT INTO t VALUES (3, 'a')") == "INSERT 0 1")
        _ = try await db.execute("ALTER TABLE t ADD CONSTRAINT positive CHECK (id > 0)")
        #expect(await db.sqlState("INSERT INTO t VALUES (-1, 'x')") == "23514")
        _ = try await db.execute("ALTER TABLE t RENAME TO u")
        #expect(await db.sqlState("SELECT * FROM t") == "42P01")
        #expect(try await db.rows("SELECT count(*) FROM u") == [["3"]])
        // The old name still answers as of before the rename.
        #expect(try await db.rows("SELECT count(*) FROM t FOR SYSTEM_TIME AS OF VERSION \(before)") == [["2"]])
    }

    /// Found by the SQLite comparison: a subquery inside the left operand of IN must be
    /// computed for each row, not left over from the previous one.
    @Test func subqueryInsideTheLeftOperandOfIn() async throws {
        let db = try await memorySession()
        _ = try await db.execute("""
            CREATE TABLE t1 (a INT PRIMARY KEY, b INT, c INT); CREATE TABLE t2 (x INT, y INT);
            INSERT INTO t1 VALUES (1, 2, -4), (-27, -9, 1);
            INSERT INTO t2 VALUES (1, NULL), (2, 2), (-9, -3);
            """)
        #expect(try await db.rows("""
            SELECT a FROM t1 WHERE CASE WHEN EXISTS (SELECT 1 FROM t2 WHERE t2.x = a) THEN b ELSE abs(c) END
            IN (SELECT x FROM t2 WHERE y > -4) ORDER BY a
            """) == [["1"]])
    }

    @Test func savepoints() async throws {
        let db = try await memorySession()
        _ = try await db.execute("CREATE TABLE t (id INT PRIMARY KEY)")
        #expect(await db.sqlState("SAVEPOINT a") == "25P01")
        _ = try await db.execute("BEGIN; INSERT INTO t VALUES (1); SAVEPOINT a; INSERT INTO t VALUES (2); SAVEPOINT b; INSERT INTO t VALUES (3)")
        #expect(try await db.tag("ROLLBACK TO SAVEPOINT b") == "ROLLBACK")
        #expect(try await db.rows("SELECT id FROM t ORDER BY id") == [["1"], ["2"]])
        // An error, then ROLLBACK TO recovers the transaction.
        #expect(await db.sqlState("INSERT INTO t VALUES (1)") == "23505")
        #expect(await db.sqlState("SELECT 1") == "25P02")
        _ = try await db.execute("ROLLBACK TO a")
        #expect(try await db.rows("SELECT id FROM t ORDER BY id") == [["1"]])
        // DDL after a savepoint is undone with it.
        _ = try await db.execute("SAVEPOINT c; CREATE TABLE u (x INT); ROLLBACK TO SAVEPOINT c")
        #expect(await db.sqlState("SELECT * FROM u") == "42P01")
        _ = try await db.execute("ROLLBACK TO a")  // a is still there after rolling back to it
        _ = try await db.execute("INSERT INTO t VALUES (5); RELEASE a")
        #expect(await db.sqlState("ROLLBACK TO a") == "3B001")
        _ = try await db.execute("ROLLBACK")
        _ = try await db.execute("BEGIN; INSERT INTO t VALUES (9); SAVEPOINT s; INSERT INTO t VALUES (10); RELEASE SAVEPOINT s; COMMIT")
        #expect(try await db.rows("SELECT id FROM t ORDER BY id") == [["9"], ["10"]])
    }

    @Test func foreignKeys() async throws {
        let db = try await memorySession()
        _ = try await db.execute("""
            CREATE TABLE author (id INT PRIMARY KEY, name TEXT UNIQUE);
            CREATE TABLE book (id INT PRIMARY KEY, author_id INT REFERENCES author ON DELETE CASCADE, title TEXT);
            CREATE TABLE review (id INT PRIMARY KEY, book_id INT, FOREIGN KEY (book_id) REFERENCES book (id));
            CREATE TABLE fan (name TEXT REFERENCES author (name) ON DELETE SET NULL ON UPDATE CASCADE);
            INSERT INTO author VALUES (1, 'ann'), (2, 'bob');
            INSERT INTO book VALUES (10, 1, 'a'), (11, 1, 'b'), (20, 2, 'c');
            INSERT INTO review VALUES (100, 20);
            INSERT INTO fan VALUES ('ann'), ('bob'), (NULL);
            """)
        #expect(await db.sqlState("INSERT INTO book VALUES (30, 3, 'x')") == "23503")
        #expect(await db.sqlState("UPDATE book SET author_id = 9 WHERE id = 10") == "23503")
        #expect(await db.sqlState("CREATE TABLE bad (x INT REFERENCES author (name))") == "42804")
        #expect(await db.sqlState("CREATE TABLE bad (x TEXT REFERENCES book (title))") == "42830")
        // RESTRICT (the default): book 20 has a review.
        #expect(await db.sqlState("DELETE FROM author WHERE id = 2") == "23503")
        // CASCADE: deleting ann deletes her books; SET NULL clears her fans.
        #expect(try await db.tag("DELETE FROM author WHERE id = 1") == "DELETE 1")
        #expect(try await db.rows("SELECT id FROM book ORDER BY id") == [["20"]])
        #expect(try await db.rows("SELECT count(*), count(name) FROM fan") == [["3", "1"]])
        // ON UPDATE CASCADE follows the renamed key.
        _ = try await db.execute("UPDATE author SET name = 'robert' WHERE id = 2")
        #expect(try await db.rows("SELECT name FROM fan WHERE name IS NOT NULL") == [["robert"]])
        #expect(await db.sqlState("DROP TABLE book") == "2BP01")
        #expect(await db.sqlState("TRUNCATE author") == "0A000")
        _ = try await db.execute("DROP TABLE book CASCADE")
        #expect(try await db.tag("INSERT INTO review VALUES (101, 999)") == "INSERT 0 1")
        // Adding a constraint checks the rows already there.
        #expect(await db.sqlState("ALTER TABLE review ADD CONSTRAINT r FOREIGN KEY (book_id) REFERENCES author") == "23503")
        _ = try await db.execute("DELETE FROM review WHERE id = 101; UPDATE review SET book_id = 2")
        _ = try await db.execute("ALTER TABLE review ADD CONSTRAINT r FOREIGN KEY (book_id) REFERENCES author")
        #expect(await db.sqlState("DELETE FROM author WHERE id = 2") == "23503")
        _ = try await db.execute("ALTER TABLE review DROP CONSTRAINT r")
        #expect(try await db.tag("DELETE FROM author WHERE id = 2") == "DELETE 1")
    }

    @Test func recursiveCTEs() async throws {
        let db = try await memorySession()
        #expect(try await db.rows("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5) SELECT sum(i), count(*) FROM n")
            == [["15", "5"]])
        _ = try await db.execute("""
            CREATE TABLE edge (src INT, dst INT);
            INSERT INTO edge VALUES (1, 2), (2, 3), (3, 1), (3, 4), (5, 6);
            """)
        // UNION (not ALL) stops on the cycle 1 -> 2 -> 3 -> 1.
        #expect(try await db.rows("""
            WITH RECURSIVE reach(node) AS (SELECT 1 UNION SELECT e.dst FROM edge e JOIN reach r ON e.src = r.node)
            SELECT node FROM reach ORDER BY node
            """) == [["1"], ["2"], ["3"], ["4"]])
        #expect(try await db.rows("""
            WITH RECURSIVE path(node, depth, route) AS (
              SELECT 1, 0, '1'
              UNION ALL
              SELECT e.dst, p.depth + 1, p.route || '>' || e.dst FROM edge e JOIN path p ON e.src = p.node WHERE p.depth < 3)
            SELECT route FROM path WHERE node = 4
            """) == [["1>2>3>4"]])
        #expect(await db.sqlState("WITH RECURSIVE x AS (SELECT 1 INTERSECT SELECT * FROM x) SELECT * FROM x") == "42P19")
    }

    /// A small table joined to a large one reads the large one by primary key; results
    /// match the hash join's.
    @Test func lookupJoinMatchesHashJoin() async throws {
        let db = try await memorySession()
        _ = try await db.execute("CREATE TABLE big (id INT PRIMARY KEY, v INT); CREATE TABLE small (k INT, tag TEXT)")
        _ = try await db.execute("BEGIN")
        for i in 0..<3000 { _ = try await db.execute("INSERT INTO big VALUES ($1, $2)", [.int(Int64(i)), .int(Int64(i % 7))]) }
        _ = try await db.execute("COMMIT")
        _ = try await db.execute("INSERT INTO small VALUES (5, 'a'), (6, 'b'), (5000, 'missing'), (NULL, 'null'), (2999, 'c')")
        let plan = try await db.rows("EXPLAIN SELECT * FROM small JOIN big ON big.id = small.k").map { $0[0] }.joined()
        #expect(plan.contains("Primary Key Lookup Join"))
        #expect(try await db.rows("SELECT small.tag, big.v FROM small JOIN big ON big.id = small.k WHERE big.v > 0 ORDER BY tag")
            == [["a", "5"], ["b", "6"], ["c", "3"]])
        #expect(try await db.rows("SELECT small.tag, big.v FROM small LEFT JOIN big ON big.id = small.k AND big.v <> 6 ORDER BY tag")
            == [["a", "5"], ["b", "NULL"], ["c", "3"], ["missing", "NULL"], ["null", "NULL"]])
        // The other order hash-joins and gives the same rows.
        #expect(try await db.rows("SELECT small.tag, big.v FROM big JOIN small ON big.id = small.k WHERE big.v > 0 ORDER BY tag")
            == [["a", "5"], ["b", "6"], ["c", "3"]])
    }

    /// A lookup join streams its left rows in batches: early batches read the right table
    /// by key while it is four times larger than the rows seen so far, later ones switch
    /// to a hash join. Keys out of order, NULL keys, misses and LEFT JOIN all give the
    /// rows computed here independently.
    @Test func streamedLookupJoinSwitchesToHashJoin() async throws {
        let db = try await memorySession()
        _ = try await db.execute("CREATE TABLE big (id INT PRIMARY KEY, v INT); CREATE TABLE small (k INT, tag INT)")
        _ = try await db.execute("BEGIN")
        for i in 0..<5000 { _ = try await db.execute("INSERT INTO big VALUES ($1, $2)", [.int(Int64(i)), .int(Int64(i % 13))]) }
        var expectedInner = (count: 0, sum: 0)
        var expectedLeft = 0
        for j in 0..<2500 {
            // Descending, with gaps past the end of big and some NULLs.
            let k: Int? = j % 97 == 0 ? nil : (7000 - j * 3)
            _ = try await db.execute("INSERT INTO small VALUES ($1, $2)", [k.map { .int(Int64($0)) } ?? .null, .int(Int64(j))])
            expectedLeft += 1
            if let k, k >= 0, k < 5000, k % 13 != 4 {
                expectedInner.count += 1
                expectedInner.sum += k % 13
            }
        }
        _ = try await db.execute("COMMIT")
        let plan = try await db.rows("EXPLAIN SELECT * FROM small JOIN big ON big.id = small.k").map { $0[0] }.joined()
        #expect(plan.contains("Primary Key Lookup Join"))
        #expect(try await db.rows("SELECT count(*), sum(big.v) FROM small JOIN big ON big.id = small.k WHERE big.v <> 4")
            == [["\(expectedInner.count)", "\(expectedInner.sum)"]])
        #expect(try await db.rows("SELECT count(*), count(big.v), sum(big.v) FROM small LEFT JOIN big ON big.id = small.k AND big.v <> 4")
            == [["\(expectedLeft)", "\(expectedInner.count)", "\(expectedInner.sum)"]])
        // Materialised (under a sort) and streamed forms agree row for row.
        let sorted = try await db.rows("SELECT small.tag, big.v FROM small JOIN big ON big.id = small.k ORDER BY small.tag")
        let streamed = try await db.rows("SELECT small.tag, big.v FROM small JOIN big ON big.id = small.k")
        #expect(sorted.count == streamed.count && Set(sorted.map { $0.joined(separator: ",") }) == Set(streamed.map { $0.joined(separator: ",") }))
    }

    /// A join of 64 tables (as in sqllogictest's select5) plans greedily along the
    /// equalities and finishes at once instead of enumerating a 10^64 cross product.
    @Test func joinOfSixtyFourTables() async throws {
        let db = try await memorySession()
        _ = try await db.execute("BEGIN")
        for t in 1...64 {
            _ = try await db.execute("CREATE TABLE t\(t) (a INT PRIMARY KEY, b INT, x TEXT)")
            for r in 1...10 { _ = try await db.execute("INSERT INTO t\(t) VALUES ($1, $2, $3)", [.int(Int64(r)), .int(Int64((r * t) % 7)), .text("r\(r)")]) }
        }
        _ = try await db.execute("COMMIT")
        // FROM lists the tables in a scrambled order; WHERE chains them in another.
        let order = (1...64).map { ($0 * 37) % 64 + 1 }
        let from = order.map { "t\($0)" }.joined(separator: ", ")
        let equalities = (1..<64).map { "t\($0).a = t\($0 + 1).a" }.joined(separator: " AND ")
        #expect(try await db.rows("SELECT count(*), min(t64.x) FROM \(from) WHERE \(equalities) AND t1.a > 3") == [["7", "r10"]])
        #expect(try await db.rows("SELECT t1.a, t64.b FROM \(from) WHERE \(equalities) AND t32.a = 5") == [["5", "5"]])
        let plan = try await db.rows("EXPLAIN SELECT count(*) FROM \(from) WHERE \(equalities)").map { $0[0] }
        #expect(plan.filter { $0.contains("Hash Join") }.count == 63)
    }

    /// An untyped literal in arithmetic takes the other operand's type, as in PostgreSQL
    /// (it was left as text and computed in double precision).
    @Test func untypedLiteralsInArithmeticTakeTheOtherType() async throws {
        let db = try await memorySession()
        _ = try await db.execute("CREATE TABLE t (a INT); INSERT INTO t VALUES (2)")
        #expect(try await db.rows("SELECT typeof('5' + 1), typeof(a + '3'), a + '3', typeof('1.5' + 1.0), '2' * '3' FROM t")
            == [["integer", "integer", "5", "numeric", "6"]])
        #expect(await db.sqlState("SELECT a + 'x' FROM t") == "22P02")
    }
}
