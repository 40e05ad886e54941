/// A failure of an ``ObjectStore`` operation, classified so that callers know
/// whether to retry, give up, or treat the outcome as an answer.
public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The object does not exist.
    case notFound(String)
    /// `putIfAbsent` found an object already stored under the key: someone else won.
    case alreadyExists(String)
    /// A conditional operation's precondition did not hold.
    case preconditionFailed(String)
    /// A failure that may succeed when tried again (timeouts, throttling, 5xx, EINTR).
    case transient(String)
    /// A failure that will not go away by retrying (bad key, permissions, a crashed store).
    case permanent(String)

    public var description: String {
        switch self {
        case .notFound(let k): return "object not found: \(k)"
        case .alreadyExists(let k): return "object already exists: \(k)"
        case .preconditionFailed(let m): return "precondition failed: \(m)"
        case .transient(let m): return "transient store error: \(m)"
        case .permanent(let m): return "store error: \(m)"
        }
    }

    /// True when the same operation may succeed if tried again.
    public var isRetryable: Bool {
        if case .transient = self { return true }
        return false
    }
}
