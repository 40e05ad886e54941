import Crypto
import FoundationEssentials
import _CryptoExtras

/// What a role's password is stored as: a SCRAM-SHA-256 secret (RFC 5802, 7677), the
/// salted keys from which a login can be checked but the password not recovered. The text
/// form is PostgreSQL's, `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, so
/// secrets move between PostgreSQL and Strata unchanged.
public struct ScramSecret: Sendable, Hashable {
    /// PBKDF2 rounds for new secrets: PostgreSQL's default `scram_iterations`.
    public static let defaultIterations = 4096
    /// PBKDF2 rounds the client repeats to prove it knows the password.
    public let iterations: Int
    /// The per-secret random salt.
    public let salt: [UInt8]
    /// SHA-256 of the client key: what the client's proof is checked against.
    public let storedKey: [UInt8]
    /// The key the server proves itself with.
    public let serverKey: [UInt8]

    /// Derives the secret of `password` with a new random salt.
    public init(password: String, salt: [UInt8]? = nil, iterations: Int = defaultIterations) {
        let salt = salt ?? (0..<16).map { _ in UInt8.random(in: 0...255) }
        let salted = Self.saltedPassword(password, salt, iterations)
        let clientKey = Self.hmac(salted, "Client Key")
        self.iterations = iterations
        self.salt = salt
        self.storedKey = Array(SHA256.hash(data: clientKey))
        self.serverKey = Self.hmac(salted, "Server Key")
    }

    /// Reads PostgreSQL's text form; nil when `text` is not one.
    public init?(parsing text: String) {
        let parts = text.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "SCRAM-SHA-256" else { return nil }
        let head = parts[1].split(separator: ":", omittingEmptySubsequences: false)
        let keys = parts[2].split(separator: ":", omittingEmptySubsequences: false)
        guard head.count == 2, keys.count == 2, let iterations = Int(head[0]), iterations > 0, iterations <= 100_000_000,
            let salt = Self.base64(head[1]), !salt.isEmpty,
            let stored = Self.base64(keys[0]), stored.count == 32, let server = Self.base64(keys[1]), server.count == 32
        else { return nil }
        self.iterations = iterations
        self.salt = salt
        self.storedKey = stored
        self.serverKey = server
    }

    /// A secret nobody knows the password of, the same for the same `user` and `key`: a
    /// login as a role that does not exist goes through the whole exchange with it, so a
    /// client cannot tell unknown roles from wrong passwords (PostgreSQL does the same).
    public static func mock(user: String, key: [UInt8]) -> ScramSecret {
        let digest = Array(HMAC<SHA256>.authenticationCode(for: Array(user.utf8), using: SymmetricKey(data: key)))
        return ScramSecret(iterations: defaultIterations, salt: Array(digest[0..<16]), storedKey: digest, serverKey: digest)
    }

    private init(iterations: Int, salt: [UInt8], storedKey: [UInt8], serverKey: [UInt8]) {
        self.iterations = iterations
        self.salt = salt
        self.storedKey = storedKey
        self.serverKey = serverKey
    }

    /// PostgreSQL's text form.
    public var text: String {
        "SCRAM-SHA-256$\(iterations):\(Self.base64(salt))$\(Self.base64(storedKey)):\(Self.base64(serverKey))"
    }

    /// Checks a client's proof over `authMessage`; returns the server's signature (which
    /// the client checks in turn) when the proof is right, nil when it is not.
    public func verify(proof: [UInt8], authMessage: [UInt8]) -> [UInt8]? {
        guard proof.count == storedKey.count else { return nil }
        let signature = Self.hmac(SymmetricKey(data: storedKey), authMessage)
        let clientKey = zip(proof, signature).map { $0 ^ $1 }
        let candidate = Array(SHA256.hash(data: clientKey))
        // Compared in constant time: the time taken says nothing about how much matched.
        var difference: UInt8 = 0
        for (a, b) in zip(candidate, storedKey) { difference |= a ^ b }
        guard difference == 0 else { return nil }
        return Self.hmac(SymmetricKey(data: serverKey), authMessage)
    }

    /// The client's side of ``verify(proof:authMessage:)``, for tests and tools: the proof a
    /// client that knows `password` sends.
    public static func clientProof(password: String, salt: [UInt8], iterations: Int, authMessage: [UInt8]) -> [UInt8] {
        let clientKey = hmac(saltedPassword(password, salt, iterations), "Client Key")
        let signature = hmac(SymmetricKey(data: Array(SHA256.hash(data: clientKey))), authMessage)
        return zip(clientKey, signature).map { $0 ^ $1 }
    }

    /// PBKDF2-HMAC-SHA-256 of the password: `_CryptoExtras` asks to be told explicitly that
    /// a round count below its own floor is meant (SCRAM fixes the count per secret). The
    /// password is used as UTF-8 bytes (PostgreSQL SASLprep-normalizes it first, which
    /// leaves ASCII unchanged).
    static func saltedPassword(_ password: String, _ salt: [UInt8], _ iterations: Int) -> SymmetricKey {
        // Cannot fail for SHA-256 with a 32-byte output and a positive count.
        (try? KDF.Insecure.PBKDF2.deriveKey(
            from: Array(password.utf8), salt: salt, using: .sha256, outputByteCount: 32, unsafeUncheckedRounds: iterations))
            ?? SymmetricKey(data: [UInt8](repeating: 0, count: 32))
    }

    static func hmac(_ key: SymmetricKey, _ text: String) -> [UInt8] { hmac(key, Array(text.utf8)) }

    static func hmac(_ key: SymmetricKey, _ data: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: data, using: key))
    }

    /// Standard base64 with padding, as SCRAM and PostgreSQL write it.
    public static func base64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }

    /// Decodes standard base64; nil when `text` is not valid.
    public static func base64<S: StringProtocol>(_ text: S) -> [UInt8]? {
        Data(base64Encoded: String(text)).map { Array($0) }
    }
}
