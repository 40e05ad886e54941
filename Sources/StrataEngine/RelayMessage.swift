import NIOCore

/// The messages of the commit relay (see ``CommitRelay``), each sent as one frame: a
/// 4-byte big-endian length, then the message.
///
/// A client first sends `hello` with the secret it read from the relay's endpoint
/// object (so only processes that can read the store can commit through it), then
/// `commit`s; the relay answers each commit, in any order, by its number.
enum RelayMessage: Equatable, Sendable {
    /// The first message of a connection.
    case hello(secret: [UInt8], branch: String, writer: String)
    /// The relay's answer to `hello`: go ahead, or why not.
    case welcome
    case refused(String)
    /// A transaction to commit. `deadline` is the last log position the relay may commit
    /// it at, so that a client that loses the connection can learn the outcome from the
    /// log; `knownHead` is the newest entry the client has, so that the answer can carry
    /// the entries it lacks.
    case commit(number: UInt64, deadline: UInt64, knownHead: UInt64, priority: Int, payload: CommitRequest.Payload)
    /// Committed at `seq`; `entries` are the log entries from after the client's known
    /// head through `seq` (or fewer, ending at `seq`), as stored.
    case committed(number: UInt64, seq: UInt64, entries: [[UInt8]])
    /// Not committed, with the error the transaction gets.
    case failed(number: UInt64, sqlState: String, name: String, message: String)
    /// Not committed and never will be by this relay: commit it yourself.
    case declined(number: UInt64)

    /// The largest frame either side accepts: relayed transactions are under 4 MiB, and an
    /// answer carries at most 64 entries of at most 64 KiB inline writes each (with the
    /// default inline limit); anything larger closes the connection.
    static let maxFrameBytes = 16 << 20

    static func == (a: RelayMessage, b: RelayMessage) -> Bool { a.encoded() == b.encoded() }

    func encoded() -> [UInt8] {
        var w = ByteWriter()
        switch self {
        case .hello(let secret, let branch, let writer):
            w.u8(1)
            w.lengthPrefixed(secret)
            w.lengthPrefixed(Array(branch.utf8))
            w.lengthPrefixed(Array(writer.utf8))
        case .welcome:
            w.u8(2)
        case .refused(let why):
            w.u8(3)
            w.lengthPrefixed(Array(why.utf8))
        case .commit(let number, let deadline, let knownHead, let priority, let payload):
            w.u8(4)
            w.u64(number)
            w.u64(deadline)
            w.u64(knownHead)
            w.u64(UInt64(bitPattern: Int64(priority)))
            guard case .data(let writes, let snapshot, let readKeys, let readRanges, let lockedReads) = payload else {
                preconditionFailure("only data commits are relayed")
            }
            w.u64(snapshot)
            w.lengthPrefixed(writes.encoded())
            w.varint(readKeys.count)
            for k in readKeys { w.lengthPrefixed(k) }
            w.varint(readRanges.count)
            for r in readRanges {
                w.lengthPrefixed(r.lower)
                if let upper = r.upper {
                    w.u8(1)
                    w.lengthPrefixed(upper)
                } else {
                    w.u8(0)
                }
            }
            w.varint(lockedReads.count)
            for (k, seq) in lockedReads {
                w.lengthPrefixed(k)
                w.u64(seq)
            }
        case .committed(let number, let seq, let entries):
            w.u8(5)
            w.u64(number)
            w.u64(seq)
            w.varint(entries.count)
            for e in entries { w.lengthPrefixed(e) }
        case .failed(let number, let sqlState, let name, let message):
            w.u8(6)
            w.u64(number)
            w.lengthPrefixed(Array(sqlState.utf8))
            w.lengthPrefixed(Array(name.utf8))
            w.lengthPrefixed(Array(message.utf8))
        case .declined(let number):
            w.u8(7)
            w.u64(number)
        }
        return w.bytes
    }

    static func decode(_ bytes: [UInt8]) throws -> RelayMessage {
        var r = ByteReader(bytes)
        func text() throws -> String { String(decoding: try r.lengthPrefixed(), as: UTF8.self) }
        let message: RelayMessage
        switch try r.u8() {
        case 1:
            message = .hello(secret: try r.lengthPrefixed(), branch: try text(), writer: try text())
        case 2:
            message = .welcome
        case 3:
            message = .refused(try text())
        case 4:
            let number = try r.u64()
            let deadline = try r.u64()
            let knownHead = try r.u64()
            let priority = Int(Int64(bitPattern: try r.u64()))
            let snapshot = try r.u64()
            let writes = try MutationBatch.decode(try r.lengthPrefixed())
            var readKeys: [[UInt8]] = []
            for _ in 0..<(try r.length(limit: r.remaining)) { readKeys.append(try r.lengthPrefixed()) }
            var readRanges: [KeyRange] = []
            for _ in 0..<(try r.length(limit: r.remaining)) {
                let lower = try r.lengthPrefixed()
                readRanges.append(KeyRange(lower: lower, upper: try r.u8() == 0 ? nil : try r.lengthPrefixed()))
            }
            var lockedReads: [([UInt8], UInt64)] = []
            for _ in 0..<(try r.length(limit: r.remaining)) { lockedReads.append((try r.lengthPrefixed(), try r.u64())) }
            message = .commit(
                number: number, deadline: deadline, knownHead: knownHead, priority: priority,
                payload: .data(writes: writes, snapshot: snapshot, readKeys: readKeys, readRanges: readRanges, lockedReads: lockedReads))
        case 5:
            let number = try r.u64()
            let seq = try r.u64()
            var entries: [[UInt8]] = []
            for _ in 0..<(try r.length(limit: r.remaining)) { entries.append(try r.lengthPrefixed()) }
            message = .committed(number: number, seq: seq, entries: entries)
        case 6:
            message = .failed(number: try r.u64(), sqlState: try text(), name: try text(), message: try text())
        case 7:
            message = .declined(number: try r.u64())
        default:
            throw corrupt("unknown relay message")
        }
        guard r.isAtEnd else { throw corrupt("trailing bytes in relay message") }
        return message
    }

    /// The message as a frame.
    func frame(_ allocator: ByteBufferAllocator) -> ByteBuffer {
        let body = encoded()
        var buffer = allocator.buffer(capacity: body.count + 4)
        buffer.writeInteger(UInt32(body.count))
        buffer.writeBytes(body)
        return buffer
    }
}

/// Splits a relay connection's bytes into messages.
struct RelayFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = RelayMessage

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
        guard length <= RelayMessage.maxFrameBytes else { throw corrupt("relay frame of \(length) bytes") }
        guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        let body = buffer.readBytes(length: Int(length))!
        context.fireChannelRead(wrapInboundOut(try RelayMessage.decode(body)))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .needMoreData
    }
}
