import NIOCore

/// The end of a connection's pipeline: decoded client messages wait here until the
/// connection's task asks for the next one.
///
/// The task runs on the channel's event loop (``EventLoopTaskExecutor``), so a message
/// that is already here is taken with no suspension, and one that arrives later resumes
/// the waiting task in the same loop turn. This replaces `NIOAsyncChannel`'s inbound
/// stream, whose locking and hand-over per message cost a tenth of the server's time.
/// Reading stops while `highWatermark` messages wait (a client streaming COPY data faster
/// than it is stored) and resumes below `lowWatermark`.
///
/// All state is touched on the event loop only: the handler's callbacks run there, and
/// ``next()`` moves there when called from elsewhere.
final class MessageInbox: ChannelInboundHandler, ChannelOutboundHandler, @unchecked Sendable {
    typealias InboundIn = FrontendMessage
    typealias OutboundIn = Never

    static let highWatermark = 64
    static let lowWatermark = 16

    let loop: any EventLoop
    private var queue = CircularBuffer<FrontendMessage>()
    private var waiter: CheckedContinuation<FrontendMessage?, any Error>?
    /// Set when the input has ended: nil error for a clean end.
    private var end: (any Error)??
    private var context: ChannelHandlerContext?
    private var readHeld = false

    init(loop: any EventLoop) { self.loop = loop }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message = unwrapInboundIn(data)
        if let waiter {
            self.waiter = nil
            waiter.resume(returning: message)
        } else {
            queue.append(message)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A broken message or TLS failure: the task sees the error after what came before it.
        finish(error)
    }

    func read(context: ChannelHandlerContext) {
        if queue.count >= Self.highWatermark {
            readHeld = true
        } else {
            context.read()
        }
    }

    private func finish(_ error: (any Error)?) {
        if end == nil { end = .some(error) }
        if let waiter {
            self.waiter = nil
            if let error { waiter.resume(throwing: error) } else { waiter.resume(returning: nil) }
        }
    }

    /// The next message; nil when the client has closed the connection.
    func next() async throws -> FrontendMessage? {
        try await withCheckedThrowingContinuation { c in
            if loop.inEventLoop {
                deliver(to: c)
            } else {
                loop.execute { self.deliver(to: c) }
            }
        }
    }

    private func deliver(to c: CheckedContinuation<FrontendMessage?, any Error>) {
        if !queue.isEmpty {
            let message = queue.removeFirst()
            if readHeld, queue.count <= Self.lowWatermark, let context {
                readHeld = false
                context.read()
            }
            c.resume(returning: message)
        } else if let end {
            if let error = end { c.resume(throwing: error) } else { c.resume(returning: nil) }
        } else {
            waiter = c
        }
    }
}
