import Synchronization

/// Asks the statement a session is running to stop (PostgreSQL's CancelRequest, or its
/// `statement_timeout`): set from any thread, checked by the executor between batches and
/// rows, reset when the next statement starts. A statement that stops this way fails with 57014.
public final class CancelFlag: Sendable {
    /// 0: not set; 1: the client asked; 2: the statement timed out.
    private let requested = Atomic<Int>(0)

    /// A flag that is not set.
    public init() {}

    /// Asks the running statement, if any, to stop.
    public func cancel() { requested.store(1, ordering: .releasing) }

    /// Stops the running statement because it ran longer than `statement_timeout`.
    func timeOut() { requested.store(2, ordering: .releasing) }

    /// Forgets a request that came while no statement ran.
    public func reset() { requested.store(0, ordering: .releasing) }

    /// Throws 57014 when a cancel was requested.
    @inline(__always) func check() throws {
        switch requested.load(ordering: .acquiring) {
        case 0: return
        case 2: throw SQLError(SQLError.queryCanceled, "canceling statement due to statement timeout")
        default: throw SQLError(SQLError.queryCanceled, "canceling statement due to user request")
        }
    }
}
