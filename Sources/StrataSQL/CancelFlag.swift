import Synchronization

/// Asks the statement a session is running to stop (PostgreSQL's CancelRequest): set from
/// any thread, checked by the executor between batches and rows, reset when the next
/// statement starts. A statement that stops this way fails with 57014.
public final class CancelFlag: Sendable {
    private let requested = Atomic<Bool>(false)

    /// A flag that is not set.
    public init() {}

    /// Asks the running statement, if any, to stop.
    public func cancel() { requested.store(true, ordering: .releasing) }

    /// Forgets a request that came while no statement ran.
    public func reset() { requested.store(false, ordering: .releasing) }

    /// Throws 57014 when a cancel was requested.
    @inline(__always) func check() throws {
        if requested.load(ordering: .acquiring) {
            throw SQLError(SQLError.queryCanceled, "canceling statement due to user request")
        }
    }
}
