import StrataSQL
import Testing

@testable import StrataServer

/// The server's SCRAM-SHA-256 exchange against RFC 7677's example, and against the
/// messages a broken or hostile client sends.
@Suite struct ScramExchangeTests {
    /// RFC 7677, section 3: user "user", password "pencil".
    static let salt = ScramSecret.base64("W22ZaJ0SNY7soEsUEjb6gQ==")!
    static let serverNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    static let clientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    static let clientFinal =
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="

    func exchange(password: String = "pencil") -> ScramExchange {
        ScramExchange(secret: ScramSecret(password: password, salt: Self.salt, iterations: 4096), serverNonce: Self.serverNonce)
    }

    @Test func theRFCExampleLogsIn() throws {
        var scram = exchange()
        let first = try scram.clientFirst(Array(Self.clientFirst.utf8))
        #expect(String(decoding: first, as: UTF8.self) == "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
        let final = try scram.clientFinal(Array(Self.clientFinal.utf8))
        #expect(String(decoding: final, as: UTF8.self) == "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
    }

    @Test func aWrongPasswordIsRefused() throws {
        var scram = exchange(password: "pencil2")
        _ = try scram.clientFirst(Array(Self.clientFirst.utf8))
        #expect(throws: ScramExchange.Failure.wrongPassword) { try scram.clientFinal(Array(Self.clientFinal.utf8)) }
    }

    @Test func brokenMessagesAreProtocolErrors() throws {
        for first in ["", "n", "n,,", "x,,n=user,r=abc", "p=tls-server-end-point,,n=user,r=abc", "n,a=admin,n=user,r=abc",
                      "n,,r=abc,n=user", "n,,n=user,r="] {
            var scram = exchange()
            #expect(throws: ScramExchange.Failure.self, "\(first)") { try scram.clientFirst(Array(first.utf8)) }
        }
        var invalidUTF8 = exchange()
        #expect(throws: ScramExchange.Failure.self) { try invalidUTF8.clientFirst([0x6E, 0x2C, 0x2C, 0xFF]) }
        var early = exchange()
        #expect(throws: ScramExchange.Failure.self) { try early.clientFinal(Array(Self.clientFinal.utf8)) }
        let finals = [
            "", "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",  // no proof
            Self.clientFinal.replacingOccurrences(of: "c=biws", with: "c=eSws"),  // binding flag changed
            Self.clientFinal.replacingOccurrences(of: "$k0,", with: "$k1,"),  // nonce changed
            Self.clientFinal.replacingOccurrences(of: "p=dHzb", with: "p=!Hzb"),  // not base64
        ]
        for final in finals {
            var scram = exchange()
            _ = try scram.clientFirst(Array(Self.clientFirst.utf8))
            #expect(throws: ScramExchange.Failure.self, "\(final)") { try scram.clientFinal(Array(final.utf8)) }
        }
        // A proof of the wrong length is a wrong password, not a crash.
        var short = exchange()
        _ = try short.clientFirst(Array(Self.clientFirst.utf8))
        #expect(throws: ScramExchange.Failure.wrongPassword) {
            try short.clientFinal(Array("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA".utf8))
        }
    }

    @Test func unknownRolesGetAStableMadeUpSalt() {
        let key = (0..<32).map { UInt8($0) }
        #expect(ScramSecret.mock(user: "ghost", key: key) == ScramSecret.mock(user: "ghost", key: key))
        #expect(ScramSecret.mock(user: "ghost", key: key).salt != ScramSecret.mock(user: "ghost2", key: key).salt)
    }
}
