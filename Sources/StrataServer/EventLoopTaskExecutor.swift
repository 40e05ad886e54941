import NIOCore

/// Runs a connection's tasks on its channel's event loop: a message is read, answered and
/// written on one thread, without a hop to the global pool and back (a wake-up of another
/// thread per message, which was a fifth of the server's time under pgbench).
final class EventLoopTaskExecutor: TaskExecutor {
    let loop: any EventLoop

    init(_ loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        loop.execute { job.runSynchronously(on: executor) }
    }
}
