import StrataEngine
import StrataSQL
import StrataStore
import Testing

/// `pg_catalog` and `information_schema` computed from the catalog, the functions and
/// casts clients use with them, arrays, regular expressions and sequences.
@Suite struct SystemCatalogTests {
    static let schema = """
        CREATE TABLE t (id INT PRIMARY KEY, name TEXT NOT NULL DEFAULT 'x', v NUMERIC CHECK (v > 0));
        CREATE INDEX t_name ON t (name);
        CREATE TABLE u (a INT REFERENCES t (id) ON DELETE CASCADE, b VARCHAR(20) UNIQUE);
        CREATE VIEW w AS SELECT id, name FROM t
        """

    @Test func relationsDescribeTheCatalog() async throws {
        let s = try await memorySession()
        _ = try await s.execute(Self.schema)
        #expect(try await s.rows("""
            SELECT c.relname, c.relkind, n.nspname FROM pg_catalog.pg_class c
            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace ORDER BY 1
            """) == [["t", "r", "public"], ["t_name", "i", "public"], ["t_pkey", "i", "public"], ["u", "r", "public"],
                     ["u_b_key", "i", "public"], ["w", "v", "public"]])
        #expect(try await s.rows("""
            SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull, a.atthasdef
            FROM pg_attribute a WHERE a.attrelid = 'u'::regclass AND a.attnum > 0 ORDER BY a.attnum
            """) == [["a", "integer", "f", "f"], ["b", "character varying(20)", "f", "f"]])
        #expect(try await s.rows("""
            SELECT conname, contype, pg_get_constraintdef(oid, true), conrelid::regclass, confrelid::regclass
            FROM pg_constraint ORDER BY conname
            """) == [
                ["t_pkey", "p", "PRIMARY KEY (id)", "t", "0"], ["t_v_check", "c", "CHECK ((v > 0))", "t", "0"],
                ["u_a_fkey", "f", "FOREIGN KEY (a) REFERENCES t(id) ON DELETE CASCADE", "u", "t"],
                ["u_b_key", "u", "UNIQUE (b)", "u", "0"],
            ])
        #expect(try await s.rows("""
            SELECT pg_get_indexdef(i.indexrelid), i.indisprimary FROM pg_index i WHERE i.indrelid = 't'::regclass ORDER BY 2 DESC
            """) == [["CREATE UNIQUE INDEX t_pkey ON public.t USING btree (id)", "t"], ["CREATE INDEX t_name ON public.t USING btree (name)", "f"]])
        #expect(try await s.rows("SELECT adbin FROM pg_attrdef WHERE adrelid = 't'::regclass") == [["'x'"]])
        #expect(try await s.rows("""
            SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns
            WHERE table_name IN ('t', 'w') ORDER BY table_name, ordinal_position
            """) == [["t", "id", "integer", "NO"], ["t", "name", "text", "NO"], ["t", "v", "numeric", "YES"],
                     ["w", "id", "integer", "YES"], ["w", "name", "text", "YES"]])
        #expect(try await s.rows("SELECT table_name, table_type FROM information_schema.tables ORDER BY 1")
            == [["t", "BASE TABLE"], ["u", "BASE TABLE"], ["w", "VIEW"]])
        #expect(try await s.rows("SELECT tablename FROM pg_tables ORDER BY 1") == [["t"], ["u"]])
        #expect(try await s.rows("SELECT datname FROM pg_database") == [["strata"]])
        // A user table may be called like an information_schema view.
        _ = try await s.execute("CREATE TABLE tables (x INT); INSERT INTO tables VALUES (7)")
        #expect(try await s.rows("SELECT x FROM tables") == [["7"]])
        // The catalog of a past version, like any table.
        #expect(try await s.rows("SELECT count(*) FROM pg_class FOR SYSTEM_TIME AS OF VERSION 1") == [["2"]])
    }

    @Test func castsAndFunctionsLookUpObjects() async throws {
        let s = try await memorySession()
        _ = try await s.execute(Self.schema)
        let oid = try await s.rows("SELECT 't'::regclass")[0][0]
        // An OID cast to regclass prints the name; a name (or number) cast to it is the OID, to compare with OIDs.
        #expect(try await s.rows("SELECT \(oid)::regclass, '\(oid)'::regclass, 'public.t'::regclass = \(oid), '\"t\"'::regclass = \(oid)")
            == [["t", oid, "t", "t"]])
        #expect(await s.sqlState("SELECT 'nosuch'::regclass") == "42P01")
        #expect(try await s.rows("SELECT 23::regtype, 'int4'::regtype, to_regtype('hstore'), to_regclass('w') IS NOT NULL")
            == [["integer", "23", "NULL", "t"]])
        #expect(try await s.rows("SELECT pg_get_userbyid(10), pg_table_is_visible(\(oid)), pg_encoding_to_char(6), current_database()")
            == [["strata", "t", "UTF8", "strata"]])
        #expect(try await s.rows("SELECT typname FROM pg_type WHERE oid = to_regtype('integer')") == [["int4"]])
    }

    @Test func arraysAndRegularExpressions() async throws {
        let s = try await memorySession()
        #expect(try await s.rows("SELECT ARRAY[1, 2] || 3, ARRAY['a b', NULL, 'c\"'], (ARRAY['x', 'y'])[2], ARRAY[]::text[]")
            == [["{1,2,3}", "{\"a b\",NULL,\"c\\\"\"}", "y", "{}"]])
        #expect(try await s.rows("SELECT 'b' = ANY('{a,b}'::text[]), 'z' = ANY('{a,b}'::text[]), 'z' = ANY('{a,NULL}'::text[]), 'b' = ANY(ARRAY['a', 'b'])")
            == [["t", "f", "NULL", "t"]])
        #expect(try await s.rows("SELECT array_to_string(ARRAY['a', NULL, 'c'], ', '), array_to_string(ARRAY['a', NULL], ',', '*'), array_upper('{a,b,c}'::text[], 1), cardinality('{}'::text[])")
            == [["a, c", "a,*", "3", "0"]])
        #expect(try await s.rows("SELECT x, n FROM unnest('{p,q}'::text[]) WITH ORDINALITY AS u(x, n) ORDER BY n") == [["p", "1"], ["q", "2"]])
        #expect(try await s.rows("SELECT ARRAY(SELECT x FROM generate_series(1, 3) AS x ORDER BY x DESC), ARRAY(SELECT 1 WHERE false)")
            == [["{3,2,1}", "{}"]])
        #expect(try await s.rows("SELECT array_agg(x) FROM generate_series(1, 3) AS x") == [["{1,2,3}"]])
        #expect(await s.sqlState("SELECT '{a' :: text[]") == "22P02")
        #expect(await s.sqlState("CREATE TABLE bad (a INT[])") == "0A000")
        #expect(try await s.rows("SELECT 'pg_toast' ~ '^pg_', 'Abc' ~* '^a', 'Abc' !~ '^a', 'abc' !~* 'B', 'x' OPERATOR(pg_catalog.~) '^(x)$'")
            == [["t", "t", "t", "f", "t"]])
        #expect(await s.sqlState("SELECT 'a' ~ '('") == "2201B")
    }

    @Test func serialAndIdentityColumnsNumberRows() async throws {
        let s = try await memorySession()
        _ = try await s.execute("""
            CREATE TABLE a (id SERIAL PRIMARY KEY, name TEXT);
            CREATE TABLE b (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name TEXT)
            """)
        #expect(try await s.rows("INSERT INTO a (name) VALUES ('x'), ('y') RETURNING id") == [["1"], ["2"]])
        #expect(try await s.rows("INSERT INTO a (name) VALUES ('z') RETURNING id, name") == [["3", "z"]])
        _ = try await s.execute("INSERT INTO b (name) SELECT 'n' || x FROM generate_series(1, 40) AS x")
        #expect(try await s.rows("SELECT min(id), max(id), count(DISTINCT id) FROM b") == [["1", "40", "40"]])
        // Sequences are not transactional: a rolled-back insert leaves a gap, as in PostgreSQL.
        _ = try await s.execute("BEGIN; INSERT INTO a (name) VALUES ('gone'); ROLLBACK")
        #expect(try await s.rows("INSERT INTO a (name) VALUES ('w') RETURNING id") == [["5"]])
        #expect(try await s.rows("SELECT column_default FROM information_schema.columns WHERE table_name = 'a' AND column_name = 'id'")
            == [["nextval('a_id_seq')"]])
        #expect(await s.sqlState("INSERT INTO a (id, name) VALUES (NULL, 'n')") == "23502")
    }

    @Test func sessionsOfOneEngineShareSequences() async throws {
        let engine = try await Engine.open(MemoryStore())
        let cache = SchemaCache()
        let one = Session(engine: engine, cache: cache)
        _ = try await one.execute("CREATE TABLE a (id SERIAL PRIMARY KEY, who TEXT)")
        // Each session its own cache here: each process reserves blocks of its own.
        let two = Session(engine: engine)
        for n in 0..<50 {
            _ = try await (n % 2 == 0 ? one : two).execute("INSERT INTO a (who) VALUES ('\(n % 2)')")
        }
        #expect(try await one.rows("SELECT count(DISTINCT id), count(*) FROM a") == [["50", "50"]])
    }

    /// set_config is SET as a function; what it set stays only if its statement succeeds.
    @Test func setConfigChangesSettingsWhenItsStatementSucceeds() async throws {
        let s = try await memorySession()
        #expect(try await s.rows("SELECT set_config('application_name', 'ledger', false), current_setting('application_name')")
            == [["ledger", "ledger"]])
        #expect(try await s.rows("SHOW application_name") == [["ledger"]])
        #expect(await s.sqlState("SELECT set_config('search_path', 'elsewhere', false), 1 / (x - 2) FROM generate_series(1, 2) AS x") == "22012")
        #expect(try await s.rows("SELECT current_setting('search_path')") == [["public"]])
    }
}
