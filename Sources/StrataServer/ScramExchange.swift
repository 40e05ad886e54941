import StrataSQL

/// The server's side of one SCRAM-SHA-256 login (RFC 5802, RFC 7677, as PostgreSQL
/// speaks it): reads the client's first message, answers with the salt, the iteration
/// count and a nonce, then checks the client's proof and proves itself in turn.
///
/// PostgreSQL takes the user name from the startup packet and ignores the one in the
/// SCRAM messages; so does this. Channel binding is not offered (no TLS yet), so a client
/// that asks for it (`p=`) is refused and one that could but did not (`y`) is accepted.
struct ScramExchange {
    /// Why a login failed: a broken message is a protocol violation, a wrong proof is not.
    enum Failure: Error, Equatable {
        case malformed(String)
        case wrongPassword
    }

    private let secret: ScramSecret
    private let serverNonce: String
    private var clientFirstBare = ""
    private var serverFirst = ""
    private var gs2Header = ""
    private var nonce = ""

    /// An exchange against `secret`; `serverNonce` must be fresh and unpredictable.
    init(secret: ScramSecret, serverNonce: String = ScramExchange.makeNonce()) {
        self.secret = secret
        self.serverNonce = serverNonce
    }

    /// 18 random bytes in base64, as PostgreSQL uses.
    static func makeNonce() -> String {
        var generator = SystemRandomNumberGenerator()
        return ScramSecret.base64((0..<18).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    /// Reads `client-first-message`; returns `server-first-message`.
    mutating func clientFirst(_ message: [UInt8]) throws(Failure) -> [UInt8] {
        guard let text = String(validating: message, as: UTF8.self) else { throw .malformed("invalid SCRAM message: not UTF-8") }
        // gs2-header: cbind-flag "," [authzid] ","
        let fields = text.split(separator: ",", maxSplits: 2, omittingEmptySubsequences: false)
        guard fields.count == 3 else { throw .malformed("malformed SCRAM message") }
        switch fields[0] {
        case "n", "y": break
        default:
            if fields[0].hasPrefix("p=") {
                throw .malformed("channel binding was not offered, but the client asked for it")
            }
            throw .malformed("malformed SCRAM message: unexpected channel-binding flag")
        }
        guard fields[1].isEmpty else { throw .malformed("client uses authorization identity, but it is not supported") }
        gs2Header = "\(fields[0]),,"
        clientFirstBare = String(fields[2])
        let attributes = clientFirstBare.split(separator: ",", omittingEmptySubsequences: false)
        guard attributes.count >= 2, attributes[0].hasPrefix("n="), attributes[1].hasPrefix("r=") else {
            throw .malformed("malformed SCRAM message: expected the user name and the nonce")
        }
        let clientNonce = attributes[1].dropFirst(2)
        guard !clientNonce.isEmpty, clientNonce.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E && $0 != UInt8(ascii: ",") }) else {
            throw .malformed("malformed SCRAM message: invalid nonce")
        }
        nonce = clientNonce + serverNonce
        serverFirst = "r=\(nonce),s=\(ScramSecret.base64(secret.salt)),i=\(secret.iterations)"
        return Array(serverFirst.utf8)
    }

    /// Reads `client-final-message`; returns `server-final-message` when the proof is right.
    mutating func clientFinal(_ message: [UInt8]) throws(Failure) -> [UInt8] {
        guard !serverFirst.isEmpty else { throw .malformed("SCRAM final message before the first") }
        guard let text = String(validating: message, as: UTF8.self), let proofStart = text.range(of: ",p=") else {
            throw .malformed("malformed SCRAM message: no proof")
        }
        let withoutProof = String(text[..<proofStart.lowerBound])
        let attributes = withoutProof.split(separator: ",", omittingEmptySubsequences: false)
        guard attributes.count >= 2, attributes[0].hasPrefix("c="), attributes[1].hasPrefix("r=") else {
            throw .malformed("malformed SCRAM message: expected channel binding and nonce")
        }
        guard let binding = ScramSecret.base64(attributes[0].dropFirst(2)), binding == Array(gs2Header.utf8) else {
            throw .malformed("SCRAM channel binding check failed")
        }
        guard attributes[1].dropFirst(2) == nonce else { throw .malformed("SCRAM nonce mismatch") }
        guard let proof = ScramSecret.base64(text[proofStart.upperBound...]) else {
            throw .malformed("malformed SCRAM message: invalid proof")
        }
        let authMessage = Array("\(clientFirstBare),\(serverFirst),\(withoutProof)".utf8)
        guard let signature = secret.verify(proof: proof, authMessage: authMessage) else { throw .wrongPassword }
        return Array("v=\(ScramSecret.base64(signature))".utf8)
    }
}
