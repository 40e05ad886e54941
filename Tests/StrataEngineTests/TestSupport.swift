import Foundation
import StrataEngine
import StrataLocalServers
import StrataStore
import Testing

/// Bytes of a string, for readable tests.
func b(_ s: String) -> [UInt8] { Array(s.utf8) }

/// A string from bytes.
func s(_ b: [UInt8]?) -> String? { b.map { String(decoding: $0, as: UTF8.self) } }

/// A fresh empty directory under the system temporary directory.
func temporaryDirectory(_ name: String = #function) -> String {
    let clean = name.filter { $0.isLetter || $0.isNumber }
    let path = NSTemporaryDirectory() + "strata-test-\(clean)-\(UUID().uuidString.prefix(8))"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Options that make flushes and compactions happen after a few commits.
func smallOptions(checkpoint: UInt64 = 5, maxSegments: Int = 3) -> EngineOptions {
    var o = EngineOptions()
    o.checkpointInterval = checkpoint
    o.maxSegments = maxSegments
    o.blockSize = 128
    o.automaticMaintenance = false
    return o
}

/// The `strata` executable built next to the test bundle.
func strataExecutable() -> URL { ChildProcess.strataExecutable() }

/// Where a test keeps its database: a local directory, or a fresh bucket on the
/// test's moto server. Tests that must hold on both take it as an argument.
enum Place: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case directory, s3
    var testDescription: String { rawValue }

    /// A new empty database location: the URL or path child processes and `Database.open` take.
    func makeLocation(_ name: String = #function) async throws -> String {
        switch self {
        case .directory: return temporaryDirectory(name) + "/db"
        case .s3:
            let moto = try await MotoServer.shared()
            // No disk cache: each process reads the bucket itself.
            return moto.url(try await moto.makeBucket(), "&cache=none")
        }
    }

    /// Opens a location made by ``makeLocation(_:)``.
    func open(_ location: String) throws -> any ObjectStore { try StoreLocation.open(location) }
}
