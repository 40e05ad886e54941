import NIOCore

/// A message from a PostgreSQL client (protocol v3).
///
/// The first message of a connection (and the one after an answered SSLRequest) has
/// no type byte; every later one is a type byte and an Int32 length that counts itself.
enum FrontendMessage: Sendable, Equatable {
    /// Asks for TLS before the startup message.
    case sslRequest
    /// Asks for GSSAPI encryption before the startup message.
    case gssEncryptionRequest
    /// Asks the server to cancel the query running on another connection.
    case cancelRequest(processID: Int32, secretKey: Int32)
    /// Opens a session: protocol version and parameters such as `user` and `database`.
    case startup(version: Int32, parameters: [String: String])
    /// A typed message after startup: its type byte and body (without the length).
    case message(type: UInt8, body: ByteBuffer)
}

/// The ways a client's bytes can break the protocol.
struct ProtocolViolation: Error, Equatable {
    var message: String
    init(_ message: String) { self.message = message }
}

/// Splits the byte stream into ``FrontendMessage``s, refusing lengths that are
/// negative, too short or over `maxMessageBytes` before buffering them.
struct FrontendMessageDecoder: ByteToMessageDecoder {
    typealias InboundOut = FrontendMessage

    /// The largest message accepted, in bytes.
    let maxMessageBytes: Int
    private var awaitingStartup = true

    init(maxMessageBytes: Int) { self.maxMessageBytes = maxMessageBytes }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if awaitingStartup {
            guard let length = buffer.getInteger(at: buffer.readerIndex, as: Int32.self) else { return .needMoreData }
            guard length >= 8, length <= 10_000 else { throw ProtocolViolation("invalid length of startup packet") }
            guard var packet = buffer.readSlice(length: Int(length)) else { return .needMoreData }
            packet.moveReaderIndex(forwardBy: 4)
            let message = try Self.startupPacket(&packet)
            if case .startup = message { awaitingStartup = false }
            context.fireChannelRead(wrapInboundOut(message))
            return .continue
        }
        guard buffer.readableBytes >= 5,
            let type = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
            let length = buffer.getInteger(at: buffer.readerIndex + 1, as: Int32.self)
        else { return .needMoreData }
        guard length >= 4 else { throw ProtocolViolation("invalid message length \(length)") }
        guard Int(length) <= maxMessageBytes else {
            throw ProtocolViolation("message of \(length) bytes is over the limit of \(maxMessageBytes)")
        }
        guard buffer.readableBytes >= 1 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 5)
        let body = buffer.readSlice(length: Int(length) - 4)!
        context.fireChannelRead(wrapInboundOut(.message(type: type, body: body)))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // A message cut off by the end of the connection is dropped with it.
        while try decode(context: context, buffer: &buffer) == .continue {}
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .needMoreData
    }

    static func startupPacket(_ packet: inout ByteBuffer) throws -> FrontendMessage {
        guard let code = packet.readInteger(as: Int32.self) else { throw ProtocolViolation("startup packet without a version") }
        switch code {
        case 80_877_103: return .sslRequest
        case 80_877_104: return .gssEncryptionRequest
        case 80_877_102:
            guard let pid = packet.readInteger(as: Int32.self), let key = packet.readInteger(as: Int32.self) else {
                throw ProtocolViolation("malformed cancel request")
            }
            return .cancelRequest(processID: pid, secretKey: key)
        default:
            guard code >> 16 == 3 else {
                throw ProtocolViolation("unsupported frontend protocol \(code >> 16).\(code & 0xFFFF): server supports 3.0")
            }
            var parameters: [String: String] = [:]
            while true {
                guard let name = packet.readCString() else { throw ProtocolViolation("malformed startup packet") }
                if name.isEmpty { break }
                guard let value = packet.readCString() else { throw ProtocolViolation("malformed startup packet") }
                parameters[name] = value
            }
            return .startup(version: code, parameters: parameters)
        }
    }
}

extension ByteBuffer {
    /// Reads a NUL-terminated UTF-8 string; nil when there is no terminator.
    mutating func readCString() -> String? {
        guard let end = readableBytesView.firstIndex(of: 0) else { return nil }
        let s = readString(length: end - readerIndex)
        moveReaderIndex(forwardBy: 1)
        return s
    }

    /// Appends `s` and a NUL terminator.
    mutating func writeCString(_ s: String) {
        writeString(s)
        writeInteger(UInt8(0))
    }
}
