/// An error from the storage engine, carrying the PostgreSQL SQLSTATE that the
/// SQL layer reports for it.
///
/// Match a kind of error with its code: `catch EngineError.serializationFailure { ... }`.
public struct EngineError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A kind of error and its SQLSTATE; shared by every Strata layer that reports one.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The five-character PostgreSQL SQLSTATE.
        public let sqlState: String
        /// A short name for messages.
        public let name: String
        public var description: String { "\(name) (\(sqlState))" }

        /// Creates a code.
        public init(sqlState: String, name: String) {
            self.sqlState = sqlState
            self.name = name
        }
    }

    /// The kind of error.
    public let code: Code
    /// What went wrong, for people.
    public let message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The SQLSTATE of the error's code.
    public var sqlState: String { code.sqlState }
    public var description: String { "\(message) [SQLSTATE \(code.sqlState)]" }

    /// Another transaction committed a change to something this one read: retry it.
    public static let serializationFailure = Code(sqlState: "40001", name: "serialization failure")
    /// Stored bytes do not match their hash or checksum, or a structure is malformed.
    public static let corrupt = Code(sqlState: "XX001", name: "data corrupted")
    /// The requested version is older than the retention horizon.
    public static let snapshotTooOld = Code(sqlState: "72000", name: "snapshot too old")
    /// The requested version or timestamp does not exist yet.
    public static let noSuchVersion = Code(sqlState: "22023", name: "no such version")
    /// The object store failed.
    public static let storage = Code(sqlState: "58030", name: "storage error")
    /// An argument was out of range or malformed.
    public static let invalidArgument = Code(sqlState: "22023", name: "invalid argument")
    /// The engine was closed.
    public static let closed = Code(sqlState: "08003", name: "engine closed")
    /// Waiting for a row lock would have closed a cycle of transactions waiting for each other.
    public static let deadlock = Code(sqlState: "40P01", name: "deadlock detected")
    /// A background structural change lost a race with another one and was abandoned.
    public static let structureChanged = Code(sqlState: "40001", name: "structure changed")
}

/// An error that carries a SQLSTATE code: ``EngineError`` and the SQL layer's errors.
public protocol CodedError: Error {
    /// The kind of error.
    var code: EngineError.Code { get }
}

extension EngineError: CodedError {}

/// Lets `catch EngineError.serializationFailure` (or any code) match errors of that code.
public func ~= (code: EngineError.Code, error: any Error) -> Bool {
    (error as? any CodedError)?.code == code
}

func corrupt(_ message: String) -> EngineError { EngineError(EngineError.corrupt, message) }
