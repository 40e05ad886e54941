import ArgumentParser
import Foundation
import StrataEngine
import StrataStore

/// The `strata` command: shell and admin tool for Strata databases.
@main
struct StrataCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strata",
        abstract: "Strata: a versioned database whose only durable state is immutable objects in a store.",
        subcommands: [DemoCommand.self, SQLCommand.self, ShellCommand.self, KVCommand.self, LogCommand.self, VerifyCommand.self, BackupCommand.self, ServeCommand.self, BenchCommand.self, SLTCommand.self, DebugCommand.self]
    )
}

/// Opens the engine for a database argument: a directory path or an `s3://` URL.
func openEngine(_ location: String, options: EngineOptions = EngineOptions()) async throws -> Engine {
    try await Engine.open(try openStore(location), options: options)
}

/// Renders microseconds since 1970 as an ISO 8601 UTC time with microseconds.
func formatTimestamp(_ micros: UInt64) -> String {
    let seconds = Date(timeIntervalSince1970: TimeInterval(micros / 1_000_000))
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime]
    var text = f.string(from: seconds)
    let frac = String(micros % 1_000_000)
    text.insert(contentsOf: "." + String(repeating: "0", count: 6 - frac.count) + frac, at: text.index(text.endIndex, offsetBy: -1))
    return text
}

/// Shows bytes as text when they are printable UTF-8, else as hex.
func display(_ bytes: [UInt8]) -> String {
    if let text = String(validating: bytes, as: UTF8.self), text.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7f }) {
        return text
    }
    return "0x" + bytes.map { String(format: "%02x", $0) }.joined()
}

/// Writes a line to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
