import ArgumentParser
import Foundation
import Strata

/// `strata sql [DB] "SQL..."`: runs statements and prints their results.
struct SQLCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sql", abstract: "Run SQL statements against a database (default ./strata-data) and print the results.")

    @Argument(help: "[DB] SQL: the database directory (or memory:) and the statements; with one argument, DB is ./strata-data.")
    var arguments: [String]

    @Option(help: "Output format: table, csv or json.")
    var format: ResultFormat = .table

    mutating func run() async throws {
        guard (1...2).contains(arguments.count) else { throw ValidationError("expected [DB] SQL") }
        let db = arguments.count == 2 ? arguments[0] : "./strata-data"
        let sql = arguments.last!
        let database = try await Database.open(db)
        defer { Task { await database.close() } }
        let session = Session(engine: database.engine)
        do {
            for result in try await session.execute(sql) { print(format.render(result), terminator: "") }
        } catch {
            printError("ERROR: \(error)")
            throw ExitCode(1)
        }
    }
}

/// `strata shell [DB]`: an interactive SQL prompt.
struct ShellCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shell", abstract: "An interactive SQL prompt (\\? for help) on a database (default ./strata-data).")

    @Argument(help: "Database directory, or memory:.")
    var db: String = "./strata-data"

    mutating func run() async throws {
        let database = try await Database.open(db)
        let shell = Shell(session: Session(engine: database.engine), interactive: isatty(0) != 0)
        await shell.run()
        await database.close()
    }
}

/// The shell's loop: collects lines until a statement ends with `;`, runs it, and
/// handles backslash commands.
final class Shell {
    let session: Session
    let interactive: Bool
    var timing = false
    var format = ResultFormat.table
    var history: [String] = []

    init(session: Session, interactive: Bool) {
        self.session = session
        self.interactive = interactive
    }

    func prompt(_ continuation: Bool) {
        guard interactive else { return }
        let state = session.inTransaction ? "*" : ""
        print(continuation ? "strata-\(state)> " : "strata=\(state)> ", terminator: "")
        fflush(nil)
    }

    /// True when `text` holds at least one complete statement (ends with `;` outside quotes).
    static func complete(_ text: String) -> Bool {
        guard let tokens = try? Lexer.tokenize(text) else { return false }
        return tokens.dropLast().last?.kind == .symbol(";")
    }

    func run() async {
        if interactive { print("strata shell: \\? for help, \\q to quit") }
        var buffer = ""
        prompt(false)
        while let line = readLine() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if buffer.isEmpty && trimmed.hasPrefix("\\") {
                if await meta(trimmed) { return }
                prompt(false)
                continue
            }
            buffer += buffer.isEmpty ? line : "\n" + line
            if Shell.complete(buffer) {
                history.append(buffer)
                await runSQL(buffer)
                buffer = ""
            }
            prompt(!buffer.isEmpty)
        }
        if !buffer.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            history.append(buffer)
            await runSQL(buffer)
        }
    }

    func runSQL(_ sql: String) async {
        let started = ContinuousClock.now
        do {
            for result in try await session.execute(sql) { print(format.render(result), terminator: "") }
        } catch {
            print("ERROR: \(error)")
        }
        if timing {
            let d = ContinuousClock.now - started
            print(String(format: "Time: %.3f ms", Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15))
        }
    }

    /// Runs a backslash command; returns true to quit.
    func meta(_ command: String) async -> Bool {
        let parts = command.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        do {
            switch parts[0] {
            case "\\q": return true
            case "\\?":
                print("""
                    \\d [TABLE]   list relations, or describe a table
                    \\dt          list tables
                    \\timing      toggle timing of statements
                    \\format F    output as table, csv or json
                    \\s           show the statements of this session
                    \\q           quit
                    SQL statements end with ;  Time travel: SELECT ... FROM t FOR SYSTEM_TIME AS OF VERSION n
                    """)
            case "\\timing":
                timing.toggle()
                print("Timing is \(timing ? "on" : "off").")
            case "\\format":
                if parts.count > 1, let f = ResultFormat(rawValue: parts[1]) { format = f } else { print("formats: table, csv, json") }
            case "\\s":
                for (i, h) in history.enumerated() { print("\(i + 1)  \(h)") }
            case "\\dt", "\\d":
                if parts[0] == "\\d", parts.count > 1 {
                    guard let d = try await session.describe(parts[1]) else {
                        print("Did not find any relation named \"\(parts[1])\".")
                        return false
                    }
                    print("Table \"\(d.name)\"")
                    let rows: [[SQLValue]] = d.columns.map {
                        [.text($0.name), .text($0.type), .text($0.nullable ? "" : "not null"), .text($0.defaultSQL ?? "")]
                    }
                    print(ResultFormat.table(StatementResult.make(
                        columns: ["Column", "Type", "Nullable", "Default"], rows: rows)), terminator: "")
                    if !d.primaryKey.isEmpty { print("Primary key: (\(d.primaryKey.joined(separator: ", ")))") }
                    for i in d.indexes { print("Index: \(i.name)\(i.unique ? " UNIQUE" : "") (\(i.columns.joined(separator: ", ")))") }
                    for c in d.checks { print("Check: \(c.name) CHECK (\(c.sql))") }
                } else {
                    let rels = try await session.relations().filter { parts[0] == "\\d" || $0.kind == "table" }
                    print(ResultFormat.table(StatementResult.make(columns: ["Name", "Type"], rows: rels.map { [.text($0.name), .text($0.kind)] })), terminator: "")
                }
            default:
                print("invalid command \(parts[0]); try \\?")
            }
        } catch {
            print("ERROR: \(error)")
        }
        return false
    }
}
