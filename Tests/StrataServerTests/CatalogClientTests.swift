import Foundation
import StrataLocalServers
import Testing

/// What clients read from `pg_catalog`: psql's describe commands print what PostgreSQL 15
/// prints for the same schema, and SQLAlchemy 2 runs an ORM application (table creation
/// with SERIAL keys, batched inserts with RETURNING, updates, rollbacks, drops) through
/// psycopg 3 and pg8000.
extension PostgresServerTests {
    static let describedSchema = """
        CREATE TABLE t (id INT PRIMARY KEY, name TEXT NOT NULL DEFAULT 'x', v NUMERIC CHECK (v > 0));
        CREATE INDEX t_name ON t (name);
        CREATE TABLE u (a INT REFERENCES t (id), b VARCHAR(20) UNIQUE);
        CREATE VIEW w AS SELECT id FROM t;
        """

    @Test func psqlDescribesTablesViewsAndDatabases() async throws {
        let server = try await ServeProcess()
        let (created, setup) = try await psql(server.port, Self.describedSchema)
        #expect(created == 0, "\(setup)")
        let (status, lines) = try await psql(server.port, "\\dt\n\\d t\n\\d u\n\\dv\n\\di\n\\l\n\\dn\n", format: [])
        #expect(status == 0, "\(lines)")
        let text = lines.map { $0.trimmingCharacters(in: .whitespaces) }
        // As PostgreSQL 15 prints them for this schema (owner aside: the database's own role here).
        let expected = [
            "public | t    | table | strata", "public | u    | table | strata",
            "Table \"public.t\"", "id     | integer |           | not null |", "name   | text    |           | not null | 'x'",
            "v      | numeric |           |          |", "\"t_pkey\" PRIMARY KEY, btree (id)", "\"t_name\" btree (name)",
            "Check constraints:", "\"t_v_check\" CHECK ((v > 0))", "Referenced by:",
            "TABLE \"u\" CONSTRAINT \"u_a_fkey\" FOREIGN KEY (a) REFERENCES t(id)",
            "Table \"public.u\"", "b      | character varying(20) |           |          |",
            "\"u_b_key\" UNIQUE CONSTRAINT, btree (b)", "Foreign-key constraints:", "\"u_a_fkey\" FOREIGN KEY (a) REFERENCES t(id)",
            "public | w    | view | strata",
            "public | t_name  | index | strata | t", "public | t_pkey  | index | strata | t", "public | u_b_key | index | strata | u",
            "strata | strata | UTF8     | C.UTF-8 | C.UTF-8 |            | libc            |",
            "public | strata",
        ]
        for line in expected { #expect(text.contains(line), "missing \(line) in \(text)") }
        #expect(!lines.contains { $0.contains("ERROR") }, "\(lines)")
    }

    static let sqlalchemyScript = """
        import sys
        from sqlalchemy import create_engine, String, ForeignKey, select, func, text, inspect
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, Session
        engine = create_engine(sys.argv[2].replace("PORT", sys.argv[1]))
        class Base(DeclarativeBase): pass
        class Account(Base):
            __tablename__ = "accounts"
            id: Mapped[int] = mapped_column(primary_key=True)
            owner: Mapped[str] = mapped_column(String(40))
            balance: Mapped[int] = mapped_column(default=0)
        class Entry(Base):
            __tablename__ = "entries"
            id: Mapped[int] = mapped_column(primary_key=True)
            account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
            amount: Mapped[int]
        Base.metadata.create_all(engine)
        Base.metadata.create_all(engine)  # finds the tables and creates nothing
        with Session(engine) as s:
            s.add_all([Account(owner="ann", balance=10), Account(owner="bob", balance=20)])
            s.commit()
            print([(a.id, a.owner, a.balance) for a in s.scalars(select(Account).order_by(Account.id))])
            ann = s.scalars(select(Account).where(Account.owner == "ann")).one()
            ann.balance += 5
            s.add(Entry(account_id=ann.id, amount=5))
            s.commit()
            s.add(Account(owner="gone")); s.flush(); s.rollback()
            print(s.scalar(select(func.count()).select_from(Account)), s.scalar(select(Account.balance).where(Account.owner == "ann")))
            try:
                s.execute(text("SELECT * FROM nosuch"))
            except Exception as e:
                print("error", type(e).__name__)
            s.rollback()
            print(s.execute(text("SELECT owner FROM accounts FOR SYSTEM_TIME AS OF VERSION 4 ORDER BY owner")).scalars().all())
        print(sorted(inspect(engine).get_table_names()))
        Base.metadata.drop_all(engine)
        print(sorted(inspect(engine).get_table_names()))
        """

    @Test(arguments: ["postgresql+psycopg://app:pw@127.0.0.1:PORT/strata", "postgresql+pg8000://app:pw@127.0.0.1:PORT/strata"])
    func sqlalchemyRunsAnORMApplication(_ url: String) async throws {
        let (status, lines) = try await runPython(Self.sqlalchemyScript, arguments: [url])
        #expect(status == 0, "\(lines)")
        // Version 1 created the role, 2 and 3 the tables, 4 the first two rows.
        #expect(
            lines == [
                "[(1, 'ann', 10), (2, 'bob', 20)]", "2 15", "error ProgrammingError", "['ann', 'bob']",
                "['accounts', 'entries']", "[]",
            ], "\(lines)")
    }
}
