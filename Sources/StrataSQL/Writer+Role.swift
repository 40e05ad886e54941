import FoundationEssentials

/// Role statements: who may log in to `strata serve`. Roles live in the catalog like
/// tables, so they are versioned and replicated with the database.
extension Writer {
    func runRoleStatement(_ statement: Statement) async throws -> StatementResult {
        switch statement {
        case .createRole(let name, let options):
            if catalog.roles[name] != nil { throw SQLError(SQLError.duplicateObject, "role \"\(name)\" already exists") }
            if name.hasPrefix("pg_") {
                throw SQLError(SQLError.reservedName, "role name \"\(name)\" is reserved")
            }
            var role = RoleInfo(name: name, login: false, superuser: false, secret: nil)
            try apply(options, to: &role)
            try await save(role)
            return StatementResult(tag: "CREATE ROLE")
        case .alterRole(let name, let options):
            guard var role = catalog.roles[name] else { throw SQLError(SQLError.undefinedObject, "role \"\(name)\" does not exist") }
            try apply(options, to: &role)
            try await save(role)
            return StatementResult(tag: "ALTER ROLE")
        case .renameRole(let name, let newName):
            guard var role = catalog.roles[name] else { throw SQLError(SQLError.undefinedObject, "role \"\(name)\" does not exist") }
            if name == session.user { throw SQLError(SQLError.featureNotSupported, "session user cannot be renamed") }
            if catalog.roles[newName] != nil { throw SQLError(SQLError.duplicateObject, "role \"\(newName)\" already exists") }
            if newName.hasPrefix("pg_") { throw SQLError(SQLError.reservedName, "role name \"\(newName)\" is reserved") }
            tx.delete(KeyLayout.roleKey(name))
            role.name = newName
            try await save(role)
            return StatementResult(tag: "ALTER ROLE")
        case .dropRole(let names, let ifExists):
            for name in names {
                guard catalog.roles[name] != nil else {
                    if ifExists { continue }
                    throw SQLError(SQLError.undefinedObject, "role \"\(name)\" does not exist")
                }
                if name == session.user { throw SQLError(SQLError.objectInUse, "current user cannot be dropped") }
                _ = try await bumpCatalog()
                tx.delete(KeyLayout.roleKey(name))
                try await reloadCatalog()
            }
            return StatementResult(tag: "DROP ROLE")
        default:
            throw SQLError(SQLError.internalError, "not a role statement")
        }
    }

    private func save(_ role: RoleInfo) async throws {
        _ = try await bumpCatalog()
        tx.put(KeyLayout.roleKey(role.name), Catalog.encode(role))
        try await reloadCatalog()
    }

    /// Applies CREATE/ALTER ROLE options. A password is stored only as its SCRAM secret; a
    /// string that already is one (as pg_dumpall writes) is stored as given.
    private func apply(_ options: RoleOptions, to role: inout RoleInfo) throws {
        if let login = options.login { role.login = login }
        if let superuser = options.superuser { role.superuser = superuser }
        if let limit = options.connectionLimit {
            guard limit >= -1 else { throw SQLError(SQLError.invalidParameterValue, "invalid connection limit: \(limit)") }
            role.connectionLimit = limit
        }
        guard let password = options.password else { return }
        guard let text = password, !text.isEmpty else {
            // PASSWORD NULL, and (as in PostgreSQL) an empty password, clear it: nobody logs in with one.
            role.secret = nil
            return
        }
        if let secret = ScramSecret(parsing: text) {
            role.secret = secret.text
        } else if text.hasPrefix("md5") && text.count == 35 && text.dropFirst(3).allSatisfy(\.isHexDigit) {
            throw SQLError(SQLError.featureNotSupported, "MD5 password secrets are not supported; give the password or a SCRAM-SHA-256 secret")
        } else {
            role.secret = ScramSecret(password: text).text
        }
    }
}
