/// A place in SQL text: 1-based line and column (in Unicode scalars) and the byte offset.
public struct SourceLocation: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// 1-based line number.
    public var line: Int
    /// 1-based column, counted in Unicode scalars.
    public var column: Int
    /// 0-based byte offset into the UTF-8 text.
    public var offset: Int

    /// Creates a location.
    public init(line: Int, column: Int, offset: Int) {
        self.line = line
        self.column = column
        self.offset = offset
    }

    public var description: String { "line \(line), column \(column)" }
}

import StrataEngine

/// An error in SQL text or its execution, with the PostgreSQL SQLSTATE clients match on.
///
/// Match a kind with its code: `catch SQLError.syntaxError { ... }`.
public struct SQLError: CodedError, Equatable, Sendable, CustomStringConvertible {
    /// A kind of SQL error and its SQLSTATE (the same type the engine uses).
    public typealias Code = EngineError.Code

    /// The kind of error.
    public let code: Code
    /// What went wrong, for people.
    public let message: String
    /// Where in the SQL text, when the error is about the text.
    public let location: SourceLocation?

    /// Creates an error.
    public init(_ code: Code, _ message: String, at location: SourceLocation? = nil) {
        self.code = code
        self.message = message
        self.location = location
    }

    /// The SQLSTATE of the error's code.
    public var sqlState: String { code.sqlState }

    public var description: String {
        if let location { return "\(message) at \(location) [SQLSTATE \(code.sqlState)]" }
        return "\(message) [SQLSTATE \(code.sqlState)]"
    }

    /// The text is not valid SQL (42601).
    public static let syntaxError = Code(sqlState: "42601", name: "syntax error")
    /// The text nests deeper than the parser allows (54001, statement too complex).
    public static let tooComplex = Code(sqlState: "54001", name: "statement too complex")
    /// A string literal contains an invalid escape sequence (22025).
    public static let invalidEscape = Code(sqlState: "22025", name: "invalid escape sequence")
}
