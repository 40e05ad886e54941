import ArgumentParser
import Strata

/// `strata demo [DB]`: Strata's main job in one run: SQL commits on a local database,
/// the current state, the state as of an earlier commit, a row's history, and a verify.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Run SQL with time travel on a local database (default ./strata-data), then verify it.")
    @Argument(help: "Database: a directory or s3://bucket/prefix?endpoint=...&region=...") var db: String = "./strata-data"

    func run() async throws {
        let database = try await Database.open(db)
        let session = Session(engine: database.engine)
        print("opened \(db) at version \(database.version)\n")
        func show(_ sql: String) async throws {
            print("strata=> \(sql)")
            for result in try await session.execute(sql) { print(ResultFormat.table.render(result)) }
        }
        try await show("CREATE TABLE IF NOT EXISTS prices (item TEXT PRIMARY KEY, price NUMERIC NOT NULL, runs INT NOT NULL DEFAULT 1)")
        try await show("INSERT INTO prices (item, price) VALUES ('coffee', 2.50), ('tea', 1.80) ON CONFLICT (item) DO UPDATE SET runs = prices.runs + 1")
        let before = database.version
        try await show("UPDATE prices SET price = price + 0.25 WHERE item = 'coffee'")
        try await show("SELECT item, price, runs FROM prices ORDER BY item")
        try await show("SELECT item, price FROM prices FOR SYSTEM_TIME AS OF VERSION \(before) ORDER BY item")
        try await show("SELECT price, _version, _op, _valid_from FROM prices FOR SYSTEM_TIME ALL WHERE item = 'coffee' ORDER BY _version DESC LIMIT 4")
        await database.close()
        let report = try await Engine.verify(try openStore(db))
        print("verify: \(report.entries) log entries, \(report.objects) objects: \(report.isValid ? "ok" : report.problems.joined(separator: "; "))")
        if !report.isValid { throw ExitCode(1) }
    }
}
