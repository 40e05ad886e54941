/// A role as a login needs it: whether it may log in, and the secret to check a password against.
public struct LoginRole: Sendable, Hashable {
    /// The role's name.
    public let name: String
    /// LOGIN: the role may open sessions.
    public let canLogin: Bool
    /// SUPERUSER.
    public let isSuperuser: Bool
    /// The password secret; nil when the role has no password.
    public let secret: ScramSecret?
    /// Sessions the role may have open at once; nil for no limit.
    public let connectionLimit: Int?

    init(_ role: RoleInfo) {
        name = role.name
        canLogin = role.login
        isSuperuser = role.superuser
        secret = role.secret.flatMap(ScramSecret.init(parsing:))
        connectionLimit = role.connectionLimit < 0 ? nil : role.connectionLimit
    }
}

extension Session {
    /// The roles of the newest committed state (after catching up with other processes),
    /// by name: what a login is checked against.
    public func currentRoles() async throws -> [String: LoginRole] {
        _ = try? await engine.refresh()
        let catalog = try await catalog(.snapshot(engine.snapshot()))
        return catalog.roles.mapValues(LoginRole.init)
    }
}
