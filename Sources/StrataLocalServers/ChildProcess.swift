import Foundation
import Synchronization

/// A child process whose standard output goes to a file, so every line it flushed
/// survives even when it is killed with SIGKILL. Waiting for it never blocks a thread
/// of the cooperative pool (`Process.waitUntilExit` spins a run loop that, there,
/// may never see the exit).
public final class ChildProcess: Sendable {
    private let process: Process
    /// The exit status and whoever waits for it, shared with the termination handler.
    private final class Exit: Sendable {
        let state = Mutex<(status: Int32?, waiter: CheckedContinuation<Int32, Never>?)>((nil, nil))
    }
    private let exit = Exit()
    /// The file standard output goes to.
    public let outputPath: String

    /// Starts `executable arguments`; standard error goes to the same file when `mergeErrors`,
    /// `input`, when given, is its standard input, and `environment` adds to the inherited environment.
    public init(
        _ executable: URL, _ arguments: [String], output: String, mergeErrors: Bool = false, input: String? = nil,
        environment: [String: String] = [:]
    ) throws {
        outputPath = output
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        let p = Process()
        p.executableURL = executable
        p.arguments = arguments
        if !environment.isEmpty {
            p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let file = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        p.standardOutput = file
        p.standardError = mergeErrors ? file : FileHandle.standardError
        if let input {
            let inputPath = output + ".in"
            _ = FileManager.default.createFile(atPath: inputPath, contents: Data(input.utf8))
            p.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: inputPath))
        }
        process = p
        p.terminationHandler = { [exit] p in
            let waiter = exit.state.withLock { s -> CheckedContinuation<Int32, Never>? in
                s.status = p.terminationStatus
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume(returning: p.terminationStatus)
        }
        // The child inherits the spawning thread's signal mask. Threads of Swift's
        // cooperative pool (Dispatch workers) block signals such as SIGALRM, and a child
        // started with them blocked never sees its own timers (pgbench -T never ends):
        // spawn with nothing blocked.
        var none = sigset_t()
        var saved = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, &saved)
        defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
        try p.run()
    }

    /// Kills the process with SIGKILL and waits until it is gone.
    public func kill() async {
        Foundation.kill(process.processIdentifier, SIGKILL)
        _ = await wait()
    }

    /// The process id, to send it signals.
    public var processIdentifier: Int32 { process.processIdentifier }

    /// True once the process has ended.
    public var hasExited: Bool { exit.state.withLock { $0.status != nil } }

    /// The exit status, or nil when the process has not ended within `limit` (it is then
    /// killed with SIGKILL).
    public func wait(atMost limit: Duration) async -> Int32? {
        let timer = Task { [process] () -> Bool in
            do { try await Task.sleep(for: limit) } catch { return false }
            Foundation.kill(process.processIdentifier, SIGKILL)
            return true
        }
        let status = await wait()
        timer.cancel()
        return await timer.value ? nil : status
    }

    /// The exit status, once the process has ended.
    public func wait() async -> Int32 {
        await withCheckedContinuation { c in
            let done = exit.state.withLock { s -> Int32? in
                if let status = s.status { return status }
                s.waiter = c
                return nil
            }
            if let done { c.resume(returning: done) }
        }
    }

    /// The complete lines the process wrote: a last line without its newline was cut
    /// off by a kill in the middle of writing it, and does not count.
    public var lines: [String] {
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines.removeLast()  // empty after a final newline, or the unfinished line
        return lines.filter { !$0.isEmpty }
    }

    /// Waits until the process writes a line `prefix PORT` and returns PORT: servers here bind
    /// port 0 and say which port they got, so two servers started at once never race for one.
    public func announcedPort(prefix: String, within limit: Duration = .seconds(60)) async throws -> Int {
        let deadline = ContinuousClock.now + limit
        while true {
            if let line = lines.first(where: { $0.hasPrefix(prefix) }),
                let port = Int(line.split(whereSeparator: { $0 == " " || $0 == ":" }).last ?? "")
            {
                return port
            }
            if hasExited || ContinuousClock.now > deadline {
                let output = lines.suffix(20).joined(separator: "\n")
                throw ChildProcessError(message: "no \"\(prefix) PORT\" line from \(process.executableURL?.path ?? "?"):\n\(output)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// The `strata` executable built beside the running test binary (or this program).
    public static func strataExecutable() -> URL {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("strata")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("strata")
    }
}

/// A child process did not do what was expected of it; the message says what and shows its output.
public struct ChildProcessError: Error, CustomStringConvertible {
    /// What went wrong, with the end of the process's output.
    public let message: String
    /// The message.
    public var description: String { message }

    /// An error saying `message`.
    public init(message: String) { self.message = message }
}
