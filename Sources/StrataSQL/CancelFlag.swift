import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Asks the statement a session is running to stop (PostgreSQL's CancelRequest, or its
/// `statement_timeout`): set from any thread, checked by the executor between batches and
/// rows, reset when the next statement starts. A statement that stops this way fails with 57014.
public final class CancelFlag: Sendable {
    /// 0: not set; 1: the client asked.
    private let requested = Atomic<Int>(0)
    /// When the running statement times out (monotonic nanoseconds), 0 for never. The
    /// executor compares it with the clock itself: a timer task could wait for a thread
    /// for as long as the statement keeps the pool busy.
    private let deadline = Atomic<UInt64>(0)

    /// A flag that is not set.
    public init() {}

    /// Asks the running statement, if any, to stop.
    public func cancel() { requested.store(1, ordering: .releasing) }

    /// Stops the running statement once it has run `milliseconds` (`statement_timeout`); 0 clears it.
    func setTimeout(milliseconds: Int) {
        deadline.store(milliseconds > 0 ? CancelFlag.now() + UInt64(milliseconds) * 1_000_000 : 0, ordering: .releasing)
    }

    /// Forgets a request that came while no statement ran.
    public func reset() { requested.store(0, ordering: .releasing) }

    /// Throws 57014 when a cancel was requested or the statement's time is up.
    @inline(__always) func check() throws {
        if requested.load(ordering: .acquiring) != 0 {
            throw SQLError(SQLError.queryCanceled, "canceling statement due to user request")
        }
        let d = deadline.load(ordering: .acquiring)
        if d != 0 && CancelFlag.now() >= d {
            throw SQLError(SQLError.queryCanceled, "canceling statement due to statement timeout")
        }
    }

    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
