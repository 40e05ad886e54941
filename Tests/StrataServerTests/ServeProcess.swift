import Foundation
import StrataLocalServers

/// `strata serve` in a child process on a free port, over a new database directory.
/// A server of its own process answers even while this test process is busy with other
/// tests (in-process, the server's tasks would share the test process's two threads).
final class ServeProcess: Sendable {
    let port: Int
    let directory: String
    let child: ChildProcess

    /// Starts the server with extra `arguments` and waits until it listens. `setup` is SQL
    /// run on the database first (with `strata sql`, e.g. to create roles); without `trust`
    /// clients log in with passwords.
    init(_ arguments: [String] = [], trust: Bool = true, setup: String? = nil) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("strata-serve-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if let setup {
            let sql = try ChildProcess(
                ChildProcess.strataExecutable(), ["sql", directory + "/db", setup], output: directory + "/setup.txt",
                mergeErrors: true)
            guard await sql.wait() == 0 else { throw ChildProcessError(message: "setup failed: \(sql.lines)") }
        }
        child = try ChildProcess(
            ChildProcess.strataExecutable(),
            ["serve", directory + "/db", "--listen", "127.0.0.1:0"] + (trust ? ["--trust"] : []) + arguments,
            output: directory + "/out.txt", mergeErrors: true)
        port = try await child.announcedPort(prefix: "strata serve: database")
    }

    /// What the server printed so far (its log).
    var output: [String] { child.lines }

    /// Sends SIGTERM and waits for the exit status.
    func stop() async -> Int32 {
        kill(child.processIdentifier, SIGTERM)
        return await child.wait()
    }

    deinit {
        kill(child.processIdentifier, SIGKILL)
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Runs blocking socket work on a thread of its own (not the cooperative pool, and not
/// Dispatch's, which runs only so many blocked items at once).
func blocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { c in
        Thread { c.resume(with: Result { try work() }) }.start()
    }
}
