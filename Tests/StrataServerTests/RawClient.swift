import Foundation

/// A blocking PostgreSQL protocol client on a plain socket, for tests that need to
/// hold connections open, send broken bytes, or see exactly which messages arrive.
final class RawClient: Sendable {
    let fd: Int32

    /// Connects to 127.0.0.1:`port`; reads time out after `timeout` seconds.
    init(port: Int, timeout: Int = 10) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard ok == 0 else {
            close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// Half-closes the connection: the server sees the end of the input.
    func finishSending() { shutdown(fd, Int32(SHUT_WR)) }

    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Foundation.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    private func read(_ n: Int) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: n)
        var got = 0
        while got < n {
            let r = out.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, n - got, 0) }
            if r <= 0 { return nil }
            got += r
        }
        return out
    }

    /// The next backend message, or nil when the connection closed (or timed out).
    func next() -> (type: Character, body: [UInt8])? {
        guard let header = read(5) else { return nil }
        let length = Int(header[1]) << 24 | Int(header[2]) << 16 | Int(header[3]) << 8 | Int(header[4])
        guard length >= 4, let body = length == 4 ? [] : read(length - 4) else { return nil }
        return (Character(UnicodeScalar(header[0])), body)
    }

    /// Messages up to and including ReadyForQuery, or up to the connection's end.
    func untilReady() -> [(type: Character, body: [UInt8])] {
        var messages: [(type: Character, body: [UInt8])] = []
        while let m = next() {
            messages.append(m)
            if m.type == "Z" { break }
        }
        return messages
    }

    /// Sends a StartupMessage and returns the messages up to ReadyForQuery.
    func startup(user: String = "tester", database: String = "strata") -> [(type: Character, body: [UInt8])] {
        send(Self.startupPacket(user: user, database: database))
        return untilReady()
    }

    /// Runs a simple query; returns the messages up to ReadyForQuery.
    func query(_ sql: String) -> [(type: Character, body: [UInt8])] {
        send(Self.message("Q", Array(sql.utf8) + [0]))
        return untilReady()
    }

    static func message(_ type: Character, _ body: [UInt8]) -> [UInt8] {
        let n = UInt32(body.count + 4)
        return [type.asciiValue!, UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] + body
    }

    static func startupPacket(user: String = "tester", database: String = "strata") -> [UInt8] {
        var body: [UInt8] = [0, 3, 0, 0]
        for s in ["user", user, "database", database, ""] { body += Array(s.utf8) + [0] }
        let n = UInt32(body.count + 4)
        return [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] + body
    }

    /// The SQLSTATE of an ErrorResponse or NoticeResponse body.
    static func sqlState(_ body: [UInt8]) -> String? { field("C", body) }

    /// One field of an ErrorResponse or NoticeResponse body.
    static func field(_ code: Character, _ body: [UInt8]) -> String? {
        var i = 0
        while i < body.count, body[i] != 0 {
            let type = body[i]
            guard let end = body[(i + 1)...].firstIndex(of: 0) else { return nil }
            if type == code.asciiValue { return String(decoding: body[(i + 1)..<end], as: UTF8.self) }
            i = end + 1
        }
        return nil
    }

    /// The text of the first column of each DataRow.
    static func firstColumns(_ messages: [(type: Character, body: [UInt8])]) -> [String] {
        messages.filter { $0.type == "D" }.map { m in
            let length = Int(m.body[2]) << 24 | Int(m.body[3]) << 16 | Int(m.body[4]) << 8 | Int(m.body[5])
            return String(decoding: m.body[6..<(6 + length)], as: UTF8.self)
        }
    }
}
