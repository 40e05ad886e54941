import Foundation
import StrataLocalServers
import Synchronization

/// A `strata` child process (see ``ChildProcess``).
typealias StrataChild = ChildProcess

extension ChildProcess {
    /// Starts `strata arguments`.
    convenience init(_ arguments: [String], output: String, mergeErrors: Bool = false, input: String? = nil) throws {
        try self.init(ChildProcess.strataExecutable(), arguments, output: output, mergeErrors: mergeErrors, input: input)
    }
}

/// Runs `strata` with arguments to completion; returns its exit status and output.
func runStrata(_ args: [String], input: String? = nil) async throws -> (status: Int32, output: String) {
    let out = temporaryDirectory("run") + "/output.txt"
    let child = try StrataChild(args, output: out, mergeErrors: true, input: input)
    let status = await child.wait()
    return (status, child.lines.map { $0 + "\n" }.joined())
}
